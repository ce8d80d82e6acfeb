// bfloat16 rounding, the packed layouts and the bf16 product, on the portable body (every machine) and
// on AVX512_BF16 where the CPU has it: the rounding bit for bit against its definition, the layouts
// element by element, the product against a Double sum of the same rounded operands.
import XCTest
import CBFloat16
import STRDistKernels
import STRDistTestSupport

final class BFloat16Tests: XCTestCase {
    /// Each body the CPU can run: 0 (portable) always, 1 (AVX512_BF16) where present.
    var bodies: [Int] { BFloat16.cpuHasArithmetic ? [0, 1] : [0] }

    override func tearDown() { BFloat16.force(isa: nil) }

    func testRoundingIsNearestEvenWithDenormalsFlushed() {
        let cases: [(UInt32, UInt16)] = [
            (0x3F80_0000, 0x3F80),      // 1
            (0x3F80_8000, 0x3F80),      // 1 + 2⁻⁸: a tie, to the even 1
            (0x3F81_8000, 0x3F82),      // 1 + 3·2⁻⁸: a tie, to the even neighbour above
            (0x3F80_8001, 0x3F81),      // just above the tie
            (0xBF80_7FFF, 0xBF80),      // just below it, negative
            (0x0000_0000, 0x0000), (0x8000_0000, 0x8000),
            (0x0000_0001, 0x0000), (0x807F_FFFF, 0x8000),   // denormals: zeros of their sign
            (0x0080_0000, 0x0080),      // the smallest normal stays
            (0x7F7F_FFFF, 0x7F80),      // the largest float rounds up to infinity
            (0x7F80_0000, 0x7F80), (0xFF80_0000, 0xFF80),   // infinities
            (0x7FA0_0000, 0x7FE0), (0xFF80_0001, 0xFFC0),   // NaNs stay NaN, made quiet
        ]
        for body in bodies {
            BFloat16.force(isa: body)
            var src = cases.map { Float(bitPattern: $0.0) }
            src += randomArray(37, seed: 5, low: -1e3, high: 1e3)
            var out = [UInt16](repeating: 0xFFFF, count: src.count)
            bf16_round(src, &out, Int64(src.count))
            for (i, c) in cases.enumerated() {
                XCTAssertEqual(out[i], c.1, "body \(body): \(String(c.0, radix: 16)) → \(String(out[i], radix: 16))")
                XCTAssertEqual(bf16_from_float(Float(bitPattern: c.0)), c.1)
            }
            for i in cases.count..<src.count {
                let bits = src[i].bitPattern
                let expected = UInt16((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16)
                XCTAssertEqual(out[i], expected, "body \(body): \(src[i])")
                XCTAssertLessThanOrEqual(abs(bf16_to_float(out[i]) - src[i]), abs(src[i]) / 256)
            }
        }
    }

    func testPackedLayouts() {
        for body in bodies {
            BFloat16.force(isa: body)
            for (rows, cols) in [(1, 1), (3, 5), (7, 17), (16, 33), (5, 48)] {
                let ld = cols + 3
                let src = randomArray(rows * ld, seed: UInt64(rows * 100 + cols))
                func r(_ i: Int) -> UInt16 { bf16_from_float(src[i]) }
                // Rows (even stride, zero pad) and their transpose.
                let ldd = (cols + 1) & ~1, ldt = (rows + 1) & ~1
                var packed = [UInt16](repeating: 0xFFFF, count: rows * ldd)
                bf16_pack_rows(src, Int64(ld), Int32(rows), Int32(cols), &packed, Int64(ldd))
                var transposed = [UInt16](repeating: 0xFFFF, count: cols * ldt)
                bf16_pack_rows_transposed(src, Int64(ld), Int32(rows), Int32(cols), &transposed, Int64(ldt))
                for i in 0..<rows {
                    for j in 0..<ldd { XCTAssertEqual(packed[i * ldd + j], j < cols ? r(i * ld + j) : 0) }
                }
                for j in 0..<cols {
                    for i in 0..<ldt { XCTAssertEqual(transposed[j * ldt + i], i < rows ? r(i * ld + j) : 0) }
                }
                // Pairs of rows of B = src (k = rows, n = cols), and of B = srcᵀ (k = cols, n = rows).
                let np = Int(bf16_packed_columns(Int64(cols)))
                var pairs = [UInt16](repeating: 0xFFFF, count: Int(bf16_packed_size(Int64(rows), Int64(cols))))
                bf16_pack_pairs(src, Int64(ld), Int32(rows), Int32(cols), &pairs)
                for k in 0..<(rows + 1) / 2 * 2 {
                    for j in 0..<np {
                        XCTAssertEqual(pairs[((k / 2) * np + j) * 2 + k % 2], k < rows && j < cols ? r(k * ld + j) : 0,
                                       "body \(body) pairs \(rows)×\(cols) at (\(k), \(j))")
                    }
                }
                let npT = Int(bf16_packed_columns(Int64(rows)))
                var pairsT = [UInt16](repeating: 0xFFFF, count: Int(bf16_packed_size(Int64(cols), Int64(rows))))
                bf16_pack_pairs_transposed(src, Int64(ld), Int32(rows), Int32(cols), &pairsT)
                for k in 0..<(cols + 1) / 2 * 2 {
                    for j in 0..<npT {
                        XCTAssertEqual(pairsT[((k / 2) * npT + j) * 2 + k % 2], k < cols && j < rows ? r(j * ld + k) : 0,
                                       "body \(body) transposed pairs \(rows)×\(cols) at (\(k), \(j))")
                    }
                }
            }
        }
    }

    /// C = A·B (and C += A·B) against Double sums of the rounded operands; sizes cross every edge of
    /// the kernel's tiles (8 rows, 48 columns, 128 pairs).
    func testProductAgainstNaiveOnRoundedOperands() {
        let shapes = [(1, 1, 1), (3, 5, 7), (8, 48, 256), (9, 49, 257), (17, 100, 300), (64, 33, 31), (5, 16, 2)]
        for body in bodies {
            BFloat16.force(isa: body)
            for (m, n, k) in shapes {
                let lda = (k + 1) & ~1, ldc = n + 2
                let a = randomArray(m * k, seed: UInt64(m * 7 + k)), b = randomArray(k * n, seed: UInt64(n * 11 + k))
                var ap = [UInt16](repeating: 0, count: m * lda)
                bf16_pack_rows(a, Int64(k), Int32(m), Int32(k), &ap, Int64(lda))
                var bp = [UInt16](repeating: 0, count: Int(bf16_packed_size(Int64(k), Int64(n))))
                bf16_pack_pairs(b, Int64(n), Int32(k), Int32(n), &bp)
                let start = randomArray(m * ldc, seed: 9)
                for accumulate in [false, true] {
                    var c = start
                    bf16_gemm(Int32(m), Int32(n), Int32(k), ap, Int64(lda), bp, &c, Int64(ldc), accumulate ? 1 : 0)
                    for i in 0..<m {
                        for j in 0..<n {
                            var s = accumulate ? Double(start[i * ldc + j]) : 0, mass = abs(s)
                            for p in 0..<k {
                                let t = Double(BFloat16.rounded(a[i * k + p])) * Double(BFloat16.rounded(b[p * n + j]))
                                s += t; mass += abs(t)
                            }
                            XCTAssertEqual(Double(c[i * ldc + j]), s, accuracy: 1e-6 * mass + 1e-7,
                                           "body \(body) \(m)×\(n)×\(k) accumulate \(accumulate) at (\(i), \(j))")
                        }
                        // The columns past n are not touched.
                        XCTAssertEqual(c[i * ldc + n], start[i * ldc + n])
                    }
                }
            }
        }
    }

    func testAVX512BodyMatchesThePortableOne() throws {
        try XCTSkipUnless(BFloat16.cpuHasArithmetic, "this CPU has no AVX512_BF16: only the portable body runs here")
        let (m, n, k) = (37, 150, 515)
        let a = randomArray(m * k, seed: 1), b = randomArray(k * n, seed: 2)
        var results: [[Float]] = []
        for body in [0, 1] {
            BFloat16.force(isa: body)
            let lda = (k + 1) & ~1
            var ap = [UInt16](repeating: 0, count: m * lda)
            bf16_pack_rows(a, Int64(k), Int32(m), Int32(k), &ap, Int64(lda))
            var bp = [UInt16](repeating: 0, count: Int(bf16_packed_size(Int64(k), Int64(n))))
            bf16_pack_pairs(b, Int64(n), Int32(k), Int32(n), &bp)
            var c = [Float](repeating: 0, count: m * n)
            bf16_gemm(Int32(m), Int32(n), Int32(k), ap, Int64(lda), bp, &c, Int64(n), 0)
            results.append(c)
        }
        assertClose(results[1], results[0], rtol: 1e-6, atol: 1e-6, "AVX512_BF16 against portable")
    }
}
