// The sparse path with bf16 operands (precision: bf16): every layout (pointwise, shifted planes, im2col
// columns), forward, ∂X and the kept-only ∂Ŵ against the naive convolution of the input, the effective
// weight and ∂Y rounded to bf16, summed in Double, on the portable body everywhere and the AVX512_BF16
// one where the CPU has it, 1 and 3 threads (DNW's dense straight-through ∂Ŵ stays an fp32 GEMM).
import XCTest
import CBFloat16
@testable import STRDist

extension SparseConvKernelTests {
    func testBF16ForwardMatchesNaiveOnRoundedOperands() {
        let bodies = BFloat16.cpuHasArithmetic ? [0, 1] : [0]
        defer { _ = BFloat16.force(isa: nil) }
        func rounded(_ v: [Float]) -> [Float] { v.map { bf16_to_float(bf16_from_float($0)) } }
        for body in bodies {
            XCTAssertEqual(BFloat16.force(isa: body), body)
            for t in Self.cases {
                let g = ConvGeometry(inChannels: t.c, outChannels: t.o, kernel: (t.k, t.k), stride: (t.s, t.s),
                                     padding: (t.p, t.p), batch: t.n, inH: t.h, inW: t.w)
                for (kind, density) in [(SparseKind.str, 0.3), (.str, -1), (.gmp, 1), (.dnw, 0.5)] {
                    for threads in [1, 3] {
                        let label = "body \(body) \(t) \(kind) density \(density) threads \(threads)"
                        let (conv, h) = harness(t, kind, density: density, algorithm: .sparse, threads: threads, precision: .bf16)
                        let dy = randomArray(h.output.shape.count, seed: 98)
                        h.backward(dy)
                        XCTAssert(conv.execution.isSparse && conv.geometry!.sparseBF16, label)
                        XCTAssert(conv.profileKey.hasSuffix("sparse bf16"), label)
                        let ew = Array(UnsafeBufferPointer(start: conv.computeEffectiveWeight(h.ctx), count: g.weightCount))
                        let x = Array(UnsafeBufferPointer(start: h.x, count: h.input.shape.count))
                        let bias = t.bias ? Array(h.store.value("c.bias")) : nil
                        let y = Naive.convForward(x: rounded(x), w: rounded(ew), bias: bias, g)
                        assertClose(h.outputArray(), y, rtol: 1e-4, atol: 1e-5, "y " + label)
                        // The gradients: products of the rounded operands too (∂Ŵ at the kept positions only).
                        let naive = Naive.convBackward(x: rounded(x), w: rounded(ew), dy: rounded(dy), g)
                        let dx = Array(UnsafeBufferPointer(start: h.ctx.workspace.grad(h.input)!, count: x.count))
                        assertClose(dx, naive.dx, rtol: 1e-4, atol: 1e-5, "dx " + label)
                        let mask = conv.transform.keepMask(h.ctx)
                        let dense = Naive.convBackward(x: x, w: ew, dy: dy, g).dw   // DNW's straight-through ∂Ŵ stays fp32
                        let expectedDW = conv.transform.gradientRule != .keptOnly ? dense : (0..<g.weightCount).map { i in
                            (mask.map { $0[i] != 0 } ?? (ew[i] != 0)) ? naive.dw[i] : 0
                        }
                        assertClose(Array(h.store.grad("c.weight")), expectedDW, rtol: 1e-4, atol: 1e-5, "dw " + label)
                    }
                }
            }
        }
    }

    /// Each case as an STR conv at 30% in bf16 on the sparse kernels after one forward, on each body, 1 and 3 threads.
    func forEachSparseBF16Conv(_ check: (_ label: String, Case, Conv2d, LayerHarness, SparseLayout, CompressedWeight) -> Void) {
        let bodies = BFloat16.cpuHasArithmetic ? [0, 1] : [0]
        defer { _ = BFloat16.force(isa: nil) }
        for body in bodies {
            XCTAssertEqual(BFloat16.force(isa: body), body)
            for t in Self.cases {
                for threads in [1, 3] {
                    let label = "body \(body) \(t) threads \(threads)"
                    let (conv, h) = harness(t, .str, density: 0.3, algorithm: .sparse, threads: threads, precision: .bf16)
                    conv.forward(h.ctx)
                    guard case .sparse(let layout) = conv.execution, let c = conv.compressed else { return XCTFail(label) }
                    check(label, t, conv, h, layout, c)
                }
            }
        }
    }

