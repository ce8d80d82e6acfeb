// The per-layer plan at the level of a whole model: a run forced onto the
// sparse kernels tracks one forced dense step for step; `auto` switches
// layers as their density crosses the cost model's crossover (with
// hysteresis) and that changes only rounding; and no training step —
// sparse plans, magnitude masks, a plan switch, evaluation — touches the heap.
import XCTest
import CAllocCounter
import CSparse
@testable import STRDist

final class SparsePlanTests: XCTestCase {
    let rate: Float = 0.002
    func model(_ kind: SparseKind, _ algorithm: ConvAlgorithm, threads: Int = 2, batch: Int = 16) throws -> Model {
        var o = ModelOptions()
        o.arch = "ResNet18"; o.numClasses = 4; o.widthMultiplier = 0.25; o.smallInputStem = true
        o.convKind = kind; o.convAlgorithm = algorithm; o.pruneRate = 0.8; o.sInit = -3200
        let m = try Model(o, threads: threads)
        m.network.plan(ActShape(channels: 3, batch: batch, height: 16, width: 16))
        m.network.initialize(seed: 5)
        return m
    }

    /// Puts each conv at `sparsity`, then opens a gap in the weights' magnitudes at the cut (pruned ones
    /// halved, kept ones pushed one cut further out), so that a few small SGD steps move no weight across
    /// it: both plans then keep the same weights and may differ only by rounding. Without the gap, a weight
    /// sitting on the cut flips in or out on a last-bit difference and the runs part (as in GoldenTests).
    func prune(_ m: Model, _ sparsity: [String: Double]) {
        m.setSparsity(sparsity)
        let ctx = m.network.context!
        for c in m.convs {
            guard let p = sparsity[c.name], p > 0 else { continue }
            let w = ctx.param(c.weight), n = c.weightCount
            let cut = (0..<n).map { abs(w[$0]) }.sorted()[min(n - 1, Int(p * Double(n)))]
            for i in 0..<n { w[i] = abs(w[i]) < cut ? w[i] / 2 : w[i] + (w[i] < 0 ? -cut : cut) }
        }
        m.setSparsity(sparsity)
    }

    /// Losses of `steps` SGD steps on the toy task.
    func losses(_ m: Model, steps: Int, sparsity: [String: Double]? = nil) -> [Float] {
        let net = m.network
        if let sparsity { prune(m, sparsity) }
        var settings = SGDSettings()
        settings.momentum = 0.9
        let sgd = SGD(settings, table: m.layout.parameters)
        // One random batch, learnt by heart: no constant regions (a toy image's flat quadrants make
        // near-constant channels whose BatchNorm blows last-bit differences up to visible ones).
        var rng = RNG(seed: 21)
        rng.fillNormal(net.input, count: net.inputRef.shape.count, std: 1)
        for i in 0..<net.batch { net.labels[i] = Int32(rng.below(4)) }
        let step = sgdStep(net, sgd)
        return (0..<steps).map { _ in try! step.run(lr: rate).loss }
    }

