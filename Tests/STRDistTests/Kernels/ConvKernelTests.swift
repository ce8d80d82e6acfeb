// Fast convolution kernels (im2col + GEMM, pointwise, depthwise) against
// the naive direct convolution, forward and backward, single- and
// multi-threaded, in one chunk and in many.
import XCTest
@testable import STRDist

final class ConvKernelTests: XCTestCase {
    struct Case {
        var c: Int, o: Int, k: Int, s: Int = 1, p: Int = 0, d: Int = 1, g: Int = 1
        var n: Int = 3, h: Int = 9, w: Int = 7, bias = false
        /// Force Winograd F(4×4, 3×3) (it is chosen on its own only from 16 channels up).
        var winograd = false
    }

    static let cases: [Case] = [
        Case(c: 3, o: 5, k: 3, p: 1),                       // odd sizes, padding
        Case(c: 4, o: 6, k: 3, s: 2, p: 1, bias: true),      // stride 2, bias
        Case(c: 5, o: 4, k: 1),                             // pointwise: no im2col
        Case(c: 6, o: 4, k: 1, s: 2),                       // 1×1 stride 2 (downsample)
        Case(c: 6, o: 4, k: 3, p: 2, d: 2),                 // dilation
        Case(c: 6, o: 4, k: 3, s: 1, p: 1, g: 2),           // groups
        Case(c: 4, o: 6, k: 1, g: 2),                       // grouped pointwise
        Case(c: 6, o: 6, k: 3, p: 1, g: 6, bias: true),     // depthwise
        Case(c: 5, o: 5, k: 3, s: 2, p: 1, g: 5, h: 10),    // depthwise stride 2
        Case(c: 4, o: 4, k: 3, s: 2, p: 1, g: 4, n: 2, h: 7, w: 9, bias: true),  // depthwise stride 2, odd planes
        Case(c: 3, o: 3, k: 3, p: 1, g: 3, n: 2, h: 14, w: 14),                  // depthwise, MobileNet's 14×14
        Case(c: 3, o: 3, k: 5, p: 2, g: 3, n: 2, h: 6, w: 11),                   // depthwise 5×5
        Case(c: 2, o: 2, k: 3, s: 3, p: 0, g: 2, h: 10, w: 8),                   // depthwise stride 3, no padding
        Case(c: 2, o: 2, k: 3, p: 2, d: 2, g: 2, h: 6, w: 7),                    // depthwise dilated: the direct path
        Case(c: 2, o: 2, k: 3, p: 1, g: 2, h: 1, w: 1),                          // depthwise on a 1×1 plane
        Case(c: 2, o: 2, k: 3, s: 2, p: 1, g: 2, n: 2, h: 5, w: 70),             // depthwise stride 2, long rows
        Case(c: 2, o: 2, k: 5, s: 2, p: 2, g: 2, n: 1, h: 6, w: 67, bias: true), // … even padding
        Case(c: 3, o: 4, k: 7, s: 2, p: 3, h: 13, w: 11),   // stem-like 7×7/2
        Case(c: 2, o: 3, k: 7, s: 2, p: 3, n: 2, h: 5, w: 45),  // … rows of 23 outputs: the stride-2 gather's vector path
        Case(c: 2, o: 3, k: 3, s: 2, p: 0, n: 2, h: 5, w: 36),  // stride 2 without padding, 17 outputs a row
        Case(c: 8, o: 10, k: 1, n: 5, h: 1, w: 1, bias: true), // classifier on [C, N, 1, 1]
        Case(c: 2, o: 3, k: 5, p: 2, h: 6, w: 5),           // "same" 5×5: shifts of two columns
        Case(c: 2, o: 2, k: 3, p: 1, h: 1, w: 1),           // "same" 3×3 on a 1×1 image
        Case(c: 2, o: 2, k: 3, p: 1, h: 2, w: 3),           // "same" on a tiny plane
        Case(c: 3, o: 5, k: 3, p: 1, winograd: true),                          // partial tiles both ways
        Case(c: 4, o: 3, k: 3, p: 1, n: 4, h: 8, w: 12, bias: true, winograd: true),  // whole tiles, bias
        Case(c: 2, o: 4, k: 3, p: 0, n: 2, h: 11, w: 6, winograd: true),        // no padding
        Case(c: 3, o: 2, k: 3, p: 2, n: 3, h: 5, w: 3, winograd: true),         // padding 2
        Case(c: 2, o: 3, k: 3, p: 1, n: 2, h: 1, w: 2, winograd: true),         // smaller than a tile
        Case(c: 16, o: 16, k: 3, p: 1, n: 2, h: 6, w: 6),                       // chosen by itself
        Case(c: 256, o: 16, k: 3, p: 1, n: 2, h: 8, w: 8),                      // long sums: Winograd's rounding
    ]

