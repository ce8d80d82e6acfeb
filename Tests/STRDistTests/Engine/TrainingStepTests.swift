// A small CNN trained end to end: the loss must fall, results must not
// depend on timing, and a step (forward, loss, backward, SGD) must not touch
// the heap at all.
import XCTest
import CAllocCounter
@testable import STRDist

final class TrainingStepTests: XCTestCase {
    func train(threads: Int, steps: Int) -> (losses: [Float], network: Network, sgd: SGD) {
        let (net, layout) = tinyNetwork(threads: threads)
        net.plan(ActShape(channels: 3, batch: 16, height: 16, width: 16))
        net.initialize(seed: 3)
        var settings = SGDSettings()
        settings.momentum = 0.9
        settings.weightDecay = 1e-4
        let sgd = SGD(settings, table: layout.parameters)
        var losses: [Float] = []
        let run = sgdStep(net, sgd)
        for step in 0..<steps {
            fillToyBatch(net, step: step)
            losses.append(try! run.run(lr: 0.1).loss)
        }
        return (losses, net, sgd)
    }

    func testLossFalls() {
        let losses = train(threads: 2, steps: 60).losses
        let first = losses.prefix(5).reduce(0, +) / 5, last = losses.suffix(5).reduce(0, +) / 5
        XCTAssertLessThan(last, 0.5 * first, "loss went from \(first) to \(last)")
    }

    func testSameThreadsSameBits() {
        let a = train(threads: 2, steps: 5).network.store.values.toArray()
        let b = train(threads: 2, steps: 5).network.store.values.toArray()
        XCTAssertEqual(a, b)
    }

    func testThreadCountChangesOnlyRounding() {
        let a = train(threads: 1, steps: 3).network.store.values.toArray()
        let b = train(threads: 3, steps: 3).network.store.values.toArray()
        assertClose(a, b, rtol: 1e-3, atol: 1e-4)
    }

    func testStepAllocatesNothing() throws {
        let (net, layout) = tinyNetwork(threads: 2)
        net.plan(ActShape(channels: 3, batch: 8, height: 16, width: 16))
        net.initialize(seed: 1)
        let sgd = SGD(SGDSettings(), table: layout.parameters)
        fillToyBatch(net, step: 0)
        let run = sgdStep(net, sgd)
        func step() throws { try run.run(lr: 0.01) }
        func evaluate() {
            net.forward(training: false)
            _ = net.correct()
        }
        try step()      // warm-up: BLAS buffers and type metadata are made once, on first use
        evaluate()
        alloc_counter_start()
        for _ in 0..<3 { try step() }
        evaluate()
        let count = alloc_counter_stop()
        XCTAssertEqual(count, 0, "a training step made \(count) heap allocations")
    }

    /// The same for a model whose 3×3 convs run Winograd, splitting images (layer1: 20 images × 64
    /// tiles) and splitting the 36 points (deeper layers; layer4 has 20 tiles, a GEMM width at which
    /// OpenBLAS would malloc on every call), with STR's weight transform.
    func testWinogradSTRStepAllocatesNothing() throws {
        var o = ModelOptions()
        o.arch = "ResNet18"; o.numClasses = 10; o.widthMultiplier = 0.25; o.smallInputStem = true
        o.convKind = .str; o.sInit = -5
        let model = try Model(o, threads: 2)
        let net = model.network
        net.plan(ActShape(channels: 3, batch: 20, height: 32, width: 32))
        net.initialize(seed: 1)
        let plans = model.convs.compactMap { $0.geometry.winograd ? WinogradPlan($0.geometry) : nil }
        XCTAssert(plans.contains { $0.splitsPoints } && plans.contains { !$0.splitsPoints })
        try assertStepsAllocateNothing(model, "a Winograd training step")
    }

    /// The same for MobileNetV1: depthwise convs on phase planes (strides 1 and 2) running their BatchNorm
    /// channel by channel, training and inference.
    func testMobileNetStepAllocatesNothing() throws {
        var o = ModelOptions()
        o.arch = "MobileNetV1"; o.numClasses = 10; o.widthMultiplier = 0.25; o.convKind = .str; o.sInit = -5
        let model = try Model(o, threads: 2)
        let net = model.network
        net.plan(ActShape(channels: 3, batch: 4, height: 64, width: 64))
        net.initialize(seed: 1)
        XCTAssertEqual(model.convs.filter { $0.channelNorm != nil }.count, 13, "each depthwise conv runs its norm")
        try assertStepsAllocateNothing(model, "a MobileNetV1 training step")
    }

    func testCounterSeesAllocations() {
        // The proof above is only worth something if the counter counts.
        alloc_counter_start()
        let a = [Int](repeating: 1, count: 1000 + Int.random(in: 0..<2))
        let count = alloc_counter_stop()
        XCTAssertEqual(a.count >= 1000, true)
        XCTAssertGreaterThan(count, 0)
    }
}
