import XCTest
@testable import STRDist

final class BatchNormTests: XCTestCase {
    func testForwardMatchesNaive() {
        let layout = ParameterLayout()
        let bn = BatchNorm2d("bn", channels: 3, fuseReLU: true, layout: layout)
        let h = LayerHarness(bn, layout, input: ActShape(channels: 3, batch: 5, height: 7, width: 3), threads: 2)
        h.layer.forward(h.ctx)
        let x = Array(UnsafeBufferPointer(start: h.x, count: h.input.shape.count))
        let gamma = Array(h.store.value("bn.weight")), beta = Array(h.store.value("bn.bias"))
        let ref = Naive.batchNorm(x: x, channels: 3, m: 5 * 7 * 3, gamma: gamma, beta: beta, relu: true)
        assertClose(h.outputArray(), ref.y, rtol: 1e-4, atol: 1e-5)
    }

    func testRunningStatisticsByHand() {
        // One channel, values 1, 2, 3, 6: mean 3, biased var 3.5, unbiased var 14/3.
        let layout = ParameterLayout()
        let bn = BatchNorm2d("bn", channels: 1, layout: layout)
        let h = LayerHarness(bn, layout, input: ActShape(channels: 1, batch: 2, height: 1, width: 2))
        bn.initialize(h.store, seed: 0)
        for (i, v) in [Float(1), 2, 3, 6].enumerated() { h.x[i] = v }
        bn.forward(h.ctx)
        assertClose(h.store.value("bn.running_mean")[0], 0.9 * 0 + 0.1 * 3)
        assertClose(h.store.value("bn.running_var")[0], 0.9 * 1 + 0.1 * 14 / 3)
        XCTAssertEqual(h.store.value("bn.num_batches_tracked")[0], 1)
        // Normalised with the biased variance: (1 − 3)/√(3.5 + 1e-5).
        assertClose(h.y[0], -2 / (3.5 + 1e-5).squareRoot())
        bn.forward(h.ctx)
        assertClose(h.store.value("bn.running_mean")[0], 0.9 * 0.3 + 0.1 * 3)
        assertClose(h.store.value("bn.running_var")[0], 0.9 * (0.9 + 0.1 * 14 / 3) + 0.1 * 14 / 3)
        XCTAssertEqual(h.store.value("bn.num_batches_tracked")[0], 2)
    }

    func testEvalUsesRunningStatistics() {
        let layout = ParameterLayout()
        let bn = BatchNorm2d("bn", channels: 2, layout: layout)
        let h = LayerHarness(bn, layout, input: ActShape(channels: 2, batch: 1, height: 1, width: 2))
        bn.initialize(h.store, seed: 0)
        h.store.value("bn.running_mean")[1] = 2
        h.store.value("bn.running_var")[1] = 4
        h.store.value("bn.weight")[1] = 3
        h.store.value("bn.bias")[1] = 0.5
        for (i, v) in [Float(1), -1, 4, 6].enumerated() { h.x[i] = v }
        h.ctx.training = false
        bn.forward(h.ctx)
        assertClose(h.outputArray(), [1 / (1 + 1e-5).squareRoot(), -1 / (1 + 1e-5).squareRoot(),
                                      3 * 2 / (4 + 1e-5).squareRoot() + 0.5, 3 * 4 / (4 + 1e-5).squareRoot() + 0.5])
        XCTAssertEqual(h.store.value("bn.num_batches_tracked")[0], 0, "evaluation must not touch the buffers")
    }
}
