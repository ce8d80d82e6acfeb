// Convs forced onto the sparse kernels (conv_algorithm sparse) against the
// naive Double convolution and against the same layer on the dense path:
// forward, input gradient, and the weight gradient — at the kept positions
// only for STR and GMP (zeros elsewhere), dense for DNW and DenseConv — for
// pointwise, strided, padded, odd-sized and stem-like shapes, densities from
// empty through one kept weight to full, and 1, 2 and 3 threads — on every
// instruction set this CPU has (the fused backward and the residual store
// too, so the AVX2 bodies are checked on an AVX-512 machine).
import XCTest
import CSparse
import CBFloat16
@testable import STRDist

final class SparseConvKernelTests: XCTestCase {
    struct Case { var c: Int, o: Int, k: Int, s = 1, p = 0, n = 2, h = 7, w = 6, bias = false }

    static let cases: [Case] = [
        Case(c: 5, o: 4, k: 1),                               // pointwise: the input is the column matrix
        Case(c: 70, o: 9, k: 1, n: 3, h: 5, w: 9),            // pointwise, tail tiles, several column blocks
        Case(c: 6, o: 4, k: 1, s: 2),                         // 1×1 stride 2 (downsample): im2col
        Case(c: 3, o: 5, k: 3, p: 1),                         // 3×3 same
        Case(c: 16, o: 17, k: 3, p: 1, n: 2, h: 8, w: 8),     // Winograd's shape on the dense path
        Case(c: 4, o: 6, k: 3, s: 2, p: 1, bias: true),       // stride 2, bias
        Case(c: 3, o: 4, k: 7, s: 2, p: 3, h: 13, w: 11),     // stem-like 7×7/2
        Case(c: 8, o: 10, k: 1, n: 5, h: 1, w: 1, bias: true), // classifier on [C, N, 1, 1], last_layer_dense bias
        Case(c: 6, o: 5, k: 3, p: 1, n: 2, h: 16, w: 15, bias: true), // shifted planes (OW ≥ 14)
        Case(c: 3, o: 4, k: 5, p: 2, n: 3, h: 5, w: 17),      // shifted, 5×5, short planes
        Case(c: 4, o: 3, k: 3, p: 0, n: 2, h: 9, w: 18),      // shifted, no padding (valid conv)
        Case(c: 5, o: 6, k: 3, s: 2, p: 1, n: 2, h: 29, w: 30, bias: true), // stride 2 on phase planes (OW ≥ 14)
        Case(c: 3, o: 4, k: 3, s: 2, p: 0, n: 2, h: 12, w: 33), // phase planes, no padding, odd width
        Case(c: 2, o: 3, k: 2, s: 2, p: 0, n: 3, h: 9, w: 31),  // phase planes, 2×2/2: one tap per phase
        Case(c: 3, o: 5, k: 7, s: 2, p: 3, n: 2, h: 9, w: 29),  // 7×7/2 stem as wide: phase planes (fp32 products)
    ]

    /// A conv of `kind` forced sparse (or dense) with weights pruned to about `density`.
    func harness(_ t: Case, _ kind: SparseKind, density: Double, algorithm: ConvAlgorithm, threads: Int,
                 precision: Precision = .fp32) -> (Conv2d, LayerHarness) {
        let layout = ParameterLayout()
        let conv = Conv2d("c", inChannels: t.c, outChannels: t.o, kernelSize: t.k, stride: t.s, padding: t.p, bias: t.bias,
                          kind: kind, layout: layout)
        conv.algorithm = algorithm
        conv.precision = precision
        let h = LayerHarness(conv, layout, input: ActShape(channels: t.c, batch: t.n, height: t.h, width: t.w), threads: threads)
        let w = h.store.value("c.weight")
        if kind == .str { for i in 0..<w.count { w[i] *= 0.4 } }   // every |w| below 1, so any threshold is a sigmoid
        let magnitudes = w.map { abs($0) }.sorted()
        let pruned = density < 0 ? w.count - 1 : min(w.count, Int((1 - density) * Double(w.count)))
        switch kind {
        case SparseKind.str:
            // Threshold between the pruned-th and next magnitude (all pruned: above the largest).
            let g = pruned == 0 ? 0 : pruned >= w.count ? Double(magnitudes.last!) * 2
                : (Double(magnitudes[pruned - 1]) + Double(magnitudes[pruned])) / 2
            h.store.value("c.sparseThreshold")[0] = g == 0 ? -3200 : Float(log(g / (1 - g)))
        case SparseKind.dnw, SparseKind.gmp:
            (conv.transform as! MagnitudeWeight).pruneRate = Float(pruned) / Float(w.count) + 1e-7
        default:
            let cut = pruned == 0 ? -1 : magnitudes[pruned - 1]
            for i in 0..<w.count where abs(w[i]) <= cut { w[i] = 0 }
        }
        return (conv, h)
    }

