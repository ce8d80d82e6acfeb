// Every layer kind's backward against central finite differences.
import XCTest
@testable import STRDist

final class GradientCheckTests: XCTestCase {
    func conv(_ c: Int, _ o: Int, k: Int, s: Int = 1, p: Int = 0, d: Int = 1, g: Int = 1, bias: Bool = false,
              shape: ActShape, threads: Int = 1) {
        let layout = ParameterLayout()
        let layer = Conv2d("conv", inChannels: c, outChannels: o, kernelSize: k, stride: s, padding: p, dilation: d,
                           groups: g, bias: bias, layout: layout)
        LayerHarness(layer, layout, input: shape, threads: threads).check()
    }

    func testConvOddSizesPadding() { conv(3, 4, k: 3, p: 1, shape: ActShape(channels: 3, batch: 2, height: 7, width: 5)) }
    func testConvStride2Bias() {
        conv(3, 4, k: 3, s: 2, p: 1, bias: true, shape: ActShape(channels: 3, batch: 2, height: 9, width: 8))
    }
    func testConvPointwise() { conv(5, 3, k: 1, shape: ActShape(channels: 5, batch: 3, height: 4, width: 3)) }
    func testConvDilatedGrouped() {
        conv(4, 6, k: 3, p: 2, d: 2, g: 2, shape: ActShape(channels: 4, batch: 2, height: 7, width: 7), threads: 2)
    }
    func testConvDepthwise() {
        conv(4, 4, k: 3, s: 2, p: 1, g: 4, bias: true, shape: ActShape(channels: 4, batch: 2, height: 7, width: 6),
             threads: 2)
    }
    func testConvClassifier() { conv(6, 5, k: 1, bias: true, shape: ActShape(channels: 6, batch: 4, height: 1, width: 1)) }

    func testBatchNormAffine() {
        let layout = ParameterLayout()
        let bn = BatchNorm2d("bn", channels: 3, layout: layout)
        LayerHarness(bn, layout, input: ActShape(channels: 3, batch: 4, height: 3, width: 5)).check(h: 1e-2)
    }

    func testBatchNormNonAffineWithFusedReLU() {
        let layout = ParameterLayout()
        let bn = BatchNorm2d("bn", channels: 3, affine: false, fuseReLU: true, layout: layout)
        LayerHarness(bn, layout, input: ActShape(channels: 3, batch: 4, height: 3, width: 5), threads: 2)
            .check(h: 1e-3)
    }

    func testReLU() {
        let layout = ParameterLayout()
        LayerHarness(ReLU(), layout, input: ActShape(channels: 2, batch: 3, height: 4, width: 5)).check(h: 1e-3)
    }

    func testMaxPoolWithPadding() {
        let layout = ParameterLayout()
        let h = LayerHarness(MaxPool2d(kernelSize: 3, stride: 2, padding: 1), layout,
                             input: ActShape(channels: 2, batch: 2, height: 7, width: 6))
        distinctValues(h.x, 2 * 2 * 7 * 6)
        h.check(h: 1e-3)
    }

    func testAvgPool() {
        let layout = ParameterLayout()
        LayerHarness(AvgPool2d(kernelSize: 2), layout, input: ActShape(channels: 2, batch: 2, height: 6, width: 4)).check()
    }

    func testGlobalAvgPool() {
        let layout = ParameterLayout()
        LayerHarness(GlobalAvgPool(), layout, input: ActShape(channels: 3, batch: 2, height: 5, width: 3)).check()
    }

    func testStackWithResidualAccumulatesGradient() {
        // x feeds the conv branch and the identity shortcut: ∂f/∂x must be the sum of both paths.
        let layout = ParameterLayout()
        let block = ResidualProbe(layout: layout)
        LayerHarness(block, layout, input: ActShape(channels: 3, batch: 2, height: 5, width: 5), threads: 2)
            .check(h: 1e-3)
    }

    /// Values −1 … 1 in a shuffled order, at least 2/count apart, so no window has a near-tie.
    func distinctValues(_ p: UnsafeMutablePointer<Float>, _ count: Int) {
        var rng = RNG(seed: 3)
        let order = (0..<count).shuffled(using: &rng)
        for (i, o) in order.enumerated() { p[i] = Float(o) / Float(count) * 2 - 1 }
    }
}

/// relu(bn(conv(x)) + x): a two-consumer input, as in a ResNet basic block.
final class ResidualProbe: Layer {
    let conv: Conv2d, bn: BatchNorm2d, join = AddReLU()
    init(layout: ParameterLayout) {
        conv = Conv2d("c", inChannels: 3, outChannels: 3, kernelSize: 3, padding: 1, layout: layout)
        bn = BatchNorm2d("b", channels: 3, layout: layout)
    }
    func plan(_ input: ActRef, _ planner: WorkspacePlanner) -> ActRef {
        join.plan(bn.plan(conv.plan(input, planner), planner), input, planner)
    }
    func forward(_ ctx: StepContext) { conv.forward(ctx); bn.forward(ctx); join.forward(ctx) }
    func backward(_ ctx: StepContext) { join.backward(ctx); bn.backward(ctx); conv.backward(ctx) }
    func initialize(_ store: ParameterStore, seed: UInt64) { conv.initialize(store, seed: seed); bn.initialize(store, seed: seed) }
}
