// Data parallelism for the recurrent model: a FastGRNN (STR on W, U and the
// classifier) on the synthetic JPEG tree read as sequences of 16 rows.
import XCTest
@testable import STRDist

extension MultiRankTests {
    static let fastGRNN = ["--arch", "FastGRNN", "--hidden_size", "16", "--wRank", "8", "--sInit_value", "-2.5",
                           "--lr", "0.05"]

    /// One rank (on one thread or two), two ranks and four at the same global batch of 12: its four
    /// sample groups are summed by one tree on every layout, so the step losses and the final weights
    /// are the same bits.
    func testFastGRNNOnOneTwoAndFourRanksIsBitIdentical() throws {
        var runs: [String: ([Float], [Float])] = [:]
        for (ranks, threads) in [(0, 1), (0, 2), (2, 1), (4, 1)] {
            let name = "fastgrnn\(ranks)x\(threads)", log = dir + "/\(name).txt"
            let r = try mpirun(ranks, Self.fastGRNN + ["--step_log", log, "--name", name, "--threads", "\(threads)"])
            XCTAssertEqual(r.status, 0, r.output)
            guard r.status == 0 else { return }
            if ranks > 1 { XCTAssert(r.output.contains("bit-identical to 1, 2, 4, … ranks"), r.output) }
            runs[name] = (try losses(log), try parameters(log + ".params"))
        }
        let (l1, w1) = runs["fastgrnn0x1"]!
        XCTAssertEqual(l1.count, 5)
        XCTAssertGreaterThan(w1.count, 100)
        for (name, (l, w)) in runs {
            XCTAssertEqual(l.map(\.bitPattern), l1.map(\.bitPattern), "\(name) step losses \(l) vs \(l1)")
            XCTAssertEqual(w.count, w1.count)
            let differing = zip(w, w1).enumerated().filter { $0.element.0.bitPattern != $0.element.1.bitPattern }.map(\.offset)
            XCTAssertEqual(differing, [], "\(name): \(differing.count) final weights differ (at these offsets)")
        }
    }

    /// With U's products on the sparse kernel (`conv_algorithm: sparse`): one rank and two, the same bits.
    func testFastGRNNWithSparseProductsOnTwoRanksIsBitIdentical() throws {
        var runs: [[Float]] = []
        for ranks in [0, 2] {
            let log = dir + "/fgsparse\(ranks).txt"
            let r = try mpirun(ranks, Self.fastGRNN + ["--step_log", log, "--name", "fgsparse\(ranks)", "--conv_algorithm", "sparse"])
            XCTAssertEqual(r.status, 0, r.output)
            guard r.status == 0 else { return }
            runs.append(try losses(log).map { $0 } + (try parameters(log + ".params")))
        }
        XCTAssertEqual(runs[1].map(\.bitPattern), runs[0].map(\.bitPattern), "two ranks differ from one")
    }

    /// Three ranks (4 samples each) cannot continue the tree: MPI's all-reduce adds them, the banner says
    /// so, and the run follows one rank's within rounding.
    func testFastGRNNOnThreeRanksFollowsOneRankWithinRounding() throws {
        var runs: [Int: ([Float], [Float])] = [:]
        for ranks in [0, 3] {
            let log = dir + "/fg3-\(ranks).txt"
            let r = try mpirun(ranks, Self.fastGRNN + ["--step_log", log, "--name", "fg3-\(ranks)"])
            XCTAssertEqual(r.status, 0, r.output)
            guard r.status == 0 else { return }
            if ranks == 3 { XCTAssert(r.output.contains("within rounding of 1 rank, not bit-identical"), r.output) }
            runs[ranks] = (try losses(log), try parameters(log + ".params"))
        }
        let (l1, w1) = runs[0]!, (l3, w3) = runs[3]!
        XCTAssertEqual(l3.count, l1.count)
        for (a, b) in zip(l3, l1) { XCTAssertEqual(a, b, accuracy: 1e-4 * abs(b), "step losses \(l3) vs \(l1)") }
        let scale = w1.map { abs($0) }.max()!
        XCTAssertLessThanOrEqual(zip(w3, w1).map { abs($0 - $1) }.max()!, 1e-4 * scale)
    }

    /// The matrices' weight gradients travel as their kept positions, bit-identical to the dense all-reduce.
    func testFastGRNNKeptOnlyAllreduceIsBitIdenticalToTheDenseOne() throws {
        let kept = try mpirun(2, Self.fastGRNN + ["--step_log", dir + "/fgkept.txt", "--epochs", "2"])
        XCTAssertEqual(kept.status, 0, kept.output)
        let dense = try mpirun(2, Self.fastGRNN + ["--step_log", dir + "/fgdense.txt", "--epochs", "2", "--allreduce_kept_only", "false"])
        XCTAssertEqual(dense.status, 0, dense.output)
        XCTAssertEqual(try parameters(dir + "/fgkept.txt.params"), try parameters(dir + "/fgdense.txt.params"))
        let floats = { (path: String) throws -> [Int] in
            try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { Int($0.split(separator: " ")[2])! }
        }
        let k = try floats(dir + "/fgkept.txt"), d = try floats(dir + "/fgdense.txt")
        XCTAssertLessThan(k.max()!, d[0], "kept positions only: \(k) vs \(d[0])")
    }

    func testFastGRNNResumeOnTwoRanksIsBitIdentical() throws {
        let full = try mpirun(2, Self.fastGRNN + ["--epochs", "2", "--name", "fgfull", "--step_log", dir + "/fgfull.txt"])
        XCTAssertEqual(full.status, 0, full.output)
        let part = try mpirun(2, Self.fastGRNN + ["--epochs", "1", "--name", "fgpart"])
        XCTAssertEqual(part.status, 0, part.output)
        let resumed = try mpirun(2, Self.fastGRNN + ["--epochs", "2", "--name", "fgpart", "--resume", "auto",
                                                     "--step_log", dir + "/fgpart.txt"])
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.output.contains("after epoch 0"), resumed.output)
        XCTAssertEqual(try parameters(dir + "/fgfull.txt.params"), try parameters(dir + "/fgpart.txt.params"))
    }
}