    /// `chunkBudget` below one image's columns sends the forward to runs of output rows, `pieceBudget`
    /// floats each (1: single rows).
    func run(_ t: Case, threads: Int, chunkBudget: Int, pieceBudget: Int = 1 << 17) {
        let saved = (ConvGeometry.chunkBudget, ConvGeometry.pieceBudget)
        ConvGeometry.chunkBudget = chunkBudget; ConvGeometry.pieceBudget = pieceBudget
        defer { (ConvGeometry.chunkBudget, ConvGeometry.pieceBudget) = saved }
        let g = geometry(t)
        let x = randomArray(t.c * t.n * t.h * t.w, seed: 1)
        let w = randomArray(g.weightCount, seed: 2)
        let b = t.bias ? randomArray(t.o, seed: 3) : nil
        let dy = randomArray(g.outChannels * g.columns, seed: 4)
        let pool = ThreadPool(threads: threads)
        let scratchFloats = max(1, g.scratchPerThread) * threads
        var scratch = [Float](repeating: 0, count: scratchFloats + g.sharedScratch(threads: threads))
        var y = [Float](repeating: .nan, count: g.outChannels * g.columns)
        var dx = [Float](repeating: .nan, count: x.count), dw = [Float](repeating: .nan, count: g.weightCount)
        var db = [Float](repeating: .nan, count: t.o)
        scratch.withUnsafeMutableBufferPointer { s in
          db.withUnsafeMutableBufferPointer { dbp in
            let dbias = t.bias ? dbp.baseAddress : nil
            let cs = ConvScratch(base: s.baseAddress!, stride: max(1, g.scratchPerThread),
                                 partials: s.baseAddress! + scratchFloats)
            if g.isDepthwise {
                DepthwiseKernels.forward(x: x, w: w, bias: b, y: &y, g, pool: pool, scratch: cs)
                DepthwiseKernels.backward(x: x, w: w, dy: dy, dx: &dx, accumulate: false, dw: &dw,
                                          dbias: dbias, g, pool: pool, scratch: cs)
            } else {
                ConvKernels.forward(x: x, w: w, bias: b, y: &y, g, pool: pool, scratch: cs)
                ConvKernels.backward(x: x, w: w, dy: dy, dx: &dx, accumulate: false, dw: &dw,
                                     dbias: dbias, g, pool: pool, scratch: cs)
            }
          }
        }
        let label = "\(t) threads \(threads) budget \(chunkBudget) piece \(pieceBudget)"
        // Winograd's transforms round at ~1e-5 of the outputs' scale (F(4×4, 3×3) in float32), so an
        // output near zero in a long sum is held to that scale, not to its own size.
        func atol(_ ref: [Float]) -> Float { g.winograd ? max(1e-4, 2e-5 * ref.map(abs).max()!) : 1e-4 }
        let yRef = Naive.convForward(x: x, w: w, bias: b, g)
        assertClose(y, yRef, rtol: 1e-4, atol: atol(yRef), "forward \(label)")
        let ref = Naive.convBackward(x: x, w: w, dy: dy, g)
        assertClose(dx, ref.dx, rtol: 1e-4, atol: atol(ref.dx), "dx \(label)")
        assertClose(dw, ref.dw, rtol: 1e-4, atol: atol(ref.dw), "dw \(label)")
        if t.bias { assertClose(db, ref.db, rtol: 1e-4, atol: 1e-4, "db \(label)") }
    }

    func geometry(_ t: Case) -> ConvGeometry {
        var g = ConvGeometry(inChannels: t.c, outChannels: t.o, kernel: (t.k, t.k), stride: (t.s, t.s),
                             padding: (t.p, t.p), dilation: (t.d, t.d), groups: t.g, batch: t.n, inH: t.h, inW: t.w)
        g.winograd = t.winograd || ConvPlanner.densePlan(g, algorithm: .auto) == .winograd
        return g
    }

    func testWinogradIsChosenOnlyWhereItApplies() {
        func plan(_ t: Case, _ algorithm: ConvAlgorithm = .auto) -> ConvPlan {
            ConvPlanner.densePlan(ConvGeometry(inChannels: t.c, outChannels: t.o, kernel: (t.k, t.k), stride: (t.s, t.s),
                                               padding: (t.p, t.p), dilation: (t.d, t.d), groups: t.g, batch: t.n,
                                               inH: t.h, inW: t.w), algorithm: algorithm)
        }
        XCTAssertEqual(plan(Self.cases.last!), .winograd)
        XCTAssertEqual(plan(Self.cases[0]), .im2col, "3 channels: im2col")
        XCTAssertEqual(plan(Case(c: 16, o: 16, k: 3, s: 2, p: 1)), .im2col, "stride 2")
        XCTAssertEqual(plan(Case(c: 16, o: 16, k: 3, p: 2, d: 2)), .im2col, "dilation")
        XCTAssertEqual(plan(Case(c: 16, o: 16, k: 3, p: 1, g: 2)), .im2col, "groups")
        XCTAssertEqual(plan(Case(c: 64, o: 64, k: 3, p: 1), .im2col), .im2col, "conv_algorithm im2col")
        XCTAssertEqual(plan(Case(c: 64, o: 64, k: 1)), .gemm, "pointwise")
        XCTAssertEqual(plan(Case(c: 16, o: 16, k: 3, p: 1, g: 16)), .depthwise)
    }