    /// Step for step from the same state: each step's loss on the sparse kernels equals the dense one's
    /// within rounding, then the sparse model takes the dense model's weights, statistics and momentum.
    /// (Left to run apart, the two trajectories part by up to 1e-4 in the loss once a last-bit difference
    /// flips one gate or kept weight — at another step under another BLAS core — which says nothing of
    /// the kernels.)
    func testForcedSparseTracksForcedDenseFor20Steps() throws {
        for kind in [SparseKind.str, .gmp, .dnw] {
            let sparse = try model(kind, .sparse), dense = try model(kind, .im2col)
            let targets = Dictionary(uniqueKeysWithValues: sparse.convs.map { ($0.name, 0.8) })
            prune(sparse, targets); prune(dense, targets)
            var settings = SGDSettings()
            settings.momentum = 0.9
            let sgds = [sparse, dense].map { SGD(settings, table: $0.layout.parameters) }
            let steps = zip([sparse, dense], sgds).map { m, sgd in
                var rng = RNG(seed: 21)   // the same batch, learnt by heart
                rng.fillNormal(m.network.input, count: m.network.inputRef.shape.count, std: 1)
                for i in 0..<m.network.batch { m.network.labels[i] = Int32(rng.below(4)) }
                return sgdStep(m.network, sgd)
            }
            var losses: [Float] = []
            for i in 0..<20 {
                let a = try steps[0].run(lr: rate).loss, b = try steps[1].run(lr: rate).loss
                XCTAssertEqual(a, b, accuracy: 1e-5, "\(kind) step \(i + 1): \(a) vs \(b)")
                losses.append(b)
                sparse.network.store.values.copy(from: dense.network.store.values)
                sparse.network.store.bufferValues.copy(from: dense.network.store.bufferValues)
                sgds[0].momentumBuffer.copy(from: sgds[1].momentumBuffer)
                sparse.network.parametersChanged()
            }
            XCTAssert(sparse.convs.allSatisfy { $0.execution.isSparse }, "\(kind)")
            XCTAssert(dense.convs.allSatisfy { !$0.execution.isSparse }, "\(kind)")
            XCTAssertLessThan(losses.suffix(3).reduce(0, +), losses.prefix(3).reduce(0, +), "\(kind): the loss falls")
        }
    }

    func testAutoSwitchesByDensityWithHysteresisAndChangesOnlyRounding() throws {
        let auto = try model(.str, .auto), dense = try model(.str, .im2col)
        // Dense at first (nothing pruned), then 97% of every layer pruned: the big layers go sparse.
        let a0 = losses(auto, steps: 2), b0 = losses(dense, steps: 2)
        XCTAssert(auto.convs.allSatisfy { !$0.execution.isSparse })
        let pruned = Dictionary(uniqueKeysWithValues: auto.convs.map { ($0.name, 0.97) })
        let a1 = losses(auto, steps: 6, sparsity: pruned), b1 = losses(dense, steps: 6, sparsity: pruned)
        let sparseNow = auto.convs.filter { $0.execution.isSparse }.map(\.name)
        XCTAssertFalse(sparseNow.isEmpty, "at 3% density some layers must switch")
        for (x, y) in zip(a0 + a1, b0 + b1) { XCTAssertEqual(x, y, accuracy: 1e-4) }
        // Hysteresis: a layer on the sparse plan stays there a little above the density it switched at
        // (a layer whose crossover lies above the planned capacity, maxDensity, is not one to show it on).
        let cost = SparseCostModel.default
        let crossings = auto.convs.filter { $0.execution.isSparse }.compactMap { c -> (Conv2d, Double)? in
            let g = c.geometry!, layout = ConvPlanner.sparseLayout(g)
            var d = 0.03
            while d < ConvPlanner.maxDensity
                && cost.seconds(g, .sparse(layout), density: d, training: true) < cost.seconds(g, c.densePlan, training: true) {
                d += 0.005
            }
            return d < ConvPlanner.maxDensity ? (c, d) : nil
        }
        let (c, d) = try XCTUnwrap(crossings.first, "some sparse layer crosses over below the planned capacity")
        let g = c.geometry!, layout = ConvPlanner.sparseLayout(g), densePlan = c.densePlan
        func choose(_ density: Double, _ current: ConvPlan) -> ConvPlan {
            ConvPlanner.choose(g, dense: densePlan, sparse: layout, density: density, current: current, training: true,
                               keptOnlyGradient: true)
        }
        XCTAssertEqual(choose(d, .sparse(layout)), .sparse(layout))
        XCTAssertEqual(choose(d, densePlan), densePlan)
        XCTAssertEqual(choose(1, .sparse(layout)), densePlan,
                       "a dense weight never stays sparse")
    }

