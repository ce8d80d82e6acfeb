// The sparse kernels (CSparse) against naive loops, on every instruction set
// this CPU has (portable C, AVX2, AVX-512): the build (count, prefix, fill)
// and its transpose reproduce the dense weight; SpMM and SDDMM match Double
// sums at densities from empty through one entry to full, with tail tiles,
// column sub-ranges, strides, accumulation and row ranges.
import XCTest
import CSparse
@testable import STRDistKernels
import STRDistTestSupport

final class SparseKernelTests: XCTestCase {
    override func tearDown() { _ = sp_force_isa(-1) }

    var isas: [Int32] { (0...Int(sp_force_isa(-1))).map { Int32($0) } }

    /// A rows × cols weight with about `density` of its entries nonzero (exactly one when density < 0).
    func weight(_ rows: Int, _ cols: Int, density: Double, seed: UInt64) -> [Float] {
        var rng = RNG(seed: seed, stream: 3)
        var w = (0..<rows * cols).map { _ in rng.uniform(0, 1) < density ? Float(rng.uniform(-1, 1)) : 0 }
        if density < 0 { w = [Float](repeating: 0, count: rows * cols); w[(rows * cols) / 2] = 0.75 }
        return w
    }

    /// The built operand as arrays: starts, offsets, indices, values.
    struct Built { var start: [Int32], offset: [Int32], index: [Int32], value: [Float], blocks: Int32, rows: Int32 }

    func build(_ w: [Float], rows: Int, cols: Int, blockCols: Int = 128, mask: [Float]? = nil) -> Built {
        let blocks = (cols + blockCols - 1) / blockCols
        var start = [Int32](repeating: 0, count: blocks * (rows + 1))
        let table = (0..<cols).map { Int32($0) }
        withMask(mask) { m in
            sp_count(w, m, 0, Int32(rows), Int32(cols), Int32(blockCols), 0, Int32(rows / 2), &start)
            sp_count(w, m, 0, Int32(rows), Int32(cols), Int32(blockCols), Int32(rows / 2), Int32(rows), &start)
        }
        let n = Int(sp_prefix(Int32(rows), Int32(blocks), &start))
        var offset = [Int32](repeating: -1, count: max(1, n)), index = offset, value = [Float](repeating: .nan, count: max(1, n))
        withMask(mask) { m in
            sp_fill(w, m, 0, Int32(rows), Int32(cols), Int32(blockCols), table, 0, Int32(rows), start, &offset, &index, &value)
        }
        return Built(start: start, offset: offset, index: index, value: value, blocks: Int32(blocks), rows: Int32(rows))
    }

    /// The transpose of `b` (rows = w's columns, offsets = w's rows), in blocks of `blockCols` of w's rows.
    func transposed(_ b: Built, rows: Int, cols: Int, blockCols: Int = 128) -> Built {
        let nnz = Int(b.start.last!), tBlocks = (rows + blockCols - 1) / blockCols
        var tStart = [Int32](repeating: 0, count: tBlocks * (cols + 1))
        var tOffset = [Int32](repeating: -1, count: max(1, nnz)), tValue = [Float](repeating: .nan, count: max(1, nnz))
        let trow = (0..<cols).map { Int32($0) }, tshift = [Int32](repeating: 0, count: cols)
        withMatrix(b) { m in
            _ = sp_transpose(m, b.index, Int32(cols), trow, tshift, 1, Int32(cols), Int32(blockCols), &tStart, &tOffset, &tValue)
        }
        return Built(start: tStart, offset: tOffset, index: [], value: tValue, blocks: Int32(tBlocks), rows: Int32(cols))
    }

    func withMask(_ mask: [Float]?, _ body: (UnsafePointer<Float>?) -> Void) {
        if let mask { mask.withUnsafeBufferPointer { body($0.baseAddress) } } else { body(nil) }
    }

