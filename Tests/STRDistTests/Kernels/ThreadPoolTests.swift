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

final class CoreBudgetTests: XCTestCase {
    func testCPUListsAndShares() {
        XCTAssertEqual(CoreBudget.cpuCount("0-3,8,10-11"), 7)
        XCTAssertEqual(CoreBudget.cpuCount(" 5 "), 1)
        XCTAssertEqual(CoreBudget.cpuCount("0-1"), 2)
        XCTAssertGreaterThanOrEqual(CoreBudget.affinity, 1)
        XCTAssertLessThanOrEqual(CoreBudget.affinity, CoreBudget.online)
        XCTAssertGreaterThanOrEqual(CoreBudget.share(localRanks: 64), 1)
        if CoreBudget.affinity == CoreBudget.online && CoreBudget.quota == nil {
            XCTAssertEqual(CoreBudget.share(localRanks: 2), max(1, CoreBudget.online / 2))
        }
    }

    /// A process pinned to one core (taskset, as mpirun --bind-to core does) takes that one core.
    func testAPinnedProcessTakesItsMask() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist"), "dataset-fashion-mnist not installed")
        // The first CPU this process may use (CPU 0 may be outside a container's or a job's set).
        let first = "$(awk '/^Cpus_allowed_list/ { split($2, a, /[-,]/); print a[1] }' /proc/self/status)"
        let r = MultiHostTests.shell("taskset -c \(first) \(TinyRun.binary) --arch ResNet18 --width_mult 0.125 --cifar_stem --epochs 0 --batch_size 8 --train_subset 64 --log_dir \(NSTemporaryDirectory())/strdist-pin-\(getpid()) 2>&1")
        XCTAssert(r.output.contains(", 1 thread(s),"), r.output)
    }
}
