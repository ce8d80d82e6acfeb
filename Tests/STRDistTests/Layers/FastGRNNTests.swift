// The FastGRNN cell and the Linear layer: backward (through time) against
// finite differences, full rank and low rank, with the input's gradient;
// what the sparse kinds see of the cell's matrices; and a training step of a
// sparse FastGRNN that touches no heap.
import XCTest
@testable import STRDist

final class FastGRNNTests: XCTestCase {
    /// Hidden 12: one 8-lane block and a scalar tail in the gates' kernels.
    func cell(wRank: Int? = nil, uRank: Int? = nil) -> (FastGRNNCell, ParameterLayout) {
        let layout = ParameterLayout()
        let c = FastGRNNCell("rnn", inputSize: 6, hidden: 12, wRank: wRank, uRank: uRank, wKind: .dense, uKind: .dense,
                             settings: .init(), layout: layout)
        return (c, layout)
    }

    /// Four steps of two channels × 3 pixels, batch 6: two sample groups of 3 (one per thread).
    func testCellBackwardMatchesFiniteDifferences() {
        let (c, layout) = cell()
        LayerHarness(c, layout, input: ActShape(channels: 2, batch: 6, height: 4, width: 3), threads: 2).check(h: 1e-2)
    }

    /// Batch 6 as a rank's half of 12 on two ranks: two groups of 3 (of the global batch's four).
    func testLowRankCellBackwardMatchesFiniteDifferences() {
        let (c, layout) = cell(wRank: 2, uRank: 3)
        let groups = SampleGroups(localBatch: 6, ranks: 2)
        XCTAssertEqual([groups.local, groups.size], [2, 3])
        LayerHarness(c, layout, input: ActShape(channels: 2, batch: 6, height: 5, width: 3), groups: groups).check(h: 1e-2)
    }

    func testLinearBackwardMatchesFiniteDifferences() {
        let layout = ParameterLayout()
        let l = Linear("fc", inFeatures: 6, outFeatures: 4, layout: layout)
        LayerHarness(l, layout, input: ActShape(channels: 6, batch: 5, height: 1, width: 1)).check()
    }

    /// In sample groups (four of 3, as FastGRNN runs it): gathered columns, a leaf per group, the tree.
    func testLinearInSampleGroupsMatchesFiniteDifferences() {
        let layout = ParameterLayout()
        let l = Linear("fc", inFeatures: 6, outFeatures: 4, kind: .str, settings: .init(sInit: -3), layout: layout)
        LayerHarness(l, layout, input: ActShape(channels: 6, batch: 12, height: 1, width: 1),
                     groups: SampleGroups(localBatch: 12, ranks: 1)).check()
    }

    /// The matrices are the model's sparse-kind layers, named and keyed as EdgeML names them, used once per
    /// step of the sequence; the report counts them like convs.
    func testMatricesAreCountedLikeConvs() throws {
        var o = ModelOptions()
        o.arch = "FastGRNN"; o.numClasses = 10; o.inputChannels = 1; o.inputWidth = 28; o.hiddenSize = 16
        o.convKind = .str; o.wRank = 4; o.sInit = -3
        let model = try Model(o, threads: 1)
        model.network.plan(ActShape(channels: 1, batch: 2, height: 28, width: 28))
        model.network.initialize(seed: 1)
        XCTAssertEqual(model.weighted.map(\.name), ["rnn.W1", "rnn.W2", "rnn.U", "classifier"])
        XCTAssertEqual(model.weighted.map(\.weightKey), ["rnn.W1", "rnn.W2", "rnn.U", "classifier.weight"])
        let keys = Set(model.layout.parameters.entries.map(\.key))
        for k in ["rnn.bias_gate", "rnn.bias_update", "rnn.zeta", "rnn.nu", "rnn.U.sparseThreshold", "classifier.bias"] {
            XCTAssert(keys.contains(k), k)
        }
        let report = model.sparsityReport()
        XCTAssertEqual(report.layers.map(\.positions), [28, 28, 28, 1])
        XCTAssertEqual(report.layers[0].numel, 28 * 4)
        // sigmoid(−3) ≈ 0.047 against 0.1·N(0, 1) weights: some of every matrix pruned, not all.
        for l in report.layers { XCTAssert(l.sparsity > 5 && l.sparsity < 95, "\(l.name) \(l.sparsity)") }
        XCTAssertEqual(model.totalSparsity() * 100, report.total, accuracy: 1e-9)
    }

    /// Two SGD steps and an evaluation of an STR FastGRNN (low-rank W) allocate nothing.
    func testSTRStepAllocatesNothing() throws {
        var o = ModelOptions()
        o.arch = "FastGRNN"; o.numClasses = 10; o.inputChannels = 1; o.inputWidth = 28; o.hiddenSize = 32
        o.convKind = .str; o.sInit = -5; o.wRank = 8
        let model = try Model(o, threads: 2)
        model.network.plan(ActShape(channels: 1, batch: 12, height: 28, width: 28))
        model.network.initialize(seed: 1)
        try assertStepsAllocateNothing(model, "a FastGRNN training step")
    }
}
