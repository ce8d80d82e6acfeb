// Ranks started with different configs or models are stopped at start, naming the rank that differs
// (MPMD mpirun lines: one command per rank).
import XCTest
@testable import STRDist

extension MultiRankTests {
    /// `mpirun -np 1 strdist … : -np 1 strdist …`, one argument list per rank.
    func mpirunEach(_ perRank: [[String]]) -> ChildProcess.Result {
        var a = ["mpirun", "--allow-run-as-root", "--oversubscribe"]
        for (k, args) in perRank.enumerated() {
            if k > 0 { a.append(":") }
            a += ["-np", "1", Self.binary] + args
        }
        return ChildProcess.run("/usr/bin/env", a, limit: 120)
    }

    func testARankWithADifferentConfigIsNamedAtStart() throws {
        let base = ["--config", dir + "/tiny.yaml"]
        let r = mpirunEach([base, base + ["--lr", "0.5"], base])
        XCTAssertNotEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("rank 1 started with a different config than rank 0"), r.output)
        XCTAssertFalse(r.output.contains("Epoch: [0]"), "nothing trains: \(r.output)")
        // Per-rank keys (where each reads its data, its threads) may differ.
        let fine = mpirunEach([base, base + ["--threads", "2", "--print_freq", "3"]])
        XCTAssertEqual(fine.status, 0, fine.output)
    }

    func testARankWhoseDataMakesAnotherModelIsNamedAtStart() throws {
        // num_classes unset: each rank takes its data's class count, and rank 1's tree has 4 classes.
        let yaml = try String(contentsOfFile: dir + "/tiny.yaml", encoding: .utf8).replacingOccurrences(of: "num_classes: 3\n", with: "")
        try yaml.write(toFile: dir + "/open.yaml", atomically: true, encoding: .utf8)
        let four = dir + "/four"
        try PrepareData.synthetic(to: four, split: "train", classes: 4, perClass: 3, width: 40, height: 40)
        try PrepareData.synthetic(to: four, split: "val", classes: 4, perClass: 1, width: 40, height: 40)
        let base = ["--config", dir + "/open.yaml"]
        let r = mpirunEach([base, base + ["--data", four]])
        XCTAssertNotEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("rank 1 started with a different model"), r.output)
    }
}