    func withMatrix<R>(_ b: Built, _ body: (UnsafePointer<sp_matrix>) -> R) -> R {
        b.start.withUnsafeBufferPointer { s in
            b.offset.withUnsafeBufferPointer { o in
                b.value.withUnsafeBufferPointer { v in
                    var m = sp_matrix(rows: b.rows, blocks: b.blocks, start: s.baseAddress, offset: o.baseAddress, value: v.baseAddress)
                    return body(&m)
                }
            }
        }
    }

    func testBuildAndTransposeReproduceTheWeight() {
        for isa in isas { buildAndTranspose(isa) }
    }

    func buildAndTranspose(_ isa: Int32) {
        XCTAssertEqual(sp_force_isa(isa), isa)
        for (rows, cols) in [(1, 1), (3, 200), (37, 300), (130, 9), (5, 17)] {
            for density in [0, -1, 0.05, 0.5, 1] {
                let w = weight(rows, cols, density: density, seed: UInt64(rows * cols))
                let b = build(w, rows: rows, cols: cols)
                let n = Int(b.start.last!)
                XCTAssertEqual(n, w.filter { $0 != 0 }.count)
                var back = [Float](repeating: 0, count: rows * cols)
                sp_scatter(b.index, b.value, 0, Int64(n), &back)
                XCTAssertEqual(back, w, "isa \(isa) \(rows)×\(cols) density \(density)")
                // Entries of each (block, row) lie in that block and row, in column order.
                for blk in 0..<Int(b.blocks) { for i in 0..<rows {
                    let s = Int(b.start[blk * (rows + 1) + i]), e = Int(b.start[blk * (rows + 1) + i + 1])
                    for p in s..<e {
                        XCTAssertEqual(Int(b.index[p]) / cols, i); XCTAssertEqual(Int(b.offset[p]) / 128, blk)
                        if p > s { XCTAssertLessThan(b.offset[p - 1], b.offset[p]) }
                    }
                } }
                // The transpose: row k holds the column k entries, offset = row i.
                let tb = (rows + 127) / 128
                var ts = [Int32](repeating: 0, count: tb * (cols + 1)), to = [Int32](repeating: 0, count: max(1, n))
                var tv = [Float](repeating: 0, count: max(1, n))
                let ident = (0..<cols).map { Int32($0) }, zero = [Int32](repeating: 0, count: cols)
                withMatrix(b) { m in
                    XCTAssertEqual(sp_transpose(m, b.index, Int32(cols), ident, zero, 1, Int32(cols), 128, &ts, &to, &tv), Int64(n))
                }
                var wt = [Float](repeating: 0, count: rows * cols)
                for blk in 0..<tb { for k in 0..<cols {
                    for p in Int(ts[blk * (cols + 1) + k])..<Int(ts[blk * (cols + 1) + k + 1]) {
                        XCTAssertEqual(Int(to[p]) / 128, blk); wt[Int(to[p]) * cols + k] = tv[p]
                    }
                } }
                XCTAssertEqual(wt, w, "transpose \(rows)×\(cols) density \(density)")
            }
        }
        // A mask decides what is kept, zeros included.
        let w: [Float] = [0, 2, 3, 0], mask: [Float] = [1, 0, 1, 1]
        let b = build(w, rows: 2, cols: 2, mask: mask)
        XCTAssertEqual(Array(b.index.prefix(3)), [0, 2, 3])
        XCTAssertEqual(Array(b.value.prefix(3)), [0, 3, 0])
    }

