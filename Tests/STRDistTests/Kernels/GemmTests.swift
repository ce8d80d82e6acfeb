import XCTest
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

    func testCoreNameIsReported() {
        XCTAssertFalse(BLASInfo.coreName.isEmpty)
        XCTAssertNotEqual(BLASInfo.coreName, "unknown")
    }
}