    override func tearDown() { _ = sp_force_isa(-1) }

    func testSparsePathMatchesNaiveAndDense() {
        for isa in 0...sp_force_isa(-1) {
            XCTAssertEqual(sp_force_isa(isa), isa)
            sparsePathMatchesNaiveAndDense(isa: isa)
        }
    }

    func sparsePathMatchesNaiveAndDense(isa: Int32) {
        for t in Self.cases {
            let g = ConvGeometry(inChannels: t.c, outChannels: t.o, kernel: (t.k, t.k), stride: (t.s, t.s),
                                 padding: (t.p, t.p), batch: t.n, inH: t.h, inW: t.w)
            for kind in SparseKind.allCases {
                for density in [0.0, -1, 0.1, 0.5, 1] {
                    for threads in [1, 2, 3] {
                        let label = "isa \(isa) \(t) \(kind) density \(density) threads \(threads)"
                        let (sconv, s) = harness(t, kind, density: density, algorithm: .sparse, threads: threads)
                        let (_, d) = harness(t, kind, density: density, algorithm: .im2col, threads: threads)
                        let r = randomArray(s.output.shape.count, seed: 99)
                        s.backward(r); d.backward(r)
                        XCTAssert(sconv.execution.isSparse, label)
                        // Shifted planes at stride 1, phase planes at stride 2 (fp32 here, so the 7×7/2 too): as planned.
                        let planes = t.k > 1 && g.outW >= 14 && t.s <= 2
                        XCTAssertEqual(sconv.sparseLayout, planes ? .shifted : t.k == 1 && t.s == 1 ? .pointwise : .columns, label)
                        // The effective weight the sparse run used, and naive results from it.
                        let ew = Array(UnsafeBufferPointer(start: sconv.computeEffectiveWeight(s.ctx), count: g.weightCount))
                        let x = Array(UnsafeBufferPointer(start: s.x, count: s.input.shape.count))
                        let bias = t.bias ? Array(s.store.value("c.bias")) : nil
                        let y = Naive.convForward(x: x, w: ew, bias: bias, g)
                        let naive = Naive.convBackward(x: x, w: ew, dy: r, g)
                        assertClose(s.outputArray(), y, rtol: 1e-4, atol: 1e-5, "y " + label)
                        let dx = Array(UnsafeBufferPointer(start: s.ctx.workspace.grad(s.input)!, count: x.count))
                        assertClose(dx, naive.dx, rtol: 1e-4, atol: 1e-5, "dx " + label)
                        let mask = sconv.transform.keepMask(s.ctx)
                        let kept = (0..<g.weightCount).map { i in mask.map { $0[i] != 0 } ?? (ew[i] != 0) }
                        let expectedDW = (0..<g.weightCount).map {
                            sconv.transform.gradientRule == .keptOnly && !kept[$0] ? 0 : naive.dw[$0]
                        }
                        assertClose(Array(s.store.grad("c.weight")), expectedDW, rtol: 1e-4, atol: 1e-5, "dw " + label)
                        // Every parameter gradient (STR's threshold too) as the dense path gives it.
                        for e in s.store.parameters.entries {
                            assertClose(Array(s.store.grad(e.key)), Array(d.store.grad(e.key)), rtol: 1e-4, atol: 1e-5,
                                        "\(e.key) vs dense, " + label)
                        }
                    }
                }
            }
        }
    }

