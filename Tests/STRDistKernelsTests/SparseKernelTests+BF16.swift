// The bf16 SpMM (sp_spmm_bf16: fp32 operand rounded into the pack; sp_spmm_bf16_planes: bf16 operand at
// flat offsets) and the bf16 backward (sp_backward_bf16, sp_backward_bf16_planes: SDDMM and transposed
// SpMM) against Double sums of the rounded operands, on the portable body everywhere and the AVX512_BF16
// one where the CPU has it — and the two bodies bit for bit: odd and even entry counts per row and block
// (the lone last entry, SDDMM groups of 16 and their tails), tail tiles, column sub-ranges, accumulation,
// the epilogue and streamed stores.
import XCTest
import CSparse
import CBFloat16
@testable import STRDistKernels
import STRDistTestSupport

extension SparseKernelTests {
    var bf16Bodies: [Int] { BFloat16.cpuHasArithmetic ? [0, 1] : [0] }

    /// (rows, cols, columns n) of the bf16 cases: blocks of 128 columns, tails, one row, many tiles.
    var bf16Shapes: [(Int, Int, Int)] { [(5, 7, 70), (17, 260, 129), (3, 1, 1), (64, 130, 200), (2, 300, 64), (4, 600, 333)] }

    func rounded(_ x: [Float]) -> [Float] { x.map { bf16_to_float(bf16_from_float($0)) } }

    /// One product on `body`: the pack path (fp32 B, row stride `stride`) or the planes path (B rounded
    /// to bf16, offsets as flat positions k·stride).
    func bf16Product(body: Int, planes: Bool, _ b: Built, w: [Float], cols: Int, n: Int, stride: Int, bmat: [Float],
                     q: Range<Int>, flags: Int32, shift: [Float]?, residual: [Float]?, bInPlace: Bool = false, c: inout [Float]) {
        XCTAssertEqual(BFloat16.force(isa: body), body)
        defer { _ = BFloat16.force(isa: nil) }
        var operand = b
        if planes { operand.offset = b.offset.map { $0 * Int32(stride) } }
        let bh = bmat.map { bf16_from_float($0) }
        var pack = [UInt16](repeating: 0xFFFF, count: 64 * cols)
        withMatrix(operand) { m in
            withMask(shift) { bias in
                withMask(residual) { r in
                    if planes {
                        sp_spmm_bf16_planes(m, bh, Int64(q.lowerBound), Int64(q.upperBound), &c, Int64(n), flags, bias, r)
                    } else if bInPlace {
                        sp_spmm_bf16(m, bh, Int64(stride), Int32(cols), &pack, Int64(q.lowerBound), Int64(q.upperBound),
                                     &c, Int64(n), flags | SP_B_BF16, bias, r)
                    } else {
                        sp_spmm_bf16(m, bmat, Int64(stride), Int32(cols), &pack, Int64(q.lowerBound), Int64(q.upperBound),
                                     &c, Int64(n), flags, bias, r)
                    }
                }
            }
        }
    }

    func testBF16SpMMMatchesDoubleSumsOfRoundedOperands() {
        for body in bf16Bodies { for planes in [false, true] {
            for (rows, cols, n) in bf16Shapes {
                for density in [0, -1, 0.02, 0.3, 1] {
                    let w = weight(rows, cols, density: density, seed: UInt64(7 + rows))
                    let b = build(w, rows: rows, cols: cols)
                    let stride = n + 5
                    let bmat = randomArray(cols * stride, seed: 11)
                    let wr = rounded(w), br = rounded(bmat)
                    let shift = randomArray(rows, seed: 17), residual = randomArray(rows * n, seed: 19)
                    for (q0, q1, accumulate, epilogue) in [(0, n, false, false), (min(3, n), n, true, false),
                                                           (n / 2, n, false, true), (0, n, true, true)] {
                        var c = randomArray(rows * n, seed: 13)
                        let before = c
                        bf16Product(body: body, planes: planes, b, w: w, cols: cols, n: n, stride: stride, bmat: bmat,
                                    q: q0..<q1, flags: (accumulate ? SP_ACCUMULATE : 0) | (epilogue ? SP_RELU : 0),
                                    shift: epilogue ? shift : nil, residual: epilogue ? residual : nil, c: &c)
                        var expected = before
                        for i in 0..<rows { for q in q0..<q1 {
                            var s = accumulate ? Double(before[i * n + q]) : 0
                            for k in 0..<cols { s += Double(wr[i * cols + k]) * Double(br[k * stride + q]) }
                            expected[i * n + q] = epilogue ? Float(max(0, s + Double(shift[i]) + Double(residual[i * n + q]))) : Float(s)
                        } }
                        assertClose(c, expected, rtol: 1e-5, atol: 1e-5,
                                    "body \(body) planes \(planes) \(rows)×\(cols)·\(n) d \(density) q \(q0)..<\(q1)")
                    }
                }
            }
        } }
    }

