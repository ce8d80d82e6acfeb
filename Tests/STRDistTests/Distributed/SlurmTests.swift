// The batch scripts under a real SLURM (scripts/slurm/local-cluster.sh: slurmctld, munge and one
// slurmd per namespace host): sbatch runs each to completion on two nodes, with srun and PMIx
// starting the ranks; the test reads the job's state from scontrol and the run folder from disk.
// Needs root; CI runs it (STRDIST_REQUIRE_CLUSTER=1 makes a missing cluster a failure).
import XCTest
@testable import STRDist

final class SlurmTests: XCTestCase {
    static let root = TinyRun.root
    /// Shared by the nodes, outside /tmp (each node has its own /tmp).
    static let base = "/var/tmp/strdist-slurm-\(getpid())"
    static var ready = false

    override class func setUp() {
        guard getuid() == 0 else { return }
        ready = MultiHostTests.shell("cd \(root) && bash scripts/slurm/local-cluster.sh up 2").status == 0
        try? FileManager.default.removeItem(atPath: base)
        TinyRun.makeData(at: base + "/data", perClass: 8, valPerClass: 2)
    }

    override class func tearDown() {
        if getuid() == 0 { MultiHostTests.shell("cd \(root) && bash scripts/slurm/local-cluster.sh down") }
        try? FileManager.default.removeItem(atPath: base)
    }

    override func setUpWithError() throws {
        guard Self.ready else {
            if ProcessInfo.processInfo.environment["STRDIST_REQUIRE_CLUSTER"] == "1" {
                XCTFail("SLURM could not be started (scripts/slurm/local-cluster.sh up, as root)"); return
            }
            throw XCTSkip("the local SLURM needs root (scripts/slurm/local-cluster.sh)")
        }
    }

    /// sbatch from the repository root; the job's id.
    func sbatch(_ script: String, options: [String], env: [String: String]) -> String {
        let exports = (["ALL", "STRDIST_BIN=\(TinyRun.binary)"] + env.map { "\($0)=\($1)" }).joined(separator: ",")
        let sub = MultiHostTests.shell("cd \(Self.root) && sbatch --parsable --export='\(exports)' " + options.joined(separator: " ") + " \(script)")
        XCTAssertEqual(sub.status, 0, sub.output)
        return sub.output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first.map(String.init) ?? ""
    }

    /// The job's state and exit code once it is in one of `states` (or when `limit` runs out).
    func wait(_ id: String, for states: Set<String> = ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"],
              limit: Double = 240) -> (state: String, exit: String, show: String) {
        let deadline = Date().addingTimeInterval(limit)
        var state = "", exit = "", show = ""
        while Date() < deadline {
            show = MultiHostTests.shell("scontrol show job \(id)").output
            state = show.components(separatedBy: "JobState=").dropFirst().first?.split(separator: " ").first.map(String.init) ?? ""
            exit = show.components(separatedBy: " ExitCode=").dropFirst().first?.split(separator: " ").first.map(String.init)?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            if states.contains(state) { break }
            usleep(500_000)
        }
        return (state, exit, show)
    }

    /// sbatch, then waits for the job to end; its state and exit code.
    func submit(_ script: String, options: [String], env: [String: String], limit: Double = 240) throws -> (state: String, exit: String, id: String) {
        let id = sbatch(script, options: options, env: env)
        let end = wait(id, limit: limit)
        return (end.state, end.exit, id)
    }

