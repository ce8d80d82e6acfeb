// Our tiny ResNet against PyTorch (GoldenData.swift, from scripts/golden/make_golden.py):
// same parameters and inputs by formula, then logits, loss, every gradient
// (sparseThreshold included) and the losses of 10 SGD steps must agree.
// The first step is checked under every conv algorithm (`auto` runs some of
// this model's 3×3 convs on Winograd, `winograd` all of them, `sparse` every
// conv on the sparse kernels); the 10-step trajectory with im2col, whose
// sums are the reference's: STR's threshold gates amplify Winograd's
// different last-bit rounding (2e-5 relative at step 4, 1.5e-3 at step 10).
import XCTest
import Foundation
@testable import STRDist

final class GoldenTests: XCTestCase {
    static let batch = 4, size = 16, classes = 10
    static let labels: [Int32] = [3, 1, 7, 0]

    static func keyHash(_ key: String) -> Int {
        var h = 0
        for (i, c) in key.unicodeScalars.enumerated() { h += (i + 1) * Int(c.value) }
        return h % 997
    }

    static func formula(_ key: String, _ count: Int, amp: Double, offset: Double = 0) -> [Float] {
        let h = Double(keyHash(key))
        return (0..<count).map { Float(offset + amp * sin(0.731 * Double($0) + 0.173 * h + 0.3)) }
    }

    func makeModel(_ kind: SparseKind, _ algorithm: ConvAlgorithm, precision: Precision = .fp32, batch: Int = batch,
                   width: Double = 1.0 / 16, labels: [Int32] = labels) throws -> Model {
        var o = ModelOptions()
        o.convAlgorithm = algorithm
        o.precision = precision
        o.arch = "ResNet18"; o.numClasses = Self.classes; o.widthMultiplier = width; o.smallInputStem = true
        o.convKind = kind
        o.pruneRate = 0.5
        let model = try Model(o, threads: 2)
        if kind == .gmp { model.pruning.setCurrent(0.3) }
        let net = model.network
        net.plan(ActShape(channels: 3, batch: batch, height: Self.size, width: Self.size))
        net.initialize(seed: 0)
        for e in model.layout.parameters.entries {
            let v: [Float]
            if e.key.hasSuffix("sparseThreshold") {
                v = [Float(-2.0 + 0.5 * sin(0.173 * Double(Self.keyHash(e.key))))]
            } else if e.shape.count == 4 {
                v = Self.formula(e.key, e.count, amp: 1.5 * (2.0 / Double(e.shape[1] * e.shape[2] * e.shape[3])).squareRoot())
            } else if e.key.hasSuffix("weight") {
                v = Self.formula(e.key, e.count, amp: 0.2, offset: 1)
            } else {
                v = Self.formula(e.key, e.count, amp: 0.1)
            }
            for i in 0..<e.count { net.store.values[e.offset + i] = v[i] }
        }
        let shape = net.inputRef.shape
        let nchw = (0..<shape.count).map { Float(1.5 * sin(0.05 * Double($0) + 0.2)) }
        nchw.withUnsafeBufferPointer { Layout.nchwToCNHW($0.baseAddress!, net.input, shape) }
        for (i, l) in labels.enumerated() { net.labels[i] = l }
        return model
    }

    /// - Parameter trajectorySteps: how many of the 10 SGD-step losses must match.
    func check(_ kind: SparseKind, _ golden: GoldenCase, trajectorySteps: Int = 10, file: StaticString = #filePath, line: UInt = #line) throws {
        for algorithm in ConvAlgorithm.allCases {
            try checkFirstStep(kind, golden, algorithm, file: file, line: line)
        }
        // Ten SGD steps on a fresh model.
        let losses = Self.sgdLosses(try makeModel(kind, .im2col), lr: 0.01)
        assertClose(Array(losses.prefix(trajectorySteps)), golden.stepLosses.prefix(trajectorySteps).map(Float.init), rtol: 1e-3, atol: 0, "\(kind) 10-step losses",
                    file: file, line: line)
    }

    /// Logits, loss and every gradient of one step.
    func checkFirstStep(_ kind: SparseKind, _ golden: GoldenCase, _ algorithm: ConvAlgorithm,
                        file: StaticString, line: UInt) throws {
        let model = try makeModel(kind, algorithm)
        XCTAssertEqual(model.convs.contains { $0.geometry.winograd }, algorithm == .auto || algorithm == .winograd, "\(algorithm)",
                       file: file, line: line)
        let net = model.network
        Self.assertForward(net, golden, "\(kind) \(algorithm)", file: file, line: line)
        net.backward()
        Self.assertGradients(model, golden, "\(kind) \(algorithm)", file: file, line: line) { key, tol in
            key.hasSuffix("sparseThreshold") ? max(tol, 1e-6 * self.thresholdGradientMass(model, key)) : tol
        }
    }

