// precision: bf16 through the whole engine: a small ResNet's bf16 steps allocate nothing, give the same
// bits every time, stay near the fp32 steps (bf16's 2⁻⁸ rounding, not a broken product) and still learn;
// the checkpoint records the precision; the key parses; a CPU without bf16 arithmetic is refused in one line.
import XCTest
import Foundation
@testable import STRDist

final class MixedPrecisionTests: XCTestCase {
    private var savedMinimum = ConvPlanner.bf16Minimum
    override func setUp() { savedMinimum = ConvPlanner.bf16Minimum; ConvPlanner.bf16Minimum = (0, 0) }  // every im2col and pointwise conv in bf16
    override func tearDown() { ConvPlanner.bf16Minimum = savedMinimum }

    func model(_ precision: Precision, kind: SparseKind = .str, batch: Int = 8, algorithm: ConvAlgorithm = .im2col,
               size: Int = 16) throws -> Model {
        var o = ModelOptions()
        o.arch = "ResNet18"; o.numClasses = 10; o.widthMultiplier = 0.125; o.smallInputStem = true
        o.convKind = kind; o.sInit = -5; o.precision = precision; o.convAlgorithm = algorithm
        let model = try Model(o, threads: 2)
        model.network.plan(ActShape(channels: 3, batch: batch, height: size, width: size))
        model.network.initialize(seed: 1)
        return model
    }

    func train(_ precision: Precision, steps: Int, algorithm: ConvAlgorithm = .im2col) throws
        -> (losses: [Float], values: [Float], model: Model) {
        let m = try model(precision, algorithm: algorithm)
        let run = sgdStep(m.network, SGD(SGDSettings(), table: m.layout.parameters))
        var losses: [Float] = []
        for step in 0..<steps {
            fillToyBatch(m.network, step: step % 4)
            losses.append(try run.run(lr: 0.05).loss)
        }
        return (losses, m.network.store.values.toArray(), m)
    }

    func testEveryDenseProductRunsBF16() throws {
        let m = try model(.bf16)
        XCTAssertEqual(m.convs.filter { $0.geometry.bf16 }.count, m.convs.count, "all convs (im2col, pointwise)")
        let fp32 = try model(.fp32)
        XCTAssert(fp32.convs.allSatisfy { !$0.geometry.bf16 })
    }

    func testStepsAreReproducibleNearFP32AndLearn() throws {
        let a = try train(.bf16, steps: 12), b = try train(.bf16, steps: 12), f = try train(.fp32, steps: 12)
        XCTAssertEqual(a.values, b.values, "bf16 steps are deterministic")
        XCTAssertNotEqual(a.values, f.values, "bf16 changes the arithmetic")
        // The first step's loss: the forward pass alone, within bf16's rounding of fp32's.
        XCTAssertEqual(a.losses[0], f.losses[0], accuracy: 0.02 * f.losses[0])
        // Later steps part by more (lr 0.05 on a toy task: seen 0.85 against 0.73 at step 5), but land together.
        let last = a.losses.suffix(4).reduce(0, +), lastFP32 = f.losses.suffix(4).reduce(0, +)
        XCTAssertEqual(last, lastFP32, accuracy: 0.1 * lastFP32, "bf16 \(a.losses), fp32 \(f.losses)")
        let first = a.losses.prefix(4).reduce(0, +)
        XCTAssertLessThan(last, first, "bf16 training learns the toy task")
    }

    /// A CPU without AVX512_BF16 runs the portable body (in tests): the same steps, to fp32 rounding.
    func testPortableBodyGivesTheSameSteps() throws {
        defer { BFloat16.force(isa: nil) }
        let fast = try train(.bf16, steps: 3)
        BFloat16.force(isa: 0)
        let portable = try train(.bf16, steps: 3)
        assertClose(portable.values, fast.values, rtol: 1e-5, atol: 1e-6, "portable against \(BFloat16.cpuHasArithmetic ? "AVX512_BF16" : "portable")")
    }