    func testMatchesNaiveSingleThreadOneChunk() { for t in Self.cases { run(t, threads: 1, chunkBudget: 1 << 20) } }
    func testMatchesNaiveSingleThreadManyChunks() { for t in Self.cases { run(t, threads: 1, chunkBudget: 1) } }
    func testMatchesNaiveSingleOutputRowsPerPiece() { for t in Self.cases { run(t, threads: 1, chunkBudget: 1, pieceBudget: 1) } }
    func testMatchesNaiveTwoThreads() { for t in Self.cases { run(t, threads: 2, chunkBudget: 1 << 20) } }
    func testMatchesNaiveThreeThreadsManyChunks() { for t in Self.cases { run(t, threads: 3, chunkBudget: 100, pieceBudget: 100) } }

    /// Winograd's chunked mode (threads take images and walk their tile rows in chunks, several images'
    /// rows in one chunk where they fit): these planes are small enough for the point split by default,
    /// so the split is turned off and chunks of one tile row, of all a thread's rows, and of a few are forced.
    func testWinogradInChunksMatchesNaive() {
        let saved = (WinogradPlan.pointSplitTiles, WinogradPlan.minChunkTiles)
        defer { (WinogradPlan.pointSplitTiles, WinogradPlan.minChunkTiles) = saved }
        (WinogradPlan.pointSplitTiles, WinogradPlan.minChunkTiles) = (0, 1)
        let cases = Self.cases.filter { geometry($0).winograd }
        XCTAssertGreaterThanOrEqual(cases.count, 6)
        for t in cases {
            XCTAssertFalse(WinogradPlan(geometry(t)).splitsPoints)
            run(t, threads: 1, chunkBudget: 1)
            run(t, threads: 2, chunkBudget: 1 << 20)
            run(t, threads: 3, chunkBudget: 5000)
        }
    }

    func testAccumulateAddsToInputGradient() {
        for t in [Self.cases[0], Self.cases[2], Self.cases[7], Self.cases[9], Self.cases[12], Self.cases[15], Self.cases[24], Self.cases[26]] {
            let g = geometry(t)
            let x = randomArray(t.c * t.n * t.h * t.w, seed: 1), w = randomArray(g.weightCount, seed: 2)
            let dy = randomArray(g.outChannels * g.columns, seed: 4)
            let pool = ThreadPool(threads: 2)
            var scratch = [Float](repeating: 0, count: 2 * max(1, g.scratchPerThread) + g.sharedScratch(threads: 2))
            let start = randomArray(x.count, seed: 8)
            var dx = start, dw = [Float](repeating: 0, count: g.weightCount)
            scratch.withUnsafeMutableBufferPointer { s in
                let cs = ConvScratch(base: s.baseAddress!, stride: max(1, g.scratchPerThread),
                                     partials: s.baseAddress! + 2 * max(1, g.scratchPerThread))
                if g.isDepthwise {
                    DepthwiseKernels.backward(x: x, w: w, dy: dy, dx: &dx, accumulate: true, dw: &dw, dbias: nil, g,
                                              pool: pool, scratch: cs)
                } else {
                    ConvKernels.backward(x: x, w: w, dy: dy, dx: &dx, accumulate: true, dw: &dw, dbias: nil, g,
                                         pool: pool, scratch: cs)
                }
            }
            let ref = Naive.convBackward(x: x, w: w, dy: dy, g).dx
            assertClose(dx, zip(start, ref).map { $0 + $1 }, rtol: 1e-4, atol: 1e-4, "\(t)")
        }
    }

    func testGeometryOutputSizes() {
        let stem = ConvGeometry(inChannels: 3, outChannels: 64, kernel: (7, 7), stride: (2, 2), padding: (3, 3),
                                batch: 1, inH: 224, inW: 224)
        XCTAssertEqual(stem.outH, 112)
        XCTAssertEqual(stem.macs, 118_013_952)   // ResNet50 conv1 FLOPs in STR_Budgets_ResNet50.csv
        let down = ConvGeometry(inChannels: 256, outChannels: 512, kernel: (1, 1), stride: (2, 2), batch: 1, inH: 56, inW: 56)
        XCTAssertEqual(down.outH, 28)
        XCTAssertFalse(down.isPointwise)
    }
}