    /// Inference on the sparse kernels folds each BatchNorm (and its ReLU) into the conv before it.
    func testInferenceFoldsBatchNormIntoSparseConvs() throws {
        for kind in [SparseKind.str, .gmp] {
            let sparse = try model(kind, .sparse), dense = try model(kind, .im2col)
            let targets = Dictionary(uniqueKeysWithValues: sparse.convs.map { ($0.name, 0.7) })
            _ = losses(sparse, steps: 3, sparsity: targets)   // running statistics away from 0 and 1
            dense.network.store.values.copy(from: sparse.network.store.values)
            dense.network.store.bufferValues.copy(from: sparse.network.store.bufferValues)
            dense.pruning.setCurrent(targets)
            for m in [sparse, dense] {
                var rng = RNG(seed: 8)
                rng.fillNormal(m.network.input, count: m.network.inputRef.shape.count, std: 1)
                m.network.parametersChanged()
                m.network.forward(training: false)
            }
            let folded = sparse.convs.filter { $0.epilogue != nil }.count
            XCTAssertEqual(folded, sparse.convs.count - 1, "\(kind): every conv but the classifier feeds a BatchNorm")
            XCTAssertEqual(sparse.convs.filter { $0.epilogue?.join != nil }.count, 8,
                           "\(kind): each of ResNet18's 8 blocks ends in a conv that computes its residual join")
            let n = sparse.network.batch * sparse.network.classes
            assertClose(Array(UnsafeBufferPointer(start: sparse.network.logits, count: n)),
                        Array(UnsafeBufferPointer(start: dense.network.logits, count: n)), rtol: 1e-4, atol: 1e-4, "\(kind)")
            // Training forward afterwards still uses the unfolded path (its BatchNorm statistics are the batch's).
            XCTAssertEqual(losses(sparse, steps: 1)[0], losses(dense, steps: 1)[0], accuracy: 1e-4)
        }
    }

    /// On each instruction set the sparse kernels dispatch to here (a CPU without AVX-512 runs the AVX2 ones),
    /// under whichever core OpenBLAS loaded (CI runs this test under its own choice and under Haswell's).
    func testSparseStepsAndAPlanSwitchAllocateNothing() throws {
        defer { _ = sp_force_isa(-1) }
        for isa in 0...sp_force_isa(-1) {
            XCTAssertEqual(sp_force_isa(isa), isa)
            try stepsAndAPlanSwitchAllocateNothing("\(SparseISA.name), OpenBLAS \(BLASInfo.coreName)")
        }
    }

    func stepsAndAPlanSwitchAllocateNothing(_ machine: String) throws {
        for (kind, algorithm) in [(SparseKind.str, ConvAlgorithm.auto), (.gmp, .sparse), (.dnw, .sparse), (.dense, .sparse)] {
            let m = try model(kind, algorithm, batch: 8)
            let net = m.network
            let sgd = SGD(SGDSettings(), table: m.layout.parameters)
            // Half the layers far below the crossover, half dense: both plans run in one step.
            var mixed: [String: Double] = [:]
            for (i, c) in m.convs.enumerated() { mixed[c.name] = i % 2 == 0 ? 0.98 : 0 }
            m.setSparsity(mixed)
            fillToyBatch(net, step: 0)
            let step = sgdStep(net, sgd)
            try step.run(lr: 0.01)
            net.forward(training: false)
            alloc_counter_start()
            for _ in 0..<2 { try step.run(lr: 0.01) }
            net.forward(training: false)
            var count = alloc_counter_stop()
            XCTAssertEqual(count, 0, "\(kind) \(algorithm) (\(machine)): a step made \(count) heap allocations")
            guard algorithm == .auto else { continue }
            XCTAssert(Set(m.convs.map(\.execution.isSparse)) == [false, true], "both plans in one model")
            // The other half sparse now: every layer switches plan inside the counted steps.
            let before = m.convs.map(\.execution)
            for (i, c) in m.convs.enumerated() { mixed[c.name] = i % 2 == 0 ? 0 : 0.98 }
            m.setSparsity(mixed)
            alloc_counter_start()
            for _ in 0..<2 { try step.run(lr: 0.01) }
            net.forward(training: false)
            count = alloc_counter_stop()
            XCTAssertEqual(count, 0, "a plan switch (\(machine)) made \(count) heap allocations")
            let after = m.convs.map(\.execution)
            XCTAssert(zip(before, after).contains { $0.isSparse && !$1.isSparse }, "a layer left the sparse plan")
            XCTAssert(zip(before, after).contains { !$0.isSparse && $1.isSparse }, "a layer took the sparse plan")
        }
    }
}
