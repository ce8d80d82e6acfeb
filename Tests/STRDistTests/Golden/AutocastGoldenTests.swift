// precision: bf16 against PyTorch's CPU autocast (AutocastGoldenData.swift, from
// scripts/golden/make_autocast_golden.py): the STR ResNet18 of the fp32 goldens at width 1/4 and batch
// 16, every conv on bf16 products (im2col; the classifier is a 1×1 conv).
//
// Tolerances, and why. Autocast also rounds every activation to bf16 between ops (its convs write
// bf16, BatchNorm and ReLU run on bf16); strdist keeps activations in fp32 and rounds only the conv
// operands. So the two differ by bf16 ulps (2⁻⁸ relative) per layer, and by far more in sums that
// cancel: STR's threshold gradient σ'(s)·Σ sign(w)·∂L/∂ŵ and BatchNorm's γ and β gradients, where
// autocast's own values leave fp32's by up to 70%.
// - logits: 3% of their scale; the loss: 0.3%; the first three SGD-step losses: 1%.
// - STR thresholds: within 5% of the gradient's mass, σ'(s)·Σ_kept |∂L/∂ŵ| (the fp32 goldens' rule, at bf16's scale).
// - conv weight gradients: norm and sampled entries no further from autocast's than fp32's are, plus 5%
//   of autocast's norm — bf16's own spread, measured by autocast against fp32 (norms up to 11% apart).
// - BatchNorm γ, β: cancelling sums over every position, whose bf16 noise this data does not bound
//   (ours seen 26% off fp32, autocast's 10%): within 50% of autocast's norm, a sanity check only.
// That strdist's bf16 is not fp32 in disguise is ConvBF16Tests' and MixedPrecisionTests' to show.
import XCTest
@testable import STRDist

extension GoldenTests {
    func testSTRInBF16MatchesAutocast() throws {
        let saved = ConvPlanner.bf16Minimum
        ConvPlanner.bf16Minimum = (0, 0)
        defer { ConvPlanner.bf16Minimum = saved }
        let golden = AutocastGoldenData.bf16, fp32 = AutocastGoldenData.fp32
        let batch = 16, labels = (0..<16).map { Int32((3 * $0 + 1) % 10) }
        func model() throws -> Model {
            try makeModel(.str, .im2col, precision: .bf16, batch: batch, width: 0.25, labels: labels)
        }
        let m = try model()
        XCTAssert(m.convs.allSatisfy { $0.geometry.bf16 }, "every conv on bf16 products")
        let net = m.network
        net.forward(training: true)
        let loss = net.loss(smoothing: 0.1)
        var logits = [Float]()
        for n in 0..<batch { for k in 0..<Self.classes { logits.append(net.logits[k * batch + n]) } }
        let scale = golden.logits.map(abs).max()!
        let logitError = zip(logits, golden.logits).map { abs(Double($0) - $1) }.max()!
        XCTAssertLessThan(logitError, 0.03 * scale, "logits")
        XCTAssertEqual(Double(loss), golden.loss, accuracy: 0.003 * golden.loss, "loss")
        net.backward()
        for e in m.layout.parameters.entries {
            guard let g = golden.grads[e.key], let f = fp32.grads[e.key] else { XCTFail("no golden gradient for \(e.key)"); continue }
            let ours = (0..<e.count).map { Double(net.store.grads[e.offset + $0]) }
            let norm = ours.reduce(0) { $0 + $1 * $1 }.squareRoot(), sum = ours.reduce(0, +)
            if e.key.hasSuffix("sparseThreshold") {
                let tol = 0.05 * thresholdGradientMass(m, e.key)
                XCTAssertEqual(sum, g.sum, accuracy: tol, "\(e.key): autocast \(g.sum), fp32 \(f.sum)")
            } else if e.shape.count == 1 {
                // BatchNorm's γ and β: cancelling sums over every position (Σ ∂Y, Σ ∂Y·x̂); bf16's noise in
                // them is not bounded by this data (ours seen up to 26% off fp32, autocast's 10%). Sanity only.
                XCTAssertEqual(norm, g.norm, accuracy: 0.5 * g.norm, "\(e.key) norm: autocast \(g.norm), fp32 \(f.norm)")
            } else {
                // No further from autocast than fp32 is, plus 5% of the norm.
                let tol = 0.05 * g.norm
                XCTAssertLessThanOrEqual(abs(norm - g.norm), abs(f.norm - g.norm) + tol,
                                         "\(e.key) norm \(norm): autocast \(g.norm), fp32 \(f.norm)")
                for ((i, v), (_, fv)) in zip(g.samples, f.samples) {
                    XCTAssertLessThanOrEqual(abs(ours[i] - v), abs(fv - v) + tol, "\(e.key)[\(i)] \(ours[i]): autocast \(v), fp32 \(fv)")
                }
            }
        }
        // Three SGD steps on a fresh model.
        let fresh = try model()
        var s = SGDSettings()
        s.momentum = 0.9; s.weightDecay = 5e-4
        let sgd = SGD(s, table: fresh.layout.parameters)
        for step in 0..<3 {
            fresh.network.forward(training: true)
            let l = Double(fresh.network.loss(smoothing: 0.1))
            XCTAssertEqual(l, golden.stepLosses[step], accuracy: 0.01 * golden.stepLosses[step], "step \(step + 1) loss")
            fresh.network.backward()
            sgd.step(values: fresh.network.store.values, grads: fresh.network.store.grads, lr: 0.01, pool: fresh.network.pool)
        }
    }
}