    /// A training forward's logits and loss (label smoothing 0.1) against the golden ones, within 1e-4.
    static func assertForward(_ net: Network, _ golden: GoldenCase, _ what: String, file: StaticString, line: UInt) {
        net.forward(training: true)
        let loss = net.loss(smoothing: 0.1)
        // Ours are class-major [K, N]; the golden logits are [N, K].
        var logits = [Float]()
        for n in 0..<net.batch { for k in 0..<net.classes { logits.append(net.logits[k * net.batch + n]) } }
        let scale = golden.logits.map(abs).max()!
        assertClose(logits, golden.logits.map(Float.init), rtol: 1e-4, atol: Float(1e-4 * scale), "\(what) logits",
                    file: file, line: line)
        assertClose(loss, Float(golden.loss), rtol: 1e-4, atol: 0, "\(what) loss", file: file, line: line)
    }

    /// Every parameter's gradient (after backward) against the golden summary — norm, sum, sampled
    /// entries — within 1e-3 of the golden norm, or what `tolerance(key, that)` makes of it.
    static func assertGradients(_ model: Model, _ golden: GoldenCase, _ what: String, file: StaticString, line: UInt,
                                tolerance: (String, Double) -> Double = { $1 }) {
        let store = model.network.store
        XCTAssertEqual(Set(golden.grads.keys), Set(model.layout.parameters.entries.map(\.key)), file: file, line: line)
        for e in model.layout.parameters.entries {
            guard let g = golden.grads[e.key] else { continue }
            let ours = (0..<e.count).map { Double(store.grads[e.offset + $0]) }
            let norm = ours.reduce(0) { $0 + $1 * $1 }.squareRoot(), sum = ours.reduce(0, +)
            let tol = tolerance(e.key, 1e-3 * max(g.norm, 1e-7))
            XCTAssertEqual(norm, g.norm, accuracy: tol, "\(what) \(e.key) norm", file: file, line: line)
            XCTAssertEqual(sum, g.sum, accuracy: tol * Double(e.count).squareRoot(), "\(what) \(e.key) sum", file: file, line: line)
            for (i, v) in g.samples {
                XCTAssertEqual(ours[i], v, accuracy: tol, "\(what) \(e.key)[\(i)]", file: file, line: line)
            }
        }
    }

    /// The losses of `steps` SGD steps (momentum 0.9, weight decay 5e-4, label smoothing 0.1) on `model`.
    static func sgdLosses(_ model: Model, lr: Float, steps: Int = 10) -> [Float] {
        var s = SGDSettings()
        s.momentum = 0.9; s.weightDecay = 5e-4
        let sgd = SGD(s, table: model.layout.parameters), net = model.network
        var losses: [Float] = []
        for _ in 0..<steps {
            net.forward(training: true)
            losses.append(net.loss(smoothing: 0.1))
            net.backward()
            sgd.step(values: net.store.values, grads: net.store.grads, lr: lr, pool: net.pool)
        }
        return losses
    }

    /// Σ|terms| of ∂L/∂s = −σ'(s)·Σ_{|w|>σ(s)} sign(w)·∂L/∂w'. The sum can cancel by four orders of
    /// magnitude (layer3.1.conv2: mass 20.6, value 1.2e-3), so float32 rounding of the conv gradients
    /// (≈1e-7 of the mass; im2col alone is 3e-4 of the value off PyTorch) is bounded by the mass, not the value.
    func thresholdGradientMass(_ model: Model, _ key: String) -> Double {
        let table = model.layout.parameters.entries, store = model.network.store
        let weightKey = String(key.dropLast("sparseThreshold".count)) + "weight"
        guard let s = table.first(where: { $0.key == key }), let w = table.first(where: { $0.key == weightKey })
        else { return 0 }
        let sigma = 1 / (1 + exp(-Double(store.values[s.offset])))
        var mass = 0.0
        for i in 0..<w.count where Double(abs(store.values[w.offset + i])) > sigma {
            mass += abs(Double(store.grads[w.offset + i]))
        }
        return sigma * (1 - sigma) * mass
    }

    func testSTRMatchesPyTorch() throws { try check(.str, GoldenData.str) }
    func testDNWMatchesPyTorch() throws { try check(.dnw, GoldenData.dnw) }
    /// GMP's run is ill-conditioned after its fourth step: a block of identical activations lands
    /// on a ReLU's kink in layer3.1.bn1, so whether it passes depends on float rounding. With
    /// OpenBLAS's Haswell kernels all 10 losses match PyTorch to ~1e-6; with its AVX-512 kernels
    /// the gate flips at step 4 and the losses part by 1% (every gradient up to then agreeing).
    func testGMPMatchesPyTorch() throws { try check(.gmp, GoldenData.gmp, trajectorySteps: 4) }
}
