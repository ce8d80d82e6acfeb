import XCTest
@testable import STRDist

final class ThreadPoolTests: XCTestCase {
    func testEveryIndexOnceAndRangesCover() {
        for threads in [1, 2, 3, 5] {
            let pool = ThreadPool(threads: threads)
            var hits = [Int](repeating: 0, count: 1000)
            hits.withUnsafeMutableBufferPointer { h in
                for _ in 0..<20 {
                    pool.parallelRanges(1000, h) { h, r, _ in for i in r { h[i] += 1 } }
                }
            }
            XCTAssertEqual(hits, [Int](repeating: 20, count: 1000), "threads \(threads)")
            var seen = [Int](repeating: 0, count: threads)
            seen.withUnsafeMutableBufferPointer { s in pool.run(s) { s, t in s[t] += 1 } }
            XCTAssertEqual(seen, [Int](repeating: 1, count: threads))
        }
    }

    func testSplitIsContiguousAndComplete() {
        for count in [0, 1, 7, 100] {
            for parts in 1...4 {
                var next = 0
                for t in 0..<parts {
                    let r = ThreadPool.split(count, parts: parts, index: t)
                    XCTAssertEqual(r.lowerBound, next)
                    next = r.upperBound
                }
                XCTAssertEqual(next, count)
            }
        }
    }
}
