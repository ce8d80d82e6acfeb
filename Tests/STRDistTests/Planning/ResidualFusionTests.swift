// The residual join computed by the BatchNorm before it (ResidualFusion):
// planned where the norm's output feeds only the join, and bit for bit the
// same steps, gradients, statistics and inference outputs as the separate
// passes, on both block kinds, dense and sparse, one thread and two.
import XCTest
@testable import STRDist

final class ResidualFusionTests: XCTestCase {
    func model(_ arch: String, kind: SparseKind, algorithm: ConvAlgorithm, threads: Int, fused: Bool) throws -> Model {
        var o = ModelOptions()
        o.arch = arch; o.numClasses = 4; o.widthMultiplier = arch == "ResNet50" ? 0.125 : 0.25; o.smallInputStem = true
        o.convKind = kind; o.convAlgorithm = algorithm; o.sInit = -3200
        let m = try Model(o, threads: threads)
        if !fused { m.network.planPasses = [ConvPlanner.planEpilogues] }
        m.network.plan(ActShape(channels: 3, batch: 8, height: 16, width: 16))
        m.network.initialize(seed: 9)
        return m
    }

    /// Fails with the number of differing floats and the first of them.
    func assertSameBits(_ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>, _ n: Int, _ what: String,
                        line: UInt = #line) {
        let differing = (0..<n).filter { a[$0].bitPattern != b[$0].bitPattern }
        guard let i = differing.first else { return }
        XCTFail("\(what): \(differing.count) of \(n) floats differ, first [\(i)] \(a[i]) vs \(b[i])", line: line)
    }

    func testFusedJoinsGiveTheSameBitsAsSeparatePasses() throws {
        let cases: [(String, SparseKind, ConvAlgorithm, Int)] = [
            ("ResNet18", .dense, .auto, 1), ("ResNet18", .str, .sparse, 2), ("ResNet50", .dense, .im2col, 2),
            ("ResNet50", .gmp, .sparse, 1),
        ]
        for (arch, kind, algorithm, threads) in cases {
            let label = "\(arch) \(kind) \(algorithm) \(threads) thread(s)"
            let fused = try model(arch, kind: kind, algorithm: algorithm, threads: threads, fused: true)
            let separate = try model(arch, kind: kind, algorithm: algorithm, threads: threads, fused: false)
            let blocks = arch == "ResNet50" ? 16 : 8
            let norms = { (m: Model) -> Int in
                let blocks = (m.network.root as! Sequential).layers
                return blocks.compactMap { ($0 as? Bottleneck)?.bn3 ?? ($0 as? BasicBlock)?.bn2 }.filter { $0.join != nil }.count
            }
            XCTAssertEqual(norms(fused), blocks, "\(label): every block's last norm computes its join")
            XCTAssertEqual(norms(separate), 0, label)
            if kind == .gmp {
                let targets = Dictionary(uniqueKeysWithValues: fused.convs.map { ($0.name, 0.7) })
                for m in [fused, separate] { _ = m.setSparsity(targets) }
            }
            var losses: [[Float]] = []
            for m in [fused, separate] {
                let net = m.network
                var settings = SGDSettings()
                settings.momentum = 0.9
                let step = sgdStep(net, SGD(settings, table: m.layout.parameters))
                var rng = RNG(seed: 3)
                rng.fillNormal(net.input, count: net.inputRef.shape.count, std: 1)
                for i in 0..<net.batch { net.labels[i] = Int32(rng.below(4)) }
                losses.append((0..<3).map { _ in try! step.run(lr: 0.05).loss })
            }
            XCTAssertEqual(losses[0].map(\.bitPattern), losses[1].map(\.bitPattern), "\(label): losses \(losses)")
            let a = fused.network.store, b = separate.network.store
            assertSameBits(a.values.base, b.values.base, a.values.count, "\(label): parameters")
            assertSameBits(a.grads.base, b.grads.base, a.grads.count, "\(label): gradients")
            assertSameBits(a.bufferValues.base, b.bufferValues.base, a.bufferValues.count, "\(label): running statistics")
            XCTAssertNotEqual(losses[0][0], losses[0][2], "\(label): the steps learn")
            for m in [fused, separate] {
                m.network.parametersChanged()
                m.network.forward(training: false)
            }
            let n = fused.network.batch * fused.network.classes
            assertSameBits(fused.network.logits, separate.network.logits, n, "\(label): inference")
        }
    }
}