    func testBF16SpMMBodiesGiveTheSameBits() throws {
        try XCTSkipUnless(BFloat16.cpuHasArithmetic, "this CPU has no AVX512_BF16: only the portable body runs here")
        for planes in [false, true] {
            for (rows, cols, n) in bf16Shapes + [(40, 1100, 256)] {
                for density in [-1, 0.05, 0.3, 1] {
                    let w = weight(rows, cols, density: density, seed: UInt64(3 + cols))
                    let b = build(w, rows: rows, cols: cols, blockCols: 96)
                    let stride = n + 3
                    let bmat = randomArray(cols * stride, seed: 5)
                    let shift = randomArray(rows, seed: 6), residual = randomArray(rows * n, seed: 8)
                    for (q0, flags, epilogue) in [(0, Int32(0), false), (n / 3, SP_ACCUMULATE, false),
                                                  (0, SP_RELU | SP_STREAM, true), (1, SP_ACCUMULATE | SP_RELU, true)] {
                        let start = randomArray(rows * n, seed: 9)
                        var results: [[Float]] = []
                        for body in [0, 1] {
                            var c = start
                            bf16Product(body: body, planes: planes, b, w: w, cols: cols, n: n, stride: stride, bmat: bmat,
                                        q: q0..<n, flags: flags, shift: epilogue ? shift : nil,
                                        residual: epilogue ? residual : nil, c: &c)
                            results.append(c)
                        }
                        let differ = results[0].indices.filter { results[0][$0].bitPattern != results[1][$0].bitPattern }
                        XCTAssertTrue(differ.isEmpty, "planes \(planes) \(rows)×\(cols)·\(n) d \(density) from \(q0) flags "
                                      + "\(flags): \(differ.count) values differ, first at \(differ.first ?? -1)")
                    }
                }
            }
        }
    }

    /// The transpose of a built operand (rows = w's columns, offsets = w's rows).
    func transposed(_ b: Built, rows: Int, cols: Int) -> Built {
        let nnz = Int(b.start.last!), tBlocks = (rows + 127) / 128
        var tStart = [Int32](repeating: 0, count: tBlocks * (cols + 1))
        var tOffset = [Int32](repeating: -1, count: max(1, nnz)), tValue = [Float](repeating: .nan, count: max(1, nnz))
        let trow = (0..<cols).map { Int32($0) }, tshift = [Int32](repeating: 0, count: cols)
        withMatrix(b) { m in
            _ = sp_transpose(m, b.index, Int32(cols), trow, tshift, 1, Int32(cols), 128, &tStart, &tOffset, &tValue)
        }
        return Built(start: tStart, offset: tOffset, index: [], value: tValue, blocks: Int32(tBlocks), rows: Int32(cols))
    }

