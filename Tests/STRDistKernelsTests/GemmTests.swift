import XCTest
import CAllocCounter
@testable import STRDistKernels
import STRDistTestSupport

final class GemmTests: XCTestCase {
    func testAllTransposesMatchNaive() {
        let (m, n, k) = (7, 13, 11)
        for transA in [false, true] {
            for transB in [false, true] {
                let lda = (transA ? m : k) + 2, ldb = (transB ? k : n) + 3, ldc = n + 1
                let a = randomArray((transA ? k : m) * lda, seed: 1)
                let b = randomArray((transB ? n : k) * ldb, seed: 2)
                var fast = randomArray(m * ldc, seed: 3), slow = fast
                Gemm.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb,
                          beta: 0.25, c: &fast, ldc: ldc)
                Gemm.naiveGemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda,
                               b: b, ldb: ldb, beta: 0.25, c: &slow, ldc: ldc)
                assertClose(fast, slow, rtol: 1e-5, atol: 1e-5, "transA \(transA) transB \(transB)")
            }
        }
    }

    /// Plain products whose last 1–8 columns past a multiple of 16 would send OpenBLAS's AVX-512 small
    /// kernel to malloc: equal to the naive product (beta 0 and not, alpha ≠ 1), and no heap touched,
    /// whatever core OpenBLAS runs; shapes on either side of each condition go through too.
    func testNarrowColumnTailsMatchNaiveAndAllocateNothing() {
        BLASInfo.useSingleThread()   // as the engine runs OpenBLAS (its threads allocate as they start)
        // Split into blocks (24, 40, 25: 9 + rest; 33, 49: 9 + 9 + rest), narrow here (8, 1, 17), and past each condition.
        let shapes = [(64, 8, 576), (16, 24, 32), (9, 17, 40), (33, 1, 64), (5, 40, 100), (64, 8, 31), (10, 25, 33),
                      (300, 40, 100), (7, 16, 50), (12, 33, 40), (6, 49, 64)]
        for (m, n, k) in shapes {
            for beta: Float in [0, 0.5] {
                let lda = k + 1, ldb = n + 2, ldc = n + 3
                let a = randomArray(m * lda, seed: 4), b = randomArray(k * ldb, seed: 5)
                var fast = randomArray(m * ldc, seed: 6), slow = fast, again = fast
                Gemm.naiveGemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1.5, a: a, lda: lda, b: b, ldb: ldb,
                               beta: beta, c: &slow, ldc: ldc)
                Gemm.gemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1.5, a: a, lda: lda, b: b, ldb: ldb,
                          beta: beta, c: &fast, ldc: ldc)
                assertClose(fast, slow, rtol: 1e-4, atol: 1e-4, "\(m)×\(n)×\(k) beta \(beta)")
                again.withUnsafeMutableBufferPointer { c in
                    for counted in [false, true] {   // the first call may set up OpenBLAS's own buffers
                        if counted { alloc_counter_start() }
                        Gemm.gemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1.5, a: a, lda: lda, b: b,
                                  ldb: ldb, beta: beta, c: c.baseAddress!, ldc: ldc)
                    }
                    let count = alloc_counter_stop()
                    XCTAssertEqual(count, 0, "\(m)×\(n)×\(k) beta \(beta) on \(BLASInfo.coreName): \(count) heap allocations")
                }
            }
        }
    }

    /// The seam's own loop for the last ≤ 8 columns, on every core (OpenBLAS sends it work only under its
    /// AVX-512 cores): each width, rows not a multiple of 4, B's last row ending at the matrix's end.
    func testNarrowColumnsMatchNaive() {
        for w in 1...8 {
            for (m, k, ldb) in [(7, 40, 3 + w), (4, 1, w), (9, 33, 16 + w)] {
                let n0 = ldb - w, lda = k + 1, ldc = ldb + 2
                let a = randomArray(m * lda, seed: 7), b = randomArray(k * ldb, seed: 8)
                for beta: Float in [0, 0.5] {
                    var fast = randomArray(m * ldc, seed: 9), slow = fast
                    Gemm.narrowColumns(m: m, n0: n0, n1: ldb, k: k, alpha: 1.5, a: a, lda: lda, b: b, ldb: ldb, beta: beta,
                                       c: &fast, ldc: ldc)
                    b.withUnsafeBufferPointer { bp in
                        slow.withUnsafeMutableBufferPointer { cp in
                            Gemm.naiveGemm(transA: false, transB: false, m: m, n: w, k: k, alpha: 1.5, a: a, lda: lda,
                                           b: bp.baseAddress! + n0, ldb: ldb, beta: beta, c: cp.baseAddress! + n0, ldc: ldc)
                        }
                    }
                    assertClose(fast, slow, rtol: 1e-5, atol: 1e-5, "w \(w), \(m)×\(k), ldb \(ldb), beta \(beta)")
                }
            }
        }
    }

    func testCoreNameIsReported() {
        XCTAssertFalse(BLASInfo.coreName.isEmpty)
        XCTAssertNotEqual(BLASInfo.coreName, "unknown")
    }
}