    /// The weight gradient alone (no ∂X: the stem's backward) on every layout, fp32 and bf16, against the naive
    /// kept-only ∂Ŵ (of the bf16-rounded operands under bf16).
    func testWeightGradientWithoutInputGradientMatchesNaive() {
        func rounded(_ v: [Float]) -> [Float] { v.map { bf16_to_float(bf16_from_float($0)) } }
        for precision in [Precision.fp32, .bf16] {
            for t in Self.cases {
                let label = "\(precision) \(t)"
                let (conv, h) = harness(t, .str, density: 0.3, algorithm: .sparse, threads: 2, precision: precision)
                conv.forward(h.ctx)
                guard case .sparse(let layout) = conv.execution, let c = conv.compressed else { return XCTFail(label) }
                let g = conv.geometry!, bf16 = precision == .bf16
                let x = Array(UnsafeBufferPointer(start: h.x, count: h.input.shape.count))
                let ew = Array(UnsafeBufferPointer(start: conv.computeEffectiveWeight(h.ctx), count: g.weightCount))
                let dy = randomArray(g.outChannels * g.columns, seed: 57)
                var dw = [Float](repeating: .nan, count: g.weightCount)
                SparseConvKernels.backward(x: h.x, w: c.operand(h.ctx), dy: dy, dx: nil, accumulate: false, dw: &dw, keptOnly: true,
                                           denseWeight: conv.computeEffectiveWeight(h.ctx), dbias: nil, g, layout, bf16: bf16,
                                           pool: h.ctx.pool, scratch: conv.scratch(h.ctx))
                let naive = bf16 ? Naive.convBackward(x: rounded(x), w: rounded(ew), dy: rounded(dy), g).dw
                    : Naive.convBackward(x: x, w: ew, dy: dy, g).dw
                let mask = conv.transform.keepMask(h.ctx)
                let expected = (0..<g.weightCount).map { i in (mask.map { $0[i] != 0 } ?? (ew[i] != 0)) ? naive[i] : 0 }
                XCTAssertGreaterThan(Set(expected).count, 2, label)
                assertClose(dw, expected, rtol: 1e-4, atol: 1e-5, "dw " + label)
            }
        }
    }

    /// A 7×7/2 conv whose dense plan has bf16 products keeps im2col columns (the bf16 GEMM beat the phase
    /// planes); with fp32 products, or bf16 ones on too few columns for the GEMM, it takes phase planes.
    func testTheStridedSevenBySevenTakesPlanesUnlessItsDensePlanIsBF16() {
        let wide = Case(c: 3, o: 5, k: 7, s: 2, p: 3, n: 2, h: 9, w: 29)
        let saved = ConvPlanner.bf16Minimum
        defer { ConvPlanner.bf16Minimum = saved }
        for (minimum, precision, expected) in [((1, 256), Precision.fp32, SparseLayout.shifted), ((1, 256), .bf16, .shifted),
                                               ((0, 0), .bf16, .columns), ((0, 0), .fp32, .shifted)] {
            ConvPlanner.bf16Minimum = minimum
            let (conv, _) = harness(wide, .str, density: 0.3, algorithm: .sparse, threads: 1, precision: precision)
            XCTAssertEqual(conv.geometry!.bf16, precision == .bf16 && minimum == (0, 0), "\(minimum) \(precision)")
            XCTAssertEqual(conv.sparseLayout, expected, "\(minimum) \(precision)")
        }
    }

    /// DNW's straight-through gradient is not the derivative of its forward, so it is checked above only.
    func testGradientCheckOnTheSparsePath() {
        for kind in [SparseKind.dense, .str, .gmp] {
            let (_, h) = harness(Case(c: 3, o: 4, k: 3, p: 1, n: 2, h: 5, w: 4), kind, density: 0.5, algorithm: .sparse, threads: 2)
            h.check(h: 1e-3)
        }
    }
}
