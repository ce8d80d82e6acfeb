// FastGRNN against PyTorch (FastGRNNGoldenData.swift, from
// scripts/golden/make_fastgrnn_golden.py: EdgeML's cell written out in
// torch): same parameters and inputs by formula (GoldenTests'), then logits,
// loss, every gradient (STR's thresholds, zeta and nu included) and the
// losses of 10 SGD steps must agree — full rank and low rank, STR and dense.
// Tolerances: 1e-4 relative on logits and loss, 1e-3 of each gradient's
// norm, 1e-3 relative on the step losses (fp32 on both sides; the sums run
// in another order).
import XCTest
import Foundation
@testable import STRDist

final class FastGRNNGoldenTests: XCTestCase {
    static let batch = 4, steps = 6, width = 5, hidden = 8, classes = 4
    static let labels: [Int32] = [3, 1, 2, 0]
    static let matrices: Set<String> = ["rnn.W", "rnn.W1", "rnn.W2", "rnn.U", "rnn.U1", "rnn.U2", "classifier.weight"]

    func makeModel(_ kind: SparseKind, wRank: Int? = nil, uRank: Int? = nil) throws -> Model {
        var o = ModelOptions()
        o.arch = "FastGRNN"; o.numClasses = Self.classes; o.inputChannels = 1; o.inputWidth = Self.width
        o.hiddenSize = Self.hidden; o.wRank = wRank; o.uRank = uRank; o.convKind = kind
        let model = try Model(o, threads: 2)
        let net = model.network
        net.plan(ActShape(channels: 1, batch: Self.batch, height: Self.steps, width: Self.width))
        net.initialize(seed: 0)
        for e in model.layout.parameters.entries {
            let v: [Float]
            if e.key.hasSuffix("sparseThreshold") {
                v = [Float(-2.0 + 0.5 * sin(0.173 * Double(GoldenTests.keyHash(e.key))))]
            } else if Self.matrices.contains(e.key) {
                v = GoldenTests.formula(e.key, e.count, amp: 0.3)
            } else if e.key.hasSuffix("zeta") {
                v = GoldenTests.formula(e.key, e.count, amp: 0.5, offset: 1)
            } else if e.key.hasSuffix(".nu") {
                v = GoldenTests.formula(e.key, e.count, amp: 0.5, offset: -3)
            } else {
                v = GoldenTests.formula(e.key, e.count, amp: 0.2, offset: 0.5)
            }
            for i in 0..<e.count { net.store.values[e.offset + i] = v[i] }
        }
        let shape = net.inputRef.shape
        let nchw = (0..<shape.count).map { Float(1.5 * sin(0.05 * Double($0) + 0.2)) }
        nchw.withUnsafeBufferPointer { Layout.nchwToCNHW($0.baseAddress!, net.input, shape) }
        for (i, l) in Self.labels.enumerated() { net.labels[i] = l }
        return model
    }

    func check(_ kind: SparseKind, _ golden: GoldenCase, wRank: Int? = nil, uRank: Int? = nil,
               file: StaticString = #filePath, line: UInt = #line) throws {
        let model = try makeModel(kind, wRank: wRank, uRank: uRank)
        let net = model.network
        GoldenTests.assertForward(net, golden, "\(kind)", file: file, line: line)
        net.backward()
        GoldenTests.assertGradients(model, golden, "\(kind)", file: file, line: line)
        // Ten SGD steps on a fresh model.
        let losses = GoldenTests.sgdLosses(try makeModel(kind, wRank: wRank, uRank: uRank), lr: 0.05)
        assertClose(losses, golden.stepLosses.map(Float.init), rtol: 1e-3, atol: 0, "\(kind) 10-step losses", file: file, line: line)
    }

    func testSTRFastGRNNMatchesPyTorch() throws { try check(.str, FastGRNNGoldenData.str) }
    func testLowRankSTRFastGRNNMatchesPyTorch() throws { try check(.str, FastGRNNGoldenData.strLowRank, wRank: 3, uRank: 4) }
    func testDenseFastGRNNMatchesPyTorch() throws { try check(.dense, FastGRNNGoldenData.dense) }
}