    func testSpMMMatchesDoubleSumsOnEveryISA() {
        for isa in isas {
            XCTAssertEqual(sp_force_isa(isa), isa)
            // (4, 600, 333): many packed tiles, the last one short.
            for (rows, cols, n) in [(5, 7, 70), (17, 260, 129), (3, 1, 1), (64, 130, 200), (2, 300, 64), (4, 600, 333),
                                    (5, 40, 1500)] {
                for density in [0, -1, 0.02, 0.3, 1] {
                    let w = weight(rows, cols, density: density, seed: UInt64(7 + rows))
                    let b = build(w, rows: rows, cols: cols)
                    let stride = n + 5                       // B's rows are longer than the columns used
                    let bmat = randomArray(cols * stride, seed: 11)
                    var pack = [Float](repeating: .nan, count: 64 * cols)
                    let shift = randomArray(rows, seed: 17), residual = randomArray(rows * n, seed: 19)
                    let cases = [(0, n, false, false, false), (min(3, n), n, true, true, false), (n / 2, n, false, true, true),
                                 (0, n, true, false, true)]
                    for (q0, q1, accumulate, packs, epilogue) in cases {
                        var c = randomArray(rows * n, seed: 13)
                        let before = c
                        withMatrix(b) { m in
                            pack.withUnsafeMutableBufferPointer { p in
                                shift.withUnsafeBufferPointer { bias in
                                    sp_spmm(m, bmat, Int64(stride), Int32(cols), packs ? p.baseAddress : nil, Int64(q0), Int64(q1),
                                            &c, Int64(n), (accumulate ? SP_ACCUMULATE : 0) | (epilogue ? SP_RELU : 0),
                                            epilogue ? bias.baseAddress : nil, epilogue ? residual : nil)
                                }
                            }
                        }
                        var expected = before
                        for i in 0..<rows { for q in q0..<q1 {
                            var s = accumulate ? Double(before[i * n + q]) : 0
                            for k in 0..<cols { s += Double(w[i * cols + k]) * Double(bmat[k * stride + q]) }
                            expected[i * n + q] = epilogue ? Float(max(0, s + Double(shift[i]) + Double(residual[i * n + q]))) : Float(s)
                        } }
                        assertClose(c, expected, rtol: 1e-5, atol: 1e-5, "isa \(isa) \(rows)×\(cols)·\(n) d \(density) q \(q0)..<\(q1)")
                    }
                }
            }
        }
    }

    /// The narrow product (a recurrent step's few columns): Double sums of the same operands, every width
    /// up to 16, several blocks, rows of B longer than the columns read; and the same bits on every body.
    func testNarrowSpMMMatchesDoubleSumsAndIsTheSameOnEveryISA() {
        var results: [[Float]] = []
        for isa in isas {
            XCTAssertEqual(sp_force_isa(isa), isa)
            var all: [Float] = []
            for (rows, cols) in [(5, 7), (33, 300), (128, 128), (3, 1)] {
                for density in [0, -1, 0.15, 1] {
                    let w = weight(rows, cols, density: density, seed: UInt64(5 + cols))
                    let b = build(w, rows: rows, cols: cols)
                    for width in [1, 3, 8, 9, 16] {
                        let stride = width + 7, ldc = width + 2
                        let bmat = randomArray(cols * stride, seed: 23)
                        for accumulate in [false, true] {
                            var c = randomArray(rows * ldc, seed: 29)
                            let before = c
                            withMatrix(b) { m in
                                sp_spmm_narrow(m, bmat, Int64(stride), Int32(width), &c, Int64(ldc), accumulate ? SP_ACCUMULATE : 0)
                            }
                            var expected = before
                            for i in 0..<rows { for q in 0..<width {
                                var s = accumulate ? Double(before[i * ldc + q]) : 0
                                for k in 0..<cols { s += Double(w[i * cols + k]) * Double(bmat[k * stride + q]) }
                                expected[i * ldc + q] = Float(s)
                            } }
                            assertClose(c, expected, rtol: 1e-5, atol: 1e-5, "isa \(isa) \(rows)×\(cols)·\(width) d \(density)")
                            all += c
                        }
                    }
                }
            }
            results.append(all)
        }
        for r in results.dropFirst() { XCTAssertEqual(r.map(\.bitPattern), results[0].map(\.bitPattern), "the bodies differ") }
    }