    /// Preempted with SIGUSR1 (what --signal sends): strdist checkpoints and exits 75, the batch script
    /// requeues itself, and the job comes back, resumes inside its epoch and completes.
    func testAPreemptedJobRequeuesItselfAndCompletes() throws {
        try tinyConfig(epochs: 12)
        let log = Self.base + "/preempt.out"
        let id = sbatch("scripts/slurm/resnet50-str-16ranks.sbatch",
                        options: ["--nodes=2", "--ntasks-per-node=1", "--cpus-per-task=1", "--time=5", "--open-mode=append", "--output=\(log)"],
                        env: ["CONFIG": Self.base + "/tiny.yaml", "DATA": Self.base + "/data", "NAME": "preempt",
                              "LOG_DIR": Self.base + "/preempt-runs", "THREADS": "1", "WORKERS": "0"])
        var training = false
        for _ in 0..<240 where !training {
            usleep(250_000)
            training = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("Epoch: [2][")
        }
        XCTAssertTrue(training, "the job never reached epoch 2")
        XCTAssertEqual(MultiHostTests.shell("scancel --signal=USR1 \(id)").status, 0)
        let requeued = wait(id, for: ["PENDING", "COMPLETED", "FAILED", "CANCELLED"], limit: 60)
        XCTAssertEqual(requeued.state, "PENDING", requeued.show)
        // SLURM holds a requeued job for two minutes before it is eligible again; the test does not wait.
        MultiHostTests.shell("scontrol update JobId=\(id) StartTime=now")
        let end = wait(id)
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        XCTAssertEqual(end.state, "COMPLETED", text)
        XCTAssertTrue(end.show.contains("Restarts=1"), end.show)
        XCTAssertTrue(text.contains("stopping on a preemption request") && text.contains("requeueing job \(id)"), text)
        XCTAssertTrue(text.contains("=> resumed from"), text)
        let rows = try String(contentsOfFile: Self.base + "/preempt-runs/results.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(rows.count, 2, "one results row for the whole job: \(rows)")
    }

    func tinyConfig(epochs: Int) throws {
        try TinyRun.config(["lr": "0.01", "epochs": "\(epochs)", "batch_size": "8", "seed": "3"]).write(toFile: Self.base + "/tiny.yaml", atomically: true, encoding: .utf8)
    }

    func testTheTrainingScriptRunsToCompletionOnTwoNodes() throws {
        try tinyConfig(epochs: 2)
        let job = try submit("scripts/slurm/resnet50-str-16ranks.sbatch",
                             options: ["--nodes=2", "--ntasks-per-node=1", "--cpus-per-task=1", "--time=5",
                                       "--output=\(Self.base)/train-%j.out"],
                             env: ["CONFIG": Self.base + "/tiny.yaml", "DATA": Self.base + "/data", "NAME": "slurm",
                                   "LOG_DIR": Self.base + "/runs", "THREADS": "1", "WORKERS": "0"])
        let log = (try? String(contentsOfFile: Self.base + "/train-\(job.id).out", encoding: .utf8)) ?? ""
        XCTAssertEqual(job.state, "COMPLETED", log)
        XCTAssertEqual(job.exit, "0:0", log)
        XCTAssert(log.contains("2 ranks"), log)
        XCTAssert(log.contains("rank 0 of 2 on h1 writes the run outputs"), log)
        let rows = try String(contentsOfFile: Self.base + "/runs/results.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(rows.count, 2)
        XCTAssert(rows[1].contains("tiny, slurm"), "\(rows)")
    }

    func testTheScalingStudyScriptRunsToCompletion() throws {
        let out = Self.base + "/scaling.jsonl"
        let job = try submit("scripts/slurm/scaling-study.sbatch",
                             options: ["--nodes=2", "--ntasks-per-node=1", "--cpus-per-task=1", "--time=5",
                                       "--output=\(Self.base)/scaling-%j.out"],
                             env: ["ARCH": "ResNet18", "SIZE": "32", "BATCH": "4", "STEPS": "2", "OUT": out,
                                   "EXTRA": "--width-mult 0.125 --cifar-stem"])
        let log = (try? String(contentsOfFile: Self.base + "/scaling-\(job.id).out", encoding: .utf8)) ?? ""
        XCTAssertEqual(job.state, "COMPLETED", log)
        let rows = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(rows.count, 2, log)
        XCTAssert(log.contains("2 ranks:") && log.contains("efficiency"), log)
    }
}