    /// One bf16 backward on `body` (packed fp32 operands, or bf16 planes at flat offsets): entry sums `out`
    /// (started at 0.5) and ∂X `c` (rows = w's columns, ldc = n + 1). `dInPlace`: the packed variant reads D
    /// already rounded to bf16 (SP_D_BF16).
    func bf16Backward(body: Int, planes: Bool, _ b: Built, _ t: Built, rows: Int, cols: Int, n: Int, d: [Float], ldd: Int,
                      bmat: [Float], ldb: Int, q: Range<Int>, accumulate: Bool, sums: Bool, dx: Bool, dInPlace: Bool = false,
                      bInPlace: Bool = false, c: inout [Float]) -> [Float] {
        XCTAssertEqual(BFloat16.force(isa: body), body)
        defer { _ = BFloat16.force(isa: nil) }
        var out = [Float](repeating: 0.5, count: max(1, Int(b.start.last!)))
        var fwd = b, tr = t
        if planes {
            fwd.offset = b.offset.map { $0 * Int32(ldb) }
            tr.offset = t.offset.map { $0 * Int32(ldd) }
        }
        let dh = d.map { bf16_from_float($0) }, bh = bmat.map { bf16_from_float($0) }
        var pack = [UInt16](repeating: 0xFFFF, count: 64 * (rows + cols))
        withMatrix(fwd) { m in
            withMatrix(tr) { mt in
                out.withUnsafeMutableBufferPointer { o in
                    let e = sums ? o.baseAddress : nil
                    if planes {
                        sp_backward_bf16_planes(m, dx ? mt : nil, dh, Int64(ldd), bh, dh, Int64(q.lowerBound), Int64(q.upperBound),
                                                &c, Int64(n + 1), e)
                    } else {
                        // D and B as fp32, or already rounded to bf16 and read so (SP_D_BF16, SP_B_BF16).
                        let flags = (accumulate ? SP_ACCUMULATE : 0) | (dInPlace ? SP_D_BF16 : 0) | (bInPlace ? SP_B_BF16 : 0)
                        withOperand(dInPlace ? dh : nil, d) { dp in
                            withOperand(bInPlace ? bh : nil, bmat) { bp in
                                sp_backward_bf16(m, dx ? mt : nil, dp, Int64(ldd), Int32(rows), bp, Int64(ldb), Int32(cols), &pack,
                                                 Int64(q.lowerBound), Int64(q.upperBound), &c, Int64(n + 1), flags, e)
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// The bf16 values when given (an operand read in place), else the fp32 ones, as a raw pointer.
    func withOperand(_ half: [UInt16]?, _ full: [Float], _ body: (UnsafeRawPointer) -> Void) {
        if let half { half.withUnsafeBytes { body($0.baseAddress!) } } else { full.withUnsafeBytes { body($0.baseAddress!) } }
    }

    /// Two variants (0, 1) of one bf16 backward from the same ∂X `start`: their entry sums and ∂X bit for bit.
    func assertSameBackwardBits(from start: [Float], _ label: String, _ run: (Int, inout [Float]) -> [Float],
                                line: UInt = #line) {
        let results: [([Float], [Float])] = (0..<2).map { variant in
            var c = start
            let out = run(variant, &c)
            return (out, c)
        }
        XCTAssertEqual(results[1].0.map(\.bitPattern), results[0].0.map(\.bitPattern), "entry sums, " + label, line: line)
        let differ = start.indices.filter { results[0].1[$0].bitPattern != results[1].1[$0].bitPattern }
        XCTAssertTrue(differ.isEmpty, "∂X, \(label): \(differ.count) values differ, first at \(differ.first ?? -1)", line: line)
    }

    func testBF16BackwardMatchesDoubleSumsOfRoundedOperands() {
        for body in bf16Bodies { for planes in [false, true] {
            for (rows, cols, n) in [(5, 7, 300), (19, 140, 33), (1, 1, 1), (40, 20, 129), (3, 300, 70)] {
                for density in [0, -1, 0.1, 1] {
                    let w = weight(rows, cols, density: density, seed: UInt64(5 + cols))
                    let b = build(w, rows: rows, cols: cols), t = transposed(b, rows: rows, cols: cols)
                    let ldd = n + 2, ldb = n + 3, ldc = n + 1
                    let d = randomArray(rows * ldd, seed: 31), bmat = randomArray(cols * ldb, seed: 32)
                    let wr = rounded(w), dr = rounded(d), br = rounded(bmat)
                    // The planes variant overwrites ∂X over the full range; the packed one also accumulates.
                    for (q0, accumulate) in planes ? [(0, false), (min(1, n), false)] : [(0, false), (min(1, n), true)] {
                        var c = randomArray(cols * ldc, seed: 33)
                        let c0 = c
                        let out = bf16Backward(body: body, planes: planes, b, t, rows: rows, cols: cols, n: n, d: d, ldd: ldd,
                                               bmat: bmat, ldb: ldb, q: q0..<n, accumulate: accumulate, sums: true, dx: true, c: &c)
                        let label = "body \(body) planes \(planes) \(rows)×\(cols)·\(n) d \(density) from \(q0)"
                        for p in 0..<Int(b.start.last!) {
                            let i = Int(b.index[p]) / cols, k = Int(b.index[p]) % cols
                            var s = 0.5
                            for q in q0..<n { s += Double(dr[i * ldd + q]) * Double(br[k * ldb + q]) }
                            assertClose(out[p], Float(s), rtol: 1e-5, atol: 1e-5, label + " entry \(p)")
                        }
                        for k in 0..<cols { for q in 0..<ldc {
                            var s = Double(c0[k * ldc + q])
                            if (q0..<n).contains(q) {
                                s = accumulate ? s : 0
                                for i in 0..<rows { s += Double(wr[i * cols + k]) * Double(dr[i * ldd + q]) }
                            }
                            assertClose(c[k * ldc + q], Float(s), rtol: 1e-5, atol: 1e-5, label + " ∂X[\(k), \(q)]")
                        } }
                    }
                }
            }
        } }
    }

    func testBF16BackwardBodiesGiveTheSameBits() throws {
        try XCTSkipUnless(BFloat16.cpuHasArithmetic, "this CPU has no AVX512_BF16: only the portable body runs here")
        for planes in [false, true] {
            // (40, 1100, 256): rows with more than 16 entries (whole SDDMM groups) and several blocks.
            for (rows, cols, n) in [(5, 7, 300), (19, 140, 33), (40, 20, 129), (3, 300, 70), (40, 1100, 256)] {
                for density in [-1, 0.1, 0.5, 1] {
                    let w = weight(rows, cols, density: density, seed: UInt64(9 + cols))
                    let b = build(w, rows: rows, cols: cols), t = transposed(b, rows: rows, cols: cols)
                    let ldd = n + 2, ldb = n + 3
                    let d = randomArray(rows * ldd, seed: 41), bmat = randomArray(cols * ldb, seed: 42)
                    for (q0, accumulate, sums, dx) in [(0, false, true, true), (n / 3, !planes, true, true),
                                                       (0, false, true, false), (1, false, false, true)] {
                        let label = "planes \(planes) \(rows)×\(cols)·\(n) d \(density) from \(q0) sums \(sums) dx \(dx)"
                        assertSameBackwardBits(from: randomArray(cols * (n + 1), seed: 43), label) { body, c in
                            bf16Backward(body: body, planes: planes, b, t, rows: rows, cols: cols, n: n, d: d, ldd: ldd,
                                         bmat: bmat, ldb: ldb, q: q0..<n, accumulate: accumulate, sums: sums, dx: dx, c: &c)
                        }
                    }
                }
            }
        }
    }

    /// D handed over in bf16 (SP_D_BF16: a BatchNorm's ∂X written rounded) gives the bits of the fp32 D it was
    /// rounded from, on each body: read in place instead of rounded into the pack.
    func testBF16BackwardReadsARoundedDInPlace() {
        for body in bf16Bodies {
            for (rows, cols, n) in [(5, 7, 300), (19, 140, 33), (40, 20, 129), (40, 1100, 256)] {
                for density in [-1, 0.1, 1] {
                    let w = weight(rows, cols, density: density, seed: UInt64(13 + cols))
                    let b = build(w, rows: rows, cols: cols), t = transposed(b, rows: rows, cols: cols)
                    let ldd = n + 2, ldb = n + 3
                    let d = randomArray(rows * ldd, seed: 51), bmat = randomArray(cols * ldb, seed: 52)
                    for (q0, accumulate, sums, dx) in [(0, false, true, true), (n / 3, true, true, true),
                                                       (0, false, true, false), (1, false, false, true)] {
                        let label = "body \(body) \(rows)×\(cols)·\(n) d \(density) from \(q0) sums \(sums) dx \(dx)"
                        assertSameBackwardBits(from: randomArray(cols * (n + 1), seed: 53), label) { inPlace, c in
                            bf16Backward(body: body, planes: false, b, t, rows: rows, cols: cols, n: n, d: d, ldd: ldd,
                                         bmat: bmat, ldb: ldb, q: q0..<n, accumulate: accumulate, sums: sums, dx: dx,
                                         dInPlace: inPlace == 1, c: &c)
                        }
                    }
                }
            }
        }
    }

    /// B handed over in bf16 (SP_B_BF16: a BatchNorm's output written rounded) gives the bits of the fp32 B it was
    /// rounded from, on each body: copied into the pack instead of rounded there — in the product (epilogue,
    /// accumulation, streamed stores, several blocks) and in the backward's SDDMM, with D fp32 or in place too.
    func testBF16ProductsReadARoundedBInPlace() {
        for body in bf16Bodies {
            for (rows, cols, n) in bf16Shapes + [(40, 1100, 256)] {
                for density in [-1, 0.1, 1] {
                    let w = weight(rows, cols, density: density, seed: UInt64(17 + cols))
                    let b = build(w, rows: rows, cols: cols, blockCols: 96), t = transposed(b, rows: rows, cols: cols)
                    let stride = n + 3, bmat = randomArray(cols * stride, seed: 61), shift = randomArray(rows, seed: 62)
                    let residual = randomArray(rows * n, seed: 63)
                    for (q0, flags) in [(0, Int32(0)), (n / 3, SP_ACCUMULATE | SP_RELU), (0, SP_STREAM | SP_RELU)] {
                        let products: [[Float]] = [false, true].map { bInPlace in
                            var c = randomArray(rows * n, seed: 64)
                            bf16Product(body: body, planes: false, b, w: w, cols: cols, n: n, stride: stride, bmat: bmat,
                                        q: q0..<n, flags: flags, shift: shift, residual: residual, bInPlace: bInPlace, c: &c)
                            return c
                        }
                        XCTAssertEqual(products[1].map(\.bitPattern), products[0].map(\.bitPattern),
                                       "body \(body) \(rows)×\(cols)·\(n) d \(density) from \(q0) flags \(flags): product")
                    }
                    let ldd = n + 2, d = randomArray(rows * ldd, seed: 65)
                    for (q0, accumulate, dInPlace) in [(0, false, false), (n / 3, true, true), (1, false, true)] {
                        let label = "body \(body) \(rows)×\(cols)·\(n) d \(density) from \(q0) D in place \(dInPlace)"
                        assertSameBackwardBits(from: randomArray(cols * (n + 1), seed: 66), label) { inPlace, c in
                            bf16Backward(body: body, planes: false, b, t, rows: rows, cols: cols, n: n, d: d, ldd: ldd,
                                         bmat: bmat, ldb: stride, q: q0..<n, accumulate: accumulate, sums: true, dx: true,
                                         dInPlace: dInPlace, bInPlace: inPlace == 1, c: &c)
                        }
                    }
                }
            }
        }
    }

    /// C written in bf16 (sp_spmm_bf16_to_bf16: a conv output for a bf16-reading BatchNorm) is the fp32 product's
    /// C rounded by bf16_round, bit for bit, on each body: several blocks (their sums kept fp32 in the tile),
    /// tail tiles, column sub-ranges, bias and ReLU, streamed stores; columns outside the range untouched.
    func testBF16SpMMWritesItsRoundedProductInBF16() {
        for body in bf16Bodies {
            for (rows, cols, n) in bf16Shapes + [(40, 1100, 256)] {
                for density in [0, -1, 0.05, 0.3, 1] {
                    let w = weight(rows, cols, density: density, seed: UInt64(21 + cols))
                    let b = build(w, rows: rows, cols: cols, blockCols: 96)
                    let stride = n + 3
                    let bmat = randomArray(cols * stride, seed: 22), shift = randomArray(rows, seed: 23)
                    for (q0, flags, bias) in [(0, Int32(0), false), (n / 3, SP_RELU, true), (0, SP_STREAM | SP_RELU, true),
                                              (min(1, n), SP_STREAM, false)] {
                        var c = randomArray(rows * n, seed: 24)
                        bf16Product(body: body, planes: false, b, w: w, cols: cols, n: n, stride: stride, bmat: bmat,
                                    q: q0..<n, flags: flags & SP_RELU, shift: bias ? shift : nil, residual: nil, c: &c)
                        var expected = [UInt16](repeating: 0xBEEF, count: rows * n)
                        expected.withUnsafeMutableBufferPointer { e in
                            for i in 0..<rows { bf16_round(Array(c[(i * n + q0)..<(i * n + n)]), e.baseAddress! + i * n + q0, Int64(n - q0)) }
                        }
                        XCTAssertEqual(BFloat16.force(isa: body), body)
                        // C 64-byte aligned, so that full tiles of rows at multiples of 16 take the streamed stores.
                        let raw = UnsafeMutableRawPointer.allocate(byteCount: 2 * rows * n, alignment: 64)
                        defer { raw.deallocate() }
                        let c16p = raw.bindMemory(to: UInt16.self, capacity: rows * n)
                        c16p.initialize(repeating: 0xBEEF, count: rows * n)
                        var pack = [UInt16](repeating: 0xFFFF, count: 64 * cols)
                        var tile = [Float](repeating: .nan, count: 64 * rows)
                        // B as fp32, or already rounded to bf16 and read so (SP_B_BF16).
                        for bInPlace in [false, true] {
                            c16p.update(repeating: 0xBEEF, count: rows * n)
                            withMatrix(b) { m in
                                withMask(bias ? shift : nil) { s in
                                    withOperand(bInPlace ? bmat.map { bf16_from_float($0) } : nil, bmat) { bp in
                                        sp_spmm_bf16_to_bf16(m, bp, Int64(stride), Int32(cols), &pack, &tile, Int64(q0), Int64(n),
                                                             c16p, Int64(n), flags | (bInPlace ? SP_B_BF16 : 0), s)
                                    }
                                }
                            }
                            let c16 = Array(UnsafeBufferPointer(start: c16p, count: rows * n))
                            let differ = expected.indices.filter { expected[$0] != c16[$0] }
                            XCTAssertTrue(differ.isEmpty, "body \(body) \(rows)×\(cols)·\(n) d \(density) from \(q0) flags \(flags) "
                                          + "B bf16 \(bInPlace): \(differ.count) values differ, first at \(differ.first ?? -1)")
                        }
                        _ = BFloat16.force(isa: nil)
                    }
                }
            }
        }
    }
}
