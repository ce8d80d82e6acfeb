// The bf16 SpMM (sp_spmm_bf16: fp32 operand rounded into the pack; sp_spmm_bf16_planes: bf16 operand at
// flat offsets) against Double sums of the rounded operands, on the portable body everywhere and the
// AVX512_BF16 one where the CPU has it — and the two bodies bit for bit: odd and even entry counts per
// row and block (the lone last entry), tail tiles, column sub-ranges, accumulation, the epilogue and
// streamed stores.
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
                     q: Range<Int>, flags: Int32, shift: [Float]?, residual: [Float]?, c: inout [Float]) {
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
}
