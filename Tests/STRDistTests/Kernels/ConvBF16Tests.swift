// Convolutions with bf16 operands (precision: bf16) against the naive direct convolution of the same
// operands rounded to bf16, summed in Double: forward, ∂X (overwritten and accumulated) and ∂W, on
// every body the CPU has (the portable one everywhere), one and several threads, one chunk and many.
import XCTest
@testable import STRDist

final class ConvBF16Tests: XCTestCase {
    typealias Case = ConvKernelTests.Case

    static let cases: [Case] = [
        Case(c: 3, o: 5, k: 3, p: 1),                       // odd sizes, padding
        Case(c: 4, o: 6, k: 3, s: 2, p: 1, bias: true),      // stride 2, bias
        Case(c: 5, o: 4, k: 1),                             // pointwise: the input packed directly
        Case(c: 6, o: 4, k: 1, s: 2),                       // 1×1 stride 2
        Case(c: 6, o: 4, k: 3, s: 1, p: 1, g: 2),           // groups
        Case(c: 4, o: 6, k: 1, g: 2),                       // grouped pointwise
        Case(c: 3, o: 4, k: 7, s: 2, p: 3, h: 13, w: 11),   // stem-like 7×7/2
        Case(c: 2, o: 3, k: 7, s: 2, p: 3, n: 2, h: 5, w: 45),  // … rows of 23 outputs: the stride-2 gather's vector path
        Case(c: 8, o: 10, k: 1, n: 5, h: 1, w: 1, bias: true), // classifier on [C, N, 1, 1]
        Case(c: 33, o: 17, k: 3, p: 1, n: 2, h: 9, w: 9),   // odd channel counts past a tile
        Case(c: 40, o: 50, k: 1, n: 3, h: 8, w: 9),         // 50 rows: partial tiles of 8 rows
    ]

    override func tearDown() { BFloat16.force(isa: nil) }

    func run(_ t: Case, threads: Int, chunkBudget: Int, accumulate: Bool, minPieceColumns: Int = 1) {
        // The budget of a bf16 piece: 1 cuts every image into single output rows (by default no floor on a
        // piece's columns here, so that these small images are cut too).
        let saved = (ConvGeometry.pieceBudget, ConvGeometry.minPieceColumns)
        (ConvGeometry.pieceBudget, ConvGeometry.minPieceColumns) = (chunkBudget, minPieceColumns)
        defer { (ConvGeometry.pieceBudget, ConvGeometry.minPieceColumns) = saved }
        var g = ConvGeometry(inChannels: t.c, outChannels: t.o, kernel: (t.k, t.k), stride: (t.s, t.s),
                             padding: (t.p, t.p), dilation: (t.d, t.d), groups: t.g, batch: t.n, inH: t.h, inW: t.w)
        g.bf16 = true
        let x = randomArray(t.c * t.n * t.h * t.w, seed: 1), w = randomArray(g.weightCount, seed: 2)
        let b = t.bias ? randomArray(t.o, seed: 3) : nil
        let dy = randomArray(g.outChannels * g.columns, seed: 4)
        let dxStart = randomArray(x.count, seed: 5)
        let pool = ThreadPool(threads: threads)
        let perThread = max(1, g.scratchPerThread), scratchFloats = perThread * threads
        var scratch = [Float](repeating: 0, count: scratchFloats + g.sharedScratch(threads: threads))
        var halves = [UInt16](repeating: 0xFFFF, count: g.bf16ScratchPerThread * threads)
        var packed = [UInt16](repeating: 0xFFFF, count: g.bf16WeightCount)
        var y = [Float](repeating: .nan, count: g.outChannels * g.columns)
        var dx = accumulate ? dxStart : [Float](repeating: .nan, count: x.count)
        var dw = [Float](repeating: .nan, count: g.weightCount), db = [Float](repeating: .nan, count: t.o)
        scratch.withUnsafeMutableBufferPointer { s in
          halves.withUnsafeMutableBufferPointer { h in
            packed.withUnsafeMutableBufferPointer { p in
              db.withUnsafeMutableBufferPointer { dbp in
                let cs = ConvScratch(base: s.baseAddress!, stride: perThread, partials: s.baseAddress! + scratchFloats,
                                     halves: h.baseAddress!, halfStride: g.bf16ScratchPerThread)
                let wb = BF16Weight(rows: p.baseAddress!, transposed: p.baseAddress! + g.groups * g.groupOut * g.evenColRows)
                ConvKernels.packWeight(w, g, into: wb, transposed: true, pool: pool)
                ConvKernels.forward(x: x, w: w, bias: b, y: &y, g, pool: pool, scratch: cs, bf16: wb)
                ConvKernels.backward(x: x, w: w, dy: dy, dx: &dx, accumulate: accumulate, dw: &dw,
                                     dbias: t.bias ? dbp.baseAddress : nil, g, pool: pool, scratch: cs, bf16: wb)
              }
            }
          }
        }
        let label = "\(t) body \(BFloat16.isa) threads \(threads) budget \(chunkBudget) accumulate \(accumulate)"
        let r = { (v: [Float]) in v.map(BFloat16.rounded) }
        let yRef = Naive.convForward(x: r(x), w: r(w), bias: b, g)
        assertClose(y, yRef, rtol: 1e-4, atol: 1e-4, "forward \(label)")
        let ref = Naive.convBackward(x: r(x), w: r(w), dy: r(dy), g)
        let dxRef = accumulate ? zip(ref.dx, dxStart).map { $0 + $1 } : ref.dx
        assertClose(dx, dxRef, rtol: 1e-4, atol: 1e-4, "dx \(label)")
        assertClose(dw, ref.dw, rtol: 1e-4, atol: 1e-4, "dw \(label)")
        // The bias gradient is a plain fp32 sum of ∂Y.
        if t.bias { assertClose(db, Naive.convBackward(x: x, w: w, dy: dy, g).db, rtol: 1e-4, atol: 1e-4, "db \(label)") }
        // Not the fp32 result: the operands were rounded (else this test could not tell).
        let fp32 = Naive.convForward(x: x, w: w, bias: b, g)
        XCTAssertGreaterThan(zip(y, fp32).map { abs($0 - $1) }.max()!, 1e-5, "forward \(label) is not bf16")
    }

