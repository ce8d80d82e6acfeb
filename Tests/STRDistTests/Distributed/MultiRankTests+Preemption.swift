// Preemption: SIGUSR1 (what SLURM sends with --signal) at a random step; every rank stops at the same
// step boundary, rank 0 checkpoints the position inside the epoch, the job exits 75, and
// `--resume auto` finishes with weights and optimizer state byte for byte those of a run never stopped.
import XCTest
@testable import STRDist

extension MultiRankTests {
    /// The tensors of a run's latest checkpoint (model and training state: momentum buffers), by name.
    func checkpointTensors(_ name: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for file in ["latest.safetensors", "latest.state"] {
            let path = dir + "/runs/tiny/\(name)/prune_rate=0.0/width_mult=0.25/checkpoints/" + file
            let d = try Data(contentsOf: URL(fileURLWithPath: path))
            for t in try SafeTensors.decode(d, what: path).tensors { out[file + ":" + t.name] = t.bytes }
        }
        return out
    }

    /// Two epochs of 5 steps each; `ranks` 0 is one process without MPI.
    func checkPreemptionResumesBitIdentically(ranks: Int, step: Int, signalRank: Int, extra: [String] = []) throws {
        let what = "\(max(ranks, 1)) rank(s), SIGUSR1 on rank \(signalRank) after step \(step)" + (extra.isEmpty ? "" : " with \(extra)")
        let full = try mpirun(ranks, ["--epochs", "2", "--name", "full", "--step_log", dir + "/full.txt"] + extra)
        XCTAssertEqual(full.status, 0, full.output)
        let stopped = try mpirun(ranks, ["--epochs", "2", "--name", "stopped"] + extra, env: ["STRDIST_FAULT": "\(signalRank):\(step):signal"])
        XCTAssertEqual(stopped.status, Preemption.exitStatus, "\(what): \(stopped.output)")
        XCTAssertTrue(stopped.output.contains("stopping on a preemption request"), stopped.output)
        let resumed = try mpirun(ranks, ["--epochs", "2", "--name", "stopped", "--resume", "auto", "--step_log", dir + "/resumed.txt"] + extra)
        XCTAssertEqual(resumed.status, 0, resumed.output)
        let expected = step % 5 == 0 ? "after epoch \(step / 5 - 1)" : "inside epoch \(step / 5), at batch \(step % 5)"
        XCTAssertTrue(resumed.output.contains(expected), "\(what): \(resumed.output)")
        XCTAssertEqual(try parameters(dir + "/full.txt.params"), try parameters(dir + "/resumed.txt.params"), what)
        let a = try checkpointTensors("full"), b = try checkpointTensors("stopped")
        XCTAssertEqual(a.keys.sorted(), b.keys.sorted())
        XCTAssert(a.keys.contains { $0.hasPrefix("latest.state:") }, "the state holds optimizer tensors")
        for (k, v) in a where b[k] != v { XCTFail("\(what): \(k) differs from the uninterrupted run's") }
        // The run's reports carry each epoch once.
        let rows = try String(contentsOfFile: dir + "/runs/results.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(rows.count, 3, "header, the full run and the resumed run: \(rows)")
    }

    func testPreemptionAtARandomStepOnOneProcessResumesBitIdentically() throws {
        try checkPreemptionResumesBitIdentically(ranks: 0, step: Int.random(in: 1...9), signalRank: 0)
    }

    func testPreemptionAtARandomStepOnTwoRanksResumesBitIdentically() throws {
        try checkPreemptionResumesBitIdentically(ranks: 2, step: Int.random(in: 1...9), signalRank: Int.random(in: 0...1))
    }

    /// target_sparsity's controller steers every step here (5 steps an epoch); its state travels in the
    /// checkpoint, so the resumed run's decays — and so its weights — are the uninterrupted run's.
    func testPreemptionWithTheSparsityControllerResumesBitIdentically() throws {
        let target = ["--target_sparsity", "0.5", "--init_prune_epoch", "0", "--final_prune_epoch", "0"]
        try checkPreemptionResumesBitIdentically(ranks: 2, step: Int.random(in: 1...9), signalRank: Int.random(in: 0...1),
                                                 extra: target)
        let state = dir + "/runs/tiny/stopped/prune_rate=0.0/width_mult=0.25/checkpoints/latest.state"
        let meta = try SafeTensors.decode(Data(contentsOf: URL(fileURLWithPath: state)), what: state).metadata
        let saved = try XCTUnwrap(meta["sparsity_controller"].flatMap(SparsityController.State.init(text:)))
        XCTAssertEqual(saved.time, 2, "updated after the last step")
        XCTAssertNotEqual(saved.output, SparsityController.neutral, "the controller acted")
    }

    /// A request in an epoch's last step stops after that epoch's validation and checkpoint.
    func testPreemptionAtAnEpochsEndStopsAfterIt() throws {
        try checkPreemptionResumesBitIdentically(ranks: 2, step: 5, signalRank: 1)
    }
}
