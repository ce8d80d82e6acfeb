// The FastGRNN cell and the Linear layer: backward (through time) against
// finite differences, full rank and low rank, with the input's gradient;
// what the sparse kinds see of the cell's matrices; and a training step of a
// sparse FastGRNN that touches no heap.
import XCTest
@testable import STRDist

final class FastGRNNTests: XCTestCase {
    /// Hidden 12: one 8-lane block and a scalar tail in the gates' kernels.
    func cell(wRank: Int? = nil, uRank: Int? = nil, algorithm: ConvAlgorithm = .auto) -> (FastGRNNCell, ParameterLayout) {
        let layout = ParameterLayout()
        let c = FastGRNNCell("rnn", inputSize: 6, hidden: 12, wRank: wRank, uRank: uRank, wKind: .dense, uKind: .dense,
                             settings: .init(), algorithm: algorithm, layout: layout)
        return (c, layout)
    }

    /// Four steps of two channels × 3 pixels, batch 6: two sample groups of 3 (one per thread).
    func testCellBackwardMatchesFiniteDifferences() {
        let (c, layout) = cell()
        LayerHarness(c, layout, input: ActShape(channels: 2, batch: 6, height: 4, width: 3), threads: 2).check(h: 1e-2)
    }

    /// U's step products on the sparse narrow kernel (forced; the dense weight compressed whole).
    func testCellBackwardWithSparseProductsMatchesFiniteDifferences() {
        let (c, layout) = cell(algorithm: .sparse)
        let harness = LayerHarness(c, layout, input: ActShape(channels: 2, batch: 6, height: 4, width: 3), threads: 2)
        harness.check(h: 1e-2)
        XCTAssertTrue(c.u[0].runsSparse)
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

    /// An STR FastGRNN whose U is 90% pruned: the plan runs U's products on the sparse kernel (groups of
    /// 8: it pays below a density of 25%), and the logits and every gradient equal the dense products'
    /// (`conv_algorithm: im2col`) up to rounding; at 40% pruned the plan stays dense.
    func testSparseProductsFollowThePlanAndMatchTheDenseOnes() throws {
        func run(_ algorithm: ConvAlgorithm, sparsity: Double) throws -> (sparse: Bool, logits: [Float], grads: [Float]) {
            var o = ModelOptions()
            o.arch = "FastGRNN"; o.numClasses = 10; o.inputChannels = 1; o.inputWidth = 28; o.hiddenSize = 64
            o.convKind = .str; o.sInit = -5; o.convAlgorithm = algorithm
            let model = try Model(o, threads: 2)
            let net = model.network
            net.plan(ActShape(channels: 1, batch: 128, height: 28, width: 28))
            net.initialize(seed: 1)
            let u = model.weighted.first { $0.name == "rnn.U" }!
            XCTAssert(u.transform.impose(sparsity: sparsity, weight: net.store.values.base + u.weight.offset,
                                         count: u.weightCount, net.context))
            var rng = RNG(seed: 4)
            rng.fillNormal(net.input, count: net.inputRef.shape.count, std: 1)
            for i in 0..<128 { net.labels[i] = Int32(rng.below(10)) }
            net.forward(training: true)
            _ = net.loss(smoothing: 0.1)
            net.backward()
            let sparse = (u as! SparseMatrix).runsSparse
            return (sparse, Array(UnsafeBufferPointer(start: net.logits, count: 10 * 128)),
                    Array(UnsafeBufferPointer(start: net.store.grads.base, count: net.store.parameters.count)))
        }
        let sparse = try run(.auto, sparsity: 0.9), dense = try run(.im2col, sparsity: 0.9)
        XCTAssertTrue(sparse.sparse)
        XCTAssertFalse(dense.sparse)
        assertClose(sparse.logits, dense.logits, rtol: 1e-5, atol: 1e-6)
        assertClose(sparse.grads, dense.grads, rtol: 1e-4, atol: 1e-6)
        XCTAssertFalse(try run(.auto, sparsity: 0.4).sparse)
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

    /// The same with U's products on the sparse kernel (its compressed weight rebuilt every step).
    func testSparseProductsStepAllocatesNothing() throws {
        var o = ModelOptions()
        o.arch = "FastGRNN"; o.numClasses = 10; o.inputChannels = 1; o.inputWidth = 28; o.hiddenSize = 32
        o.convKind = .str; o.sInit = -5; o.convAlgorithm = .sparse
        let model = try Model(o, threads: 2)
        model.network.plan(ActShape(channels: 1, batch: 12, height: 28, width: 28))
        model.network.initialize(seed: 1)
        try assertStepsAllocateNothing(model, "a FastGRNN training step with sparse products")
        XCTAssertTrue(model.weighted.contains { $0.name == "rnn.U" && $0.runsSparse })
    }
}