    func testSDDMMMatchesDoubleSumsOnEveryISA() {
        for isa in isas {
            XCTAssertEqual(sp_force_isa(isa), isa)
            for (rows, cols, n) in [(5, 7, 300), (19, 140, 33), (1, 1, 1), (40, 20, 512), (3, 300, 70), (4, 600, 333), (3, 300, 450)] {
                for density in [0, -1, 0.1, 1] {
                    let w = weight(rows, cols, density: density, seed: UInt64(3 + cols))
                    let b = build(w, rows: rows, cols: cols)
                    let nnz = Int(b.start.last!)
                    let d = randomArray(rows * (n + 2), seed: 21), bmat = randomArray(cols * (n + 3), seed: 22)
                    var pack = [Float](repeating: .nan, count: 64 * cols)
                    for (q0, q1, r0, r1, packs) in [(0, n, 0, rows, false), (min(1, n), n, rows / 3, rows, true), (0, n, 0, rows, true)] {
                        var out = [Float](repeating: 0.5, count: max(1, nnz))
                        withMatrix(b) { m in
                            pack.withUnsafeMutableBufferPointer { p in
                                sp_sddmm(m, d, Int64(n + 2), bmat, Int64(n + 3), Int32(cols), packs ? p.baseAddress : nil,
                                         Int64(q0), Int64(q1), Int32(r0), Int32(r1), &out)
                            }
                        }
                        for p in 0..<nnz {
                            let i = Int(b.index[p]) / cols, k = Int(b.index[p]) % cols
                            var s = 0.5
                            if (r0..<r1).contains(i) {
                                for q in q0..<q1 { s += Double(d[i * (n + 2) + q]) * Double(bmat[k * (n + 3) + q]) }
                            }
                            assertClose(out[p], Float(s), rtol: 1e-5, atol: 1e-5, "isa \(isa) \(rows)×\(cols)·\(n) d \(density) entry \(p)")
                        }
                    }
                }
            }
        }
    }

    /// The fused pointwise backward: both products in one pass, against Double sums, on every ISA.
    func testPointwiseBackwardMatchesDoubleSumsOnEveryISA() {
        for isa in isas {
            XCTAssertEqual(sp_force_isa(isa), isa)
            for (rows, cols, n) in [(5, 7, 300), (19, 140, 33), (1, 1, 1), (40, 20, 129), (3, 300, 70)] {
                for density in [0, -1, 0.1, 1] {
                    let w = weight(rows, cols, density: density, seed: UInt64(5 + cols))
                    let b = build(w, rows: rows, cols: cols)
                    let nnz = Int(b.start.last!), t = transposed(b, rows: rows, cols: cols)
                    let ldd = n + 2, ldb = n + 3, ldc = n + 1
                    let d = randomArray(rows * ldd, seed: 31), bmat = randomArray(cols * ldb, seed: 32)
                    var pack = [Float](repeating: .nan, count: 64 * (rows + cols))
                    for (q0, q1, accumulate) in [(0, n, false), (min(1, n), n, true)] {
                        var out = [Float](repeating: 0.5, count: max(1, nnz))
                        var c = randomArray(cols * ldc, seed: 33)
                        let c0 = c
                        withMatrix(b) { m in
                            withMatrix(t) { mt in
                                pack.withUnsafeMutableBufferPointer { p in
                                    sp_pointwise_backward(m, mt, d, Int64(ldd), Int32(rows), bmat, Int64(ldb), Int32(cols),
                                                          p.baseAddress, Int64(q0), Int64(q1), &c, Int64(ldc),
                                                          accumulate ? SP_ACCUMULATE : 0, &out)
                                }
                            }
                        }
                        let label = "isa \(isa) \(rows)×\(cols)·\(n) d \(density) cols \(q0)..<\(q1)"
                        for p in 0..<nnz {
                            let i = Int(b.index[p]) / cols, k = Int(b.index[p]) % cols
                            var s = 0.5
                            for q in q0..<q1 { s += Double(d[i * ldd + q]) * Double(bmat[k * ldb + q]) }
                            assertClose(out[p], Float(s), rtol: 1e-5, atol: 1e-5, label + " entry \(p)")
                        }
                        for k in 0..<cols {
                            for q in 0..<ldc {
                                var s = Double(c0[k * ldc + q])
                                if (q0..<q1).contains(q) {
                                    s = accumulate ? s : 0
                                    for i in 0..<rows { s += Double(w[i * cols + k]) * Double(d[i * ldd + q]) }
                                }
                                assertClose(c[k * ldc + q], Float(s), rtol: 1e-5, atol: 1e-5, label + " ∂X[\(k), \(q)]")
                            }
                        }
                    }
                }
            }
        }
    }

