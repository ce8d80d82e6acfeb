import XCTest
@testable import STRDist

/// Runs the release `strdist` under `mpirun` (as CI does: --allow-run-as-root --oversubscribe) on a small
/// synthetic JPEG tree, and checks what data parallelism promises.
final class MultiRankTests: XCTestCase {
    static let root = TinyRun.root
    static let binary = TinyRun.binary
    static let data = NSTemporaryDirectory() + "/strdist-mpi-data-\(getpid())"
    var dir = ""

    override class func setUp() {
        // 3 classes: 60 training images (5 steps of 12), 9 validation images (not a multiple of 2 or 4).
        TinyRun.makeData(at: data, perClass: 20, valPerClass: 3)
    }

    override class func tearDown() { try? FileManager.default.removeItem(atPath: data) }

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            XCTFail("\(Self.binary) is missing: build it first (scripts/test.sh does: swift build -c release)"); return
        }
        dir = NSTemporaryDirectory() + "/strdist-mpi-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let config = TinyRun.config([
            "data": Self.data, "num_classes": "3", "optimizer": "sgd", "lr": "0.005", "warmup_length": "0", "epochs": "1",
            "weight_decay": "0.0005", "momentum": "0.9", "nesterov": "true", "batch_size": "12", "label_smoothing": "0.1",
            "seed": "5", "threads": "1", "workers": "0", "log_dir": dir + "/runs",
        ])
        try config.write(toFile: dir + "/tiny.yaml", atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    struct Run { var status: Int32, output: String }

    /// `mpirun -np ranks strdist --config tiny.yaml args…` (ranks 0: `strdist` alone, no MPI); killed
    /// (and failed) if it outlives `limit` seconds.
    func mpirun(_ ranks: Int, _ args: [String], env: [String: String] = [:], limit: Double = 240) throws -> Run {
        var a = TinyRun.mpirun(ranks, env: env)
        if ranks == 0 { a = env.map { "\($0.key)=\($0.value)" } }
        let r = ChildProcess.run("/usr/bin/env", a + [Self.binary, "--config", dir + "/tiny.yaml"] + args, limit: limit)
        if r.timedOut { XCTFail("mpirun -np \(ranks) \(args) did not end within \(Int(limit)) s: a hang") }
        return Run(status: r.status, output: r.output)
    }

    func losses(_ path: String) throws -> [Float] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { Float($0.split(separator: " ")[1])! }
    }

    func parameters(_ path: String) throws -> [Float] {
        let d = try Data(contentsOf: URL(fileURLWithPath: path))
        return d.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    func testSyncBatchNormGivesTheSameStepsOnOneTwoAndFourRanks() throws {
        var runs: [Int: ([Float], [Float])] = [:]
        for ranks in [1, 2, 4] {
            let log = dir + "/steps\(ranks).txt"
            // im2col: per-rank batches of 12, 6 and 3 tile differently under Winograd, and STR's
            // thresholds amplify that rounding past these bounds within five steps.
            let r = try mpirun(ranks, ["--sync_bn", "true", "--step_log", log, "--conv_algorithm", "im2col"])
            XCTAssertEqual(r.status, 0, r.output)
            guard r.status == 0 else { return }
            runs[ranks] = (try losses(log), try parameters(log + ".params"))
        }
        let (l1, w1) = runs[1]!
        XCTAssertEqual(l1.count, 5)
        let scale = w1.map { abs($0) }.max()!
        for ranks in [2, 4] {
            let (l, w) = runs[ranks]!
            XCTAssertEqual(l.count, l1.count)
            for (a, b) in zip(l, l1) { XCTAssertEqual(a, b, accuracy: 1e-4 * abs(b), "np \(ranks) step losses \(l) vs \(l1)") }
            let worst = zip(w, w1).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(worst, 1e-4 * scale, "np \(ranks): final weights differ by \(worst)")
        }
    }

    func testReplicasStayIdenticalAndValidationCountsEverySampleOnce() throws {
        for ranks in [2, 4] {
            let r = try mpirun(ranks, [])
            XCTAssertEqual(r.status, 0, r.output)
            // The trainer compares parameter checksums across ranks at every epoch end and aborts if they differ.
            XCTAssertTrue(r.output.contains("9 validation samples over \(ranks) ranks"), r.output)
            XCTAssertFalse(r.output.contains("diverged"))
        }
        // Rank 0 alone writes: one results row per run, and one event file per run folder.
        let rows = try String(contentsOfFile: dir + "/runs/results.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(rows.count, 1 + 2)
        let events = try FileManager.default.subpathsOfDirectory(atPath: dir + "/runs").filter { $0.contains("tfevents") }
        XCTAssertEqual(events.count, 2, "\(events)")
    }

    func testResumeOnTwoRanksIsBitIdentical() throws {
        let full = try mpirun(2, ["--epochs", "2", "--name", "full", "--step_log", dir + "/full.txt"])
        XCTAssertEqual(full.status, 0, full.output)
        let part = try mpirun(2, ["--epochs", "1", "--name", "part"])
        XCTAssertEqual(part.status, 0, part.output)
        let resumed = try mpirun(2, ["--epochs", "2", "--name", "part", "--resume", "auto", "--step_log", dir + "/part.txt"])
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.output.contains("after epoch 0"), resumed.output)
        XCTAssertEqual(try parameters(dir + "/full.txt.params"), try parameters(dir + "/part.txt.params"))
    }

    /// The same in bf16, every im2col and pointwise conv on bf16 products (STRDIST_BF16_MIN=0,0).
    func testResumeOnTwoRanksIsBitIdenticalInBF16() throws {
        try XCTSkipUnless(BFloat16.cpuHasArithmetic, "precision bf16 needs AVX512_BF16, which this CPU lacks")
        let env = ["STRDIST_BF16_MIN": "0,0"]
        // The dense bf16 products (im2col), and the sparse kernels' bf16 products (sparse: every conv on them).
        for algorithm in ["im2col", "sparse"] {
            let words = ["--precision", "bf16", "--conv_algorithm", algorithm], tag = "bf16" + algorithm
            let full = try mpirun(2, words + ["--epochs", "2", "--name", tag + "full", "--step_log", dir + "/\(tag)full.txt"],
                                  env: env)
            XCTAssertEqual(full.status, 0, full.output)
            let part = try mpirun(2, words + ["--epochs", "1", "--name", tag + "part"], env: env)
            XCTAssertEqual(part.status, 0, part.output)
            let resumed = try mpirun(2, words + ["--epochs", "2", "--name", tag + "part", "--resume", "auto", "--step_log",
                                                 dir + "/\(tag)part.txt"], env: env)
            XCTAssertEqual(resumed.status, 0, resumed.output)
            XCTAssertEqual(try parameters(dir + "/\(tag)full.txt.params"), try parameters(dir + "/\(tag)part.txt.params"), algorithm)
            // And bf16 did run: the fp32 run's parameters differ.
            let fp32 = try mpirun(2, ["--conv_algorithm", algorithm, "--epochs", "2", "--name", "fp32" + algorithm,
                                      "--step_log", dir + "/fp32\(algorithm).txt"])
            XCTAssertEqual(fp32.status, 0, fp32.output)
            XCTAssertNotEqual(try parameters(dir + "/fp32\(algorithm).txt.params"), try parameters(dir + "/\(tag)full.txt.params"),
                              algorithm)
        }
    }

    /// STR's weight gradients travel as their kept positions only; with two ranks every element's sum
    /// is a + b either way, so the result is the dense all-reduce's bit for bit — while masks move.
    func testKeptOnlyAllreduceIsBitIdenticalToTheDenseOne() throws {
        for algorithm in ["sparse", "auto"] {
            let kept = try mpirun(2, ["--step_log", dir + "/kept.txt", "--conv_algorithm", algorithm, "--epochs", "2",
                                      "--sInit_value", "-2"])
            XCTAssertEqual(kept.status, 0, kept.output)
            let dense = try mpirun(2, ["--step_log", dir + "/dense.txt", "--conv_algorithm", algorithm, "--epochs", "2", "--sInit_value", "-2",
                                       "--allreduce_kept_only", "false"])
            XCTAssertEqual(dense.status, 0, dense.output)
            XCTAssertEqual(try parameters(dir + "/kept.txt.params"), try parameters(dir + "/dense.txt.params"), algorithm)
            XCTAssertEqual(try losses(dir + "/kept.txt"), try losses(dir + "/dense.txt"), algorithm)
            let floats = { (path: String) throws -> [Int] in
                try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { Int($0.split(separator: " ")[2])! }
            }
            let k = try floats(dir + "/kept.txt"), d = try floats(dir + "/dense.txt")
            XCTAssertEqual(Set(d).count, 1, "the dense all-reduce carries the same floats every step")
            XCTAssertLessThan(k.max()!, d[0], "\(algorithm): kept positions only")
            XCTAssertGreaterThan(Set(k).count, 1, "\(algorithm): the masks moved during the run (\(k))")
        }
    }

    func testDivergedReplicasAreCaught() throws {
        let r = try mpirun(2, [], env: ["STRDIST_FAULT": "1:2:diverge"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.output.contains("replicas diverged"), r.output)
    }

    func testARankThatThrowsEndsTheJob() throws {
        let r = try mpirun(2, [], env: ["STRDIST_FAULT": "1:2:throw"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.output.contains("strdist: error: rank 1 of 2: injected fault at step 2"), r.output)
    }

    func testAKilledRankEndsTheJob() throws {
        let r = try mpirun(2, [], env: ["STRDIST_FAULT": "1:2:kill"])
        XCTAssertNotEqual(r.status, 0, r.output)
    }

    /// A rank that hangs after step 2: the other waits in that step's metrics all-reduce, and the stall
    /// inspector names the rank that never arrived, the collective and the step.
    func testAStalledCollectiveNamesTheRankThatDidNotArrive() throws {
        let r = try mpirun(2, ["--stall_timeout", "3"], env: ["STRDIST_FAULT": "1:2:stall"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.output.contains("rank 1 did not arrive at the all-reduce of 5 step metrics") && r.output.contains("at step 2"), r.output)
        XCTAssertTrue(r.output.contains("rank 0 waited there"), r.output)
    }

    /// A rank stuck after the epoch's last step leaves the others in a collective of the main thread.
    func testAStallOutsideBackwardNamesTheRankThatDidNotArrive() throws {
        let r = try mpirun(2, ["--stall_timeout", "3"], env: ["STRDIST_FAULT": "1:5:stall"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.output.contains("rank 1 did not arrive at the"), r.output)
    }

    /// SIGSTOP (a frozen process, not a dead one: MPI sees nothing wrong): the job still ends within a
    /// minute, and the line names the stopped rank — whichever it is, rank 0 included.
    func testAStoppedRankIsNamedAndTheJobEnds() throws {
        for stopped in [1, 0] {
            let start = Date()
            let r = try mpirun(3, ["--stall_timeout", "3", "--batch_size", "12"], env: ["STRDIST_FAULT": "\(stopped):3:sigstop"], limit: 90)
            XCTAssertNotEqual(r.status, 0, r.output)
            XCTAssertLessThan(Date().timeIntervalSince(start), 60, r.output)
            XCTAssertTrue(r.output.contains("rank \(stopped) did not arrive at the") && r.output.contains("at step 3"), r.output)
            let waited = stopped == 0 ? "ranks 1 and 2 waited there" : "ranks 0 and 2 waited there"
            XCTAssertTrue(r.output.contains(waited), r.output)
        }
    }

    func testGlobalBatchMustDivideOverRanks() throws {
        let r = try mpirun(4, ["--batch_size", "10"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.output.contains("must divide evenly over the 4 ranks"), r.output)
    }
}