    func testBF16StepAllocatesNothing() throws {
        try assertStepsAllocateNothing(try model(.bf16), "a bf16 training step")
        try assertStepsAllocateNothing(try model(.bf16, algorithm: .sparse), "a bf16 training step on the sparse kernels")
    }

    /// At 32×32 layer2's 3×3/2 conv (16×16 out) runs on phase planes: fp32 and bf16 sparse steps there allocate
    /// nothing either (the phase split's row buffer is on the stack).
    func testPhasePlaneStepsAllocateNothing() throws {
        for precision in [Precision.fp32, .bf16] {
            let m = try model(precision, algorithm: .sparse, size: 32)
            XCTAssert(m.convs.contains { $0.geometry.strideH == 2 && $0.sparseLayout == .shifted }, "a conv on phase planes")
            try assertStepsAllocateNothing(m, "a \(precision) sparse step with phase planes")
        }
    }

    /// Every conv on the sparse kernels (their products in bf16): the same bits every run, the first loss
    /// within bf16's rounding of fp32's, and the portable body's steps within 1e-5 of the fast one's.
    func testSparseKernelStepsInBF16() throws {
        defer { BFloat16.force(isa: nil) }
        let a = try train(.bf16, steps: 4, algorithm: .sparse), b = try train(.bf16, steps: 4, algorithm: .sparse)
        let f = try train(.fp32, steps: 4, algorithm: .sparse)
        XCTAssert(a.model.convs.allSatisfy { $0.execution.isSparse && $0.geometry.sparseBF16 })
        XCTAssertEqual(a.values, b.values, "bf16 sparse steps are deterministic")
        XCTAssertNotEqual(a.values, f.values, "bf16 changes the sparse forward's arithmetic")
        XCTAssertEqual(a.losses[0], f.losses[0], accuracy: 0.02 * f.losses[0])
        BFloat16.force(isa: 0)
        let portable = try train(.bf16, steps: 4, algorithm: .sparse)
        assertClose(portable.values, a.values, rtol: 1e-5, atol: 1e-6, "portable sparse bf16 steps")
    }

    func testCheckpointRecordsThePrecision() throws {
        let m = try model(.bf16)
        let sgd = SGD(SGDSettings(), table: m.layout.parameters)
        let base = NSTemporaryDirectory() + "strdist-precision-\(UUID().uuidString)"
        defer { for p in [Checkpoint.paths(base).model, Checkpoint.paths(base).state] { try? FileManager.default.removeItem(atPath: p) } }
        var state = TrainingState()
        state.precision = .bf16
        try Checkpoint.save(base, store: m.network.store, optimizer: sgd, state: state)
        // Loads into an fp32 model: the weights are fp32 either way.
        let other = try model(.fp32)
        let loaded = try Checkpoint.resume(base, store: other.network.store, optimizer: SGD(SGDSettings(), table: other.layout.parameters))
        XCTAssertEqual(loaded.precision, .bf16)
        XCTAssertEqual(other.network.store.values.toArray(), m.network.store.values.toArray())
    }

    func testConfigKeyAndCPURefusal() throws {
        XCTAssertEqual(try ConfigLoader.load(path: nil, overrides: ["--precision", "bf16"]).precision, .bf16)
        XCTAssertEqual(try ConfigLoader.load(path: nil, overrides: []).precision, .fp32, "fp32 by default, as the reference")
        XCTAssertThrowsError(try ConfigLoader.load(path: nil, overrides: ["--precision", "fp16"])) { e in
            XCTAssert("\(e)".contains("'precision'") && "\(e)".contains("fp32, bf16"), "\(e)")
        }
        let why = try XCTUnwrap(BFloat16.unsupported(.bf16, cpuHasArithmetic: false))
        XCTAssertFalse(why.contains("\n"))
        XCTAssert(why.contains("AVX512_BF16") && why.contains("precision: fp32"), why)
        XCTAssertNil(BFloat16.unsupported(.fp32, cpuHasArithmetic: false))
        XCTAssertNil(BFloat16.unsupported(.bf16, cpuHasArithmetic: true))
    }
}