    /// SP_STREAM changes how full tiles reach memory, never what they hold: on every ISA the streamed
    /// product equals the cached one bit for bit, on a 64-byte-aligned C (the non-temporal path) and one
    /// 4 bytes off (the fallback), with the epilogue, accumulation, short tails and column ranges that
    /// start mid-tile, in one block or several; the pointwise backward's ∂X likewise. (Which blocks' stores
    /// stream — only the last — is not visible in the values.)
    func testStreamedStoresEqualCachedStoresOnEveryISA() {
        for isa in isas { for blockCols in [128, 16] {
            XCTAssertEqual(sp_force_isa(isa), isa)
            let rows = 24, cols = 40, n = 64 * 5 + 17
            let w = weight(rows, cols, density: 0.3, seed: 41), b = build(w, rows: rows, cols: cols, blockCols: blockCols)
            let bmat = randomArray(cols * n, seed: 42), bias = randomArray(rows, seed: 43)
            let size = max(rows, cols) * n + 16   // C for the product (rows) and for ∂X (cols), plus the offset
            let residual = randomArray(rows * n, seed: 44), start = randomArray(size, seed: 45)
            var pack = [Float](repeating: 0, count: 64 * (rows + cols))
            let c = UnsafeMutableRawPointer.allocate(byteCount: 4 * size, alignment: 64).bindMemory(to: Float.self, capacity: size)
            defer { c.deallocate() }
            for misalign in [0, 1] {
                for (q0, flags, epilogue) in [(0, 0, false), (0, SP_RELU, true), (5, SP_ACCUMULATE, false), (64, SP_ACCUMULATE | SP_RELU, true)] {
                    var results: [[Float]] = []
                    for stream in [0, SP_STREAM] {
                        c.update(from: start, count: size)
                        withMatrix(b) { m in
                            pack.withUnsafeMutableBufferPointer { p in
                                sp_spmm(m, bmat, Int64(n), Int32(cols), p.baseAddress, Int64(q0), Int64(n), c + misalign,
                                        Int64(n), flags | stream, epilogue ? bias : nil, epilogue ? residual : nil)
                            }
                        }
                        results.append(Array(UnsafeBufferPointer(start: c, count: size)))
                    }
                    XCTAssertEqual(results[0], results[1], "isa \(isa) blocks of \(blockCols) misalign \(misalign) from \(q0) flags \(flags)")
                    XCTAssertNotEqual(results[0], start, "the product wrote nothing")
                    XCTAssertEqual(results[0][(misalign + rows * n)...], start[(misalign + rows * n)...], "past C")
                }
                // The pointwise backward's ∂X: rows = w's columns.
                let nnz = Int(b.start.last!), d = randomArray(rows * n, seed: 46)
                let t = transposed(b, rows: rows, cols: cols, blockCols: blockCols)
                var results: [[Float]] = [], sums: [[Float]] = []
                for stream in [0, SP_STREAM] {
                    c.update(from: start, count: size)
                    var out = [Float](repeating: 0, count: nnz)
                    withMatrix(b) { m in
                        withMatrix(t) { mt in
                            pack.withUnsafeMutableBufferPointer { p in
                                sp_pointwise_backward(m, mt, d, Int64(n), Int32(rows), bmat, Int64(n), Int32(cols), p.baseAddress,
                                                      0, Int64(n), c + misalign, Int64(n), stream, &out)
                            }
                        }
                    }
                    results.append(Array(UnsafeBufferPointer(start: c, count: size)))
                    sums.append(out)
                }
                XCTAssertEqual(results[0], results[1], "isa \(isa) misalign \(misalign): pointwise ∂X")
                XCTAssertEqual(sums[0], sums[1], "isa \(isa) misalign \(misalign): pointwise ∂W")
            }
        } }
    }
}
