import XCTest
@testable import STRDist

final class PoolingTests: XCTestCase {
    func testMaxAndAvgMatchNaive() {
        for (k, s, p) in [(3, 2, 1), (2, 2, 0), (3, 1, 1), (3, 3, 0)] {
            let g = PoolGeometry(kernel: k, stride: s, padding: p, planes: 6, inH: 9, inW: 8)
            let x = randomArray(6 * 9 * 8, seed: 11)
            let pool = ThreadPool(threads: 2)
            var y = [Float](repeating: 0, count: 6 * g.outH * g.outW), arg = y
            PoolingKernels.maxForward(x, &y, argmax: &arg, g, pool: pool)
            assertClose(y, Naive.pool(x: x, g, max: true), rtol: 0, atol: 0, "max k\(k) s\(s) p\(p)")
            PoolingKernels.avgForward(x, &y, g, pool: pool)
            assertClose(y, Naive.pool(x: x, g, max: false), rtol: 1e-5, atol: 1e-6, "avg k\(k) s\(s) p\(p)")
        }
    }

    func testResNetStemPoolSize() {
        XCTAssertEqual(PoolGeometry(kernel: 3, stride: 2, padding: 1, planes: 1, inH: 112, inW: 112).outH, 56)
    }
}
