// Ranks on different "hosts": network namespaces on one machine (scripts/cluster), each with its
// own address and hostname, mpirun starting its daemons through the namespace agent instead of
// ssh, ranks talking TCP. Needs root (namespaces); CI runs it, elsewhere it is skipped unless
// STRDIST_REQUIRE_CLUSTER=1 makes a missing cluster a failure.
import XCTest
@testable import STRDist

final class MultiHostTests: XCTestCase {
    static let root = TinyRun.root
    static let binary = TinyRun.binary
    static let data = NSTemporaryDirectory() + "/strdist-hosts-data-\(getpid())"
    static var ready = false
    var dir = ""

    /// `bash -c command` through `ChildProcess` (a file, not a pipe; killed at `limit`).
    @discardableResult
    static func shell(_ command: String, limit: Double = 300) -> (status: Int32, output: String) {
        let r = ChildProcess.shell(command, limit: limit)
        return (r.timedOut ? -1 : r.status, r.timedOut ? "timed out after \(Int(limit)) s: \(command)\n" + r.output : r.output)
    }

    override class func setUp() {
        guard getuid() == 0 else { return }
        ready = shell("cd \(root) && bash scripts/cluster/up.sh 2").status == 0
        TinyRun.makeData(at: data, perClass: 20, valPerClass: 3)
    }

    override class func tearDown() {
        if getuid() == 0 { shell("cd \(root) && bash scripts/cluster/down.sh") }
        try? FileManager.default.removeItem(atPath: data)
    }

    override func setUpWithError() throws {
        if !Self.ready {
            if ProcessInfo.processInfo.environment["STRDIST_REQUIRE_CLUSTER"] == "1" {
                XCTFail("the namespace hosts could not be made (scripts/cluster/up.sh, as root)"); return
            }
            throw XCTSkip("namespace hosts need root (scripts/cluster/up.sh)")
        }
        dir = NSTemporaryDirectory() + "/strdist-hosts-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try TinyRun.config([
            "data": Self.data, "lr": "0.005", "epochs": "1", "weight_decay": "0.0005", "momentum": "0.9",
            "batch_size": "12", "seed": "5", "threads": "1", "workers": "0", "log_dir": dir + "/runs",
        ]).write(toFile: dir + "/tiny.yaml", atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws { if !dir.isEmpty { try? FileManager.default.removeItem(atPath: dir) } }

    /// `mpirun` of strdist on `hosts` namespace hosts (one rank each), or on this host with `ranks` ranks.
    func launch(hosts: Int?, ranks: Int = 2, _ args: [String], env: [String: String] = [:], limit: Int? = nil) -> String {
        var words = (limit.map { ["timeout", "\($0)"] } ?? []) + TinyRun.mpirun(hosts ?? ranks, env: env)
        if let hosts {
            words += ["--hostfile", Self.root + "/hostfiles/netns-\(hosts)", "$(cluster_mpirun_options)"]
        }
        words += [Self.binary, "--config", dir + "/tiny.yaml"] + args
        return "source \(Self.root)/scripts/cluster/hosts.sh && " + words.joined(separator: " ")
    }

    func testTwoHostsOverTCPGiveTheSameWeightsAsOneHostBitForBit() throws {
        let shm = Self.shell(launch(hosts: nil, ["--name", "shm", "--step_log", dir + "/shm.txt"]))
        XCTAssertEqual(shm.status, 0, shm.output)
        let tcp = Self.shell(launch(hosts: 2, ["--name", "tcp", "--step_log", dir + "/tcp.txt"]))
        XCTAssertEqual(tcp.status, 0, tcp.output)
        XCTAssert(tcp.output.contains("rank 0 of 2 on h1 writes the run outputs"), tcp.output)
        let a = try Data(contentsOf: URL(fileURLWithPath: dir + "/shm.txt.params"))
        let b = try Data(contentsOf: URL(fileURLWithPath: dir + "/tcp.txt.params"))
        XCTAssertEqual(a.count, b.count)
        XCTAssert(a == b, "final weights over TCP differ from shared memory")
        XCTAssertEqual(try String(contentsOfFile: dir + "/shm.txt", encoding: .utf8),
                       try String(contentsOfFile: dir + "/tcp.txt", encoding: .utf8))
        // Written once, by rank 0: one results row per run, one run folder (one event file) each.
        let rows = try String(contentsOfFile: dir + "/runs/results.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(rows.count, 1 + 2)
        let events = try FileManager.default.subpathsOfDirectory(atPath: dir + "/runs").filter { $0.contains("tfevents") }
        XCTAssertEqual(events.count, 2, "\(events)")
    }

    /// threads: 0 takes the cores a rank may use: its machine's share on one host (MPI's shared-memory
    /// split says 2 ranks there), the whole machine on each namespace host (one rank per "node").
    func testThreadsZeroFollowsLocalRanksFromMPI() throws {
        // The ranks inherit this process's affinity mask and cgroup quota (a container's --cpus, a SLURM
        // allocation), so their budget is this process's share for 2 local ranks, and for 1.
        let shm = Self.shell(launch(hosts: nil, ["--threads", "0", "--epochs", "0", "--name", "t0"]).replacingOccurrences(of: "mpirun", with: "mpirun --bind-to none"))
        XCTAssert(shm.output.contains("\(CoreBudget.share(localRanks: 2)) thread(s) per rank"), shm.output)
        let tcp = Self.shell(launch(hosts: 2, ["--threads", "0", "--epochs", "0", "--name", "t1"]))
        XCTAssert(tcp.output.contains("\(CoreBudget.share(localRanks: 1)) thread(s) per rank"), tcp.output)
    }

    func testAKilledRankOnOneHostEndsTheJobWithinAMinute() throws {
        let start = Date()
        let r = Self.shell(launch(hosts: 2, [], env: ["STRDIST_FAULT": "1:2:kill"], limit: 90))
        XCTAssertNotEqual(r.status, 0, r.output)
        XCTAssertLessThan(Date().timeIntervalSince(start), 60, r.output)
        XCTAssert(r.output.contains("rank 1"), r.output)
    }

    func testAKilledDaemonEndsTheJobWithinAMinute() throws {
        // A longer run; once it trains, the daemon of host h2 (and its rank) is killed.
        let job = Process()
        job.executableURL = URL(fileURLWithPath: "/bin/bash")
        job.arguments = ["-c", launch(hosts: 2, ["--epochs", "50"], limit: 120) + " > \(dir)/daemon.log 2>&1"]
        try job.run()
        var trained = false
        for _ in 0..<600 where !trained {
            usleep(100_000)
            trained = ((try? String(contentsOfFile: dir + "/daemon.log", encoding: .utf8)) ?? "").contains("Epoch: [0][")
        }
        XCTAssert(trained, "the job never started training")
        let killed = Date()
        Self.shell("ip netns pids strdist-h2 | xargs -r ps -o pid=,comm= -p | awk '$2 == \"orted\" || $2 == \"prted\" { print $1 }' | xargs -r kill -9")
        job.waitUntilExit()
        let log = (try? String(contentsOfFile: dir + "/daemon.log", encoding: .utf8)) ?? ""
        XCTAssertNotEqual(job.terminationStatus, 0, log)
        XCTAssertLessThan(Date().timeIntervalSince(killed), 60, log)
        XCTAssert(log.contains("10.77.0.2") || log.contains("h2"), "the message names the lost host: \(log.suffix(800))")
    }
}