    func testMatchesNaiveOnRoundedOperands() {
        for body in BFloat16.cpuHasArithmetic ? [0, 1] : [0] {
            BFloat16.force(isa: body)
            for t in Self.cases {
                run(t, threads: 1, chunkBudget: 1 << 20, accumulate: false)
                run(t, threads: 3, chunkBudget: 1, accumulate: true)    // one output row per piece, partial sums
                run(t, threads: 2, chunkBudget: 300, accumulate: false) // pieces of a few rows, or of whole images
                // Pieces the floor sizes: several rows, or several images with a thinner last piece.
                run(t, threads: 2, chunkBudget: 1, accumulate: true, minPieceColumns: 40)
            }
        }
    }

    /// Pieces hold at least `minPieceColumns` columns where the images have them: ResNet50's 3×3/2
    /// 512→512 conv at batch 16 (7×7 outputs) had run in pieces of 28 and 21 columns, each re-reading the
    /// 4.7 MB weight forward and adding into the 9.4 MB ∂W backward (45 → 27 ms per backward).
    func testPiecesAreNotThinnerThanTheFloor() {
        func g(_ c: Int, _ o: Int, k: Int, s: Int = 1, n: Int = 16, h: Int) -> ConvGeometry {
            var g = ConvGeometry(inChannels: c, outChannels: o, kernel: (k, k), stride: (s, s), padding: (k / 2, k / 2),
                                 batch: n, inH: h, inW: h)
            g.bf16 = true
            return g
        }
        XCTAssertEqual(ConvGeometry.minPieceColumns, 256)
        let late = g(512, 512, k: 3, s: 2, h: 14)           // 4608 × 49 columns per image: over the budget
        XCTAssertNil(late.rowsPerPiece, "whole images")
        XCTAssertEqual(late.pieceColumns, 6 * 49)
        let mid = g(256, 256, k: 3, s: 2, h: 28)            // 14 output rows of 14
        XCTAssertEqual(mid.rowsPerPiece, nil, "19 rows of 14 would be more than the image's 14")
        XCTAssertEqual(mid.pieceColumns, 2 * 196)
        let stem = g(3, 64, k: 7, s: 2, h: 224)              // 147 × 112 columns per output row
        XCTAssertEqual(stem.rowsPerPiece, 7, "the budget's rows: more than the floor's 3")
        XCTAssertEqual(stem.pieceColumns, 7 * 112)
        let small = g(64, 64, k: 3, n: 2, h: 4)              // all the batch has: 32 columns
        XCTAssertEqual(small.pieceColumns, 2 * 16)
    }

    func testPlannerRunsBF16OnlyWhereItPays() {
        func g(_ c: Int, _ o: Int, k: Int, s: Int = 1, n: Int = 16, h: Int = 56) -> ConvGeometry {
            ConvGeometry(inChannels: c, outChannels: o, kernel: (k, k), stride: (s, s), padding: (k / 2, k / 2),
                         batch: n, inH: h, inW: h)
        }
        XCTAssertTrue(ConvPlanner.bf16Products(g(64, 256, k: 1), plan: .gemm, precision: .bf16))
        XCTAssertTrue(ConvPlanner.bf16Products(g(128, 128, k: 3, s: 2), plan: .im2col, precision: .bf16))
        XCTAssertFalse(ConvPlanner.bf16Products(g(64, 256, k: 1), plan: .gemm, precision: .fp32), "fp32")
        XCTAssertFalse(ConvPlanner.bf16Products(g(64, 64, k: 3), plan: .winograd, precision: .bf16), "Winograd stays fp32")
        XCTAssertTrue(ConvPlanner.bf16Products(g(3, 64, k: 7, s: 2, h: 224), plan: .im2col, precision: .bf16), "the 7×7 stem")
        XCTAssertFalse(ConvPlanner.bf16Products(g(2048, 1000, k: 1, h: 1), plan: .gemm, precision: .bf16), "classifier at batch 16")
    }
}
