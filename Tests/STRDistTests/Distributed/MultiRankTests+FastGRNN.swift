// Data parallelism for the recurrent model: a FastGRNN (STR on W, U and the
// classifier) on the synthetic JPEG tree read as sequences of 16 rows.
import XCTest
@testable import STRDist

extension MultiRankTests {
    static let fastGRNN = ["--arch", "FastGRNN", "--hidden_size", "16", "--wRank", "8", "--sInit_value", "-2.5",
                           "--lr", "0.05"]

    /// One rank and two at the same global batch: the same run up to rounding. Not bit for bit: a rank
    /// sums its half of the batch's gradient (in its GEMMs) before the all-reduce adds the halves, one
    /// rank sums the whole batch in one order — the CNNs' test above has the same bound.
    func testFastGRNNOnTwoRanksFollowsOneRank() throws {
        var runs: [Int: ([Float], [Float])] = [:]
        for ranks in [0, 2] {
            let log = dir + "/fastgrnn\(ranks).txt"
            let r = try mpirun(ranks, Self.fastGRNN + ["--step_log", log, "--name", "fastgrnn\(ranks)"])
            XCTAssertEqual(r.status, 0, r.output)
            guard r.status == 0 else { return }
            runs[ranks] = (try losses(log), try parameters(log + ".params"))
        }
        let (l1, w1) = runs[0]!, (l2, w2) = runs[2]!
        XCTAssertEqual(l1.count, 5)
        XCTAssertEqual(l2.count, l1.count)
        for (a, b) in zip(l2, l1) { XCTAssertEqual(a, b, accuracy: 1e-4 * abs(b), "step losses \(l2) vs \(l1)") }
        let scale = w1.map { abs($0) }.max()!
        let worst = zip(w2, w1).map { abs($0 - $1) }.max()!
        XCTAssertLessThanOrEqual(worst, 1e-4 * scale, "final weights differ by \(worst)")
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
