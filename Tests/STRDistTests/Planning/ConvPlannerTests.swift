// ConvPlanner: the dense plan and the sparse layout of each kind of conv a model has, and the
// per-step choice between them (its hysteresis is in SparsePlanTests, on a real model).
import XCTest
@testable import STRDist

final class ConvPlannerTests: XCTestCase {
    func geometry(_ c: Int, _ o: Int, k: Int, s: Int = 1, groups: Int = 1, size: Int = 14) -> ConvGeometry {
        ConvGeometry(inChannels: c, outChannels: o, kernel: (k, k), stride: (s, s), padding: (k / 2, k / 2),
                     groups: groups, batch: 2, inH: size, inW: size)
    }

    func testEachShapeGetsItsDenseAndSparsePlan() {
        let cases: [(ConvGeometry, ConvPlan, SparseLayout, String)] = [
            (geometry(64, 256, k: 1), .gemm, .pointwise, "1×1 stride 1"),
            (geometry(256, 512, k: 1, s: 2), .im2col, .columns, "1×1 stride 2 (downsample)"),
            (geometry(64, 64, k: 3), .winograd, .shifted, "3×3 stride 1 at 14×14"),
            (geometry(64, 64, k: 3, size: 7), .im2col, .columns, "3×3 stride 1 at 7×7, two images: too few tiles"),
            (geometry(128, 128, k: 3, s: 2), .im2col, .columns, "3×3 stride 2 at 14×14: too few tiles"),
            (geometry(128, 128, k: 3, s: 2, size: 56), .im2col, .shifted, "3×3 stride 2 at 56×56: phase planes"),
            (geometry(3, 64, k: 7, s: 2, size: 224), .im2col, .shifted, "the 7×7 stem, fp32: phase planes"),
            (geometry(32, 32, k: 3, groups: 32), .depthwise, .columns, "depthwise"),
        ]
        for (g, dense, layout, what) in cases {
            XCTAssertEqual(ConvPlanner.densePlan(g, algorithm: .auto), dense, what)
            if !g.isDepthwise { XCTAssertEqual(ConvPlanner.sparseLayout(g), layout, what) }
        }
        // With bf16 products on its dense plan the stem keeps im2col columns (the bf16 GEMM beat the planes);
        // a 3×3/2 takes phase planes either way.
        var stem = geometry(3, 64, k: 7, s: 2, size: 224), strided = geometry(128, 128, k: 3, s: 2, size: 56)
        stem.bf16 = true; strided.bf16 = true
        XCTAssertEqual(ConvPlanner.sparseLayout(stem), .columns, "the 7×7 stem, bf16 products")
        XCTAssertEqual(ConvPlanner.sparseLayout(strided), .shifted, "3×3/2, bf16 products")
        XCTAssertEqual(ConvPlanner.densePlan(geometry(64, 64, k: 3), algorithm: .im2col), .im2col, "conv_algorithm im2col")
        XCTAssertEqual(ConvPlanner.densePlan(geometry(64, 64, k: 3, size: 7), algorithm: .winograd), .winograd,
                       "conv_algorithm winograd")
        XCTAssertEqual(ConvPlanner.densePlan(geometry(64, 64, k: 3, s: 2), algorithm: .winograd), .im2col,
                       "conv_algorithm winograd: only where it applies")
        XCTAssertEqual(ConvPlanner.densePlan(geometry(64, 64, k: 3), algorithm: .sparse), .im2col,
                       "forced sparse: its dense plan (for DNW's dense weight gradient) is im2col")
    }

    /// Winograd or im2col is the cost model's call: the cheaper training step. At ResNet50's 3×3 shapes
    /// (batch 16, 224×224) it is Winograd, as measured: a dense step took 2.91 s with every 3×3 stride-1
    /// conv on Winograd and 3.66 s with none (`strdist bench-sparse --arch ResNet50 --batch 16`, Zen 4).
    func testWinogradOrIm2colIsDecidedByCost() {
        let cost = SparseCostModel.default
        for (c, size, batch) in [(64, 56, 16), (128, 28, 16), (256, 14, 16), (512, 7, 16)] {
            let g = ConvGeometry(inChannels: c, outChannels: c, kernel: (3, 3), stride: (1, 1), padding: (1, 1),
                                 batch: batch, inH: size, inW: size)
            XCTAssertEqual(ConvPlanner.densePlan(g, algorithm: .auto), .winograd, "\(c)@\(size)")
        }
        for c in [3, 8, 16, 64, 256] {
            for size in [4, 7, 16, 32] {
                let g = geometry(c, 64, k: 3, size: size)
                let cheaper: ConvPlan = cost.seconds(g, .winograd, training: true) < cost.seconds(g, .im2col, training: true)
                    ? .winograd : .im2col
                XCTAssertEqual(ConvPlanner.densePlan(g, algorithm: .auto), cheaper, "\(c)@\(size)")
            }
        }
    }

    func testTheChoiceFollowsDensityAndNamesThePlan() {
        let g = geometry(256, 256, k: 1)
        func choose(_ density: Double, _ current: ConvPlan) -> ConvPlan {
            ConvPlanner.choose(g, dense: .gemm, sparse: .pointwise, density: density, current: current, training: true,
                               keptOnlyGradient: true)
        }
        XCTAssertEqual(choose(0.02, .gemm), .sparse(.pointwise), "2% dense: the sparse kernels pay")
        XCTAssertEqual(choose(0.6, .sparse(.pointwise)), .gemm, "above the planned capacity: dense")
        XCTAssertEqual(choose(1, .gemm), .gemm)
        XCTAssertEqual([ConvPlan.depthwise, .gemm, .im2col, .winograd, .sparse(.shifted)].map(\.name),
                       ["depthwise", "gemm", "im2col", "winograd", "sparse"])
    }

    /// In bf16 the dense GEMM gains more than the sparse kernels (bf16MAC against bf16SparseMAC), so the
    /// sparse kernels must be sparser to pay.
    func testBF16MovesTheCrossoverToLowerDensity() {
        for (c, o, k) in [(256, 256, 1), (128, 128, 3)] {
            var g = geometry(c, o, k: k)
            let dense: ConvPlan = k == 1 ? .gemm : .im2col, sparse = ConvPlanner.sparseLayout(g)
            func crossover() -> Double {
                let cost = SparseCostModel.default
                let d = cost.seconds(g, dense, training: true)
                return stride(from: 0.5, to: 0, by: -0.005).first {
                    cost.seconds(g, .sparse(sparse), density: $0, training: true, dense: dense) < d
                } ?? 0
            }
            let fp32 = crossover()
            g.bf16 = true
            let denseOnly = crossover()
            g.sparseBF16 = true   // precision bf16: the sparse kernels' products are bf16 too, but gain less
            let bf16 = crossover()
            XCTAssertLessThan(bf16, fp32, "\(c)→\(o) \(k)×\(k): sparse pays below \(fp32) in fp32, \(bf16) in bf16")
            XCTAssertGreaterThan(bf16, denseOnly, "\(c)→\(o) \(k)×\(k): bf16 sparse kernels pay at higher density than fp32 ones")
            XCTAssertGreaterThan(denseOnly, 0.5 * fp32, "\(c)→\(o) \(k)×\(k): a bf16 product is about twice as fast, not more")
        }
    }
}
