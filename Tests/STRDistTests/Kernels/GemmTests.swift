import XCTest
import CAllocCounter
@testable import STRDist

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

    func testCoreNameIsReported() {
        XCTAssertFalse(BLASInfo.coreName.isEmpty)
        XCTAssertNotEqual(BLASInfo.coreName, "unknown")
    }
}
