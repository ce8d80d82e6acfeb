// A fifth sparse kind, written as a user would add one: this file (its
// transform and its SparseKind value) plus one registration line. A fixed
// random mask: weight i of layer L is kept where a hash of (L, i) falls below
// the layer's kept fraction, stored as the buffer `<L>.maskDensity` (0.3);
// the gradient reaches kept weights only. The engine is not told anything
// else: the kind must train (on the dense and the sparse kernels), checkpoint
// and resume, export dense without its own tensor, and count in the report.
import XCTest
@testable import STRDist

final class RandomMaskWeight: WeightTransform {
    static let kind = SparseKind("RandomMaskConv") { name, layout, _ in RandomMaskWeight(name: name, layout: layout) }

    let densityName: String, density: BufferRef, seed: UInt64
    private var mask = WorkspaceRegion<Float>.none

    init(name: String, layout: ParameterLayout) {
        densityName = name + ".maskDensity"
        density = layout.buffer(densityName, shape: [1])
        seed = streamID(name)
    }

    var kind: SparseKind { Self.kind }
    var gradientRule: GradientRule { .keptOnly }
    var ownTensors: [String] { [densityName] }
    func initialize(_ store: ParameterStore) { store.bufferValues.base[density.offset] = 0.3 }
    func plan(count: Int, _ planner: WorkspacePlanner) { mask = planner.region(count) }

    func forward(_ w: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int, _ ctx: StepContext) {
        let m = ctx.region(mask), kept = Double(ctx.buffer(density).pointee)
        for i in 0..<count {
            var z = seed &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15   // splitmix64 of (layer, index)
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            m[i] = Double((z ^ (z >> 31)) >> 11) / Double(1 << 53) < kept ? 1 : 0
            out[i] = w[i] * m[i]
        }
    }

    func backward(_ w: UnsafePointer<Float>, grad: UnsafeMutablePointer<Float>, count: Int, _ ctx: StepContext) {
        let m = ctx.region(mask)
        for i in 0..<count { grad[i] *= m[i] }
    }

    func keepMask(_ ctx: StepContext) -> UnsafePointer<Float>? { UnsafePointer(ctx.region(mask)) }
}

final class FifthKindTests: TemporaryDirectoryTestCase {
    override func setUp() {
        super.setUp()
        SparseKind.register(RandomMaskWeight.kind)   // the registration line
    }

    func testARegisteredKindIsAConfigChoice() throws {
        XCTAssertEqual(SparseKind(configValue: "RandomMaskConv"), RandomMaskWeight.kind)
        let config = try ConfigLoader.load(path: nil, overrides: ["--conv_type", "RandomMaskConv"])
        XCTAssertEqual(config.convType, RandomMaskWeight.kind)
        XCTAssertThrowsError(try ConfigLoader.load(path: nil, overrides: ["--conv_type", "RandomMaskConf"])) { e in
            XCTAssert("\(e)".contains("RandomMaskConv"), "the choices name the new kind: \(e)")
        }
    }

    func testItTrainsCheckpointsExportsDenseAndCounts() throws {
        for algorithm in [ConvAlgorithm.im2col, .sparse] {
            let a = try tinyModel(RandomMaskWeight.kind, algorithm: algorithm)
            let masked = a.convs.filter { $0.kind == RandomMaskWeight.kind }
            XCTAssertEqual(masked.count, a.convs.count, "every conv (this model keeps none dense)")
            // Trains: the loss falls on a batch learnt by heart, and pruned weights stay out of it.
            let sgd = SGD(SGDSettings(), table: a.layout.parameters)
            let step = sgdStep(a.network, sgd)
            let losses = (0..<8).map { _ in try! step.run(lr: 0.05).loss }
            XCTAssertLessThan(losses.last!, losses.first! * 0.8, "\(algorithm): \(losses)")
            if algorithm == .sparse { XCTAssert(masked.allSatisfy { $0.execution.isSparse }) }
            // Counts: its layers are about 70% sparse, and the total is theirs alone.
            let report = a.sparsityReport()
            for l in report.layers where l.kind == RandomMaskWeight.kind && l.numel > 200 {
                XCTAssertEqual(l.sparsity, 70, accuracy: 8, l.name)
            }
            let counted = report.layers.filter { $0.kind == RandomMaskWeight.kind }
            let numel = counted.reduce(0) { $0 + $1.numel }, nonzero = counted.reduce(0) { $0 + $1.nonzero }
            XCTAssertEqual(report.total, 100 - 100 * Double(nonzero) / Double(numel), accuracy: 1e-9)
            XCTAssertEqual(a.totalSparsity() * 100, report.total, accuracy: 1e-9)
            // Checkpoints: its own tensor is saved, and a resumed model computes the same logits.
            try Checkpoint.save(dir + "/mask", store: a.network.store, optimizer: sgd, state: TrainingState())
            let (saved, _) = try Checkpoint.readModel(dir + "/mask")
            XCTAssert(saved.contains { $0.name == "layer1.0.conv1.maskDensity" })
            let b = try tinyModel(RandomMaskWeight.kind, seed: 9, algorithm: algorithm)
            _ = try Checkpoint.resume(dir + "/mask", store: b.network.store, optimizer: SGD(SGDSettings(), table: b.layout.parameters))
            b.network.parametersChanged()
            a.network.parametersChanged()
            XCTAssertEqual(logits(b), logits(a), "\(algorithm)")
            // Exports dense: the effective weights, without the kind's tensors, give a DenseConv model the same logits.
            let exported = Checkpoint.denseTensors(a)
            XCTAssertFalse(exported.contains { $0.name.hasSuffix(".maskDensity") })
            try AtomicFile.write(SafeTensors.encode(exported), to: dir + "/dense.safetensors")
            let dense = try tinyModel(.dense, seed: 3, algorithm: .im2col)
            try Checkpoint.loadModel(dir + "/dense.safetensors", into: dense.network.store)
            dense.network.parametersChanged()
            assertClose(logits(dense), logits(a), rtol: 1e-4, atol: 1e-5, "\(algorithm)")
            XCTAssertEqual(dense.sparsityReport().layers.map(\.nonzero), report.layers.map(\.nonzero))
        }
    }

    func logits(_ m: Model) -> [Float] {
        m.network.forward(training: false)
        return Array(UnsafeBufferPointer(start: m.network.logits, count: m.network.batch * m.network.classes))
    }
}