    /// A bf16 output (for a BatchNorm that takes it so: BF16Handoff) is the fp32 output rounded by bf16_round, bit
    /// for bit, on every layout (the C store's rounding, the shifted planes' cropped store too), with the bias, both bodies,
    /// 1 and 3 threads.
    func testBF16OutputIsTheRoundedFP32One() {
        forEachSparseBF16Conv { label, t, conv, h, layout, c in
            let y = h.outputArray(), g = conv.geometry!
            XCTAssertGreaterThan(Set(y).count, t.o, "\(label): an output that carries the input")
            var expected = [UInt16](repeating: 0, count: y.count)
            bf16_round(y, &expected, Int64(y.count))
            var out = [Float](repeating: .nan, count: y.count)
            out.withUnsafeMutableBufferPointer { o in
                SparseConvKernels.forward(x: h.x, w: c.operand(h.ctx), bias: conv.bias.map { UnsafePointer(h.ctx.param($0)) },
                                          relu: false, y: o.baseAddress!, yBF16: true, g, layout, bf16: true,
                                          pool: h.ctx.pool, scratch: conv.scratch(h.ctx))
            }
            let written = out.withUnsafeBytes { Array($0.bindMemory(to: UInt16.self).prefix(y.count)) }
            let differ = expected.indices.filter { expected[$0] != written[$0] }
            XCTAssertTrue(differ.isEmpty, "\(label) (\(layout)): \(differ.count) of \(y.count) differ, first at \(differ.first ?? -1)")
        }
    }

    /// A bf16 input (a BatchNorm's output handed over so: BF16Handoff) gives the bits of the fp32 input it was
    /// rounded from — the output and the kept-only ∂Ŵ (∂X does not read x) — on the pointwise and shifted layouts (tiles
    /// copied into the pack, planes padded from it), with the bias, both bodies, 1 and 3 threads.
    func testBF16InputGivesTheBitsOfTheFP32InputItWasRoundedFrom() {
        var layoutsSeen = Set<String>()
        forEachSparseBF16Conv { label, t, conv, h, layout, c in
            guard layout != .columns else { return }
            layoutsSeen.insert("\(layout)")
            let g = conv.geometry!, n = h.input.shape.count
            var xh = [Float](repeating: .nan, count: n)   // bf16 in the first half of an fp32-sized buffer, as planned
            xh.withUnsafeMutableBytes { bf16_round(h.x, $0.bindMemory(to: UInt16.self).baseAddress!, Int64(n)) }
            let bias = conv.bias.map { UnsafePointer(h.ctx.param($0)) }
            let dy = randomArray(g.outChannels * g.columns, seed: 71)
            let runs: [(y: [Float], sums: [Float])] = [false, true].map { xBF16 in
                var y = [Float](repeating: .nan, count: g.outChannels * g.columns)
                var dx = [Float](repeating: .nan, count: n), dw = [Float](repeating: .nan, count: g.weightCount)
                xh.withUnsafeBufferPointer { xb in
                    let x = xBF16 ? xb.baseAddress! : UnsafePointer(h.x)
                    SparseConvKernels.forward(x: x, xBF16: xBF16, w: c.operand(h.ctx), bias: bias, relu: false, y: &y, g,
                                              layout, bf16: true, pool: h.ctx.pool, scratch: conv.scratch(h.ctx))
                    SparseConvKernels.backward(x: x, xBF16: xBF16, w: c.operand(h.ctx), dy: dy, dx: &dx, accumulate: false,
                                               dw: &dw, keptOnly: true, denseWeight: conv.computeEffectiveWeight(h.ctx),
                                               dbias: nil, g, layout, bf16: true, pool: h.ctx.pool, scratch: conv.scratch(h.ctx))
                }
                return (y, dw)
            }
            XCTAssertGreaterThan(Set(runs[0].y).count, t.o, "\(label): an output that carries the input")
            XCTAssertGreaterThan(Set(runs[0].sums).count, 2, "\(label): weight gradients that carry the input")
            XCTAssertEqual(runs[1].y.map(\.bitPattern), runs[0].y.map(\.bitPattern), "y, \(label) (\(layout))")
            XCTAssertEqual(runs[1].sums.map(\.bitPattern), runs[0].sums.map(\.bitPattern), "∂Ŵ, \(label) (\(layout))")
        }
        XCTAssertEqual(layoutsSeen, ["pointwise", "shifted"])
    }
}
