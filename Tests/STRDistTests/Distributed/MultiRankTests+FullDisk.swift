// A disk that fills up during a run (a small tmpfs, filled by the `fill` fault after step 7): the logs
// warn and go on, the checkpoint at the epoch's end fails and stops the run with one line, the
// previous checkpoint and every earlier row stay whole, and --resume auto (space freed) finishes
// with the weights of a run that never met a full disk. Needs root (mount); CI runs it.
import XCTest
@testable import STRDist

extension MultiRankTests {
    /// A tmpfs of `size` at `<dir>/<name>` (unmount it when done); skipped without root.
    func mountTmpfs(_ name: String, size: String) throws -> String {
        guard getuid() == 0 else { throw XCTSkip("mounting a tmpfs needs root") }
        let disk = dir + "/" + name
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        let r = ChildProcess.shell("mount -t tmpfs -o size=\(size) strdist-test \(disk)")
        guard r.status == 0 else { throw XCTSkip("cannot mount a tmpfs here: \(r.output)") }
        return disk
    }

    func testAFullDiskStopsAtTheCheckpointWarnsForLogsAndLosesNothing() throws {
        let disk = try mountTmpfs("disk", size: "40m")
        defer { _ = ChildProcess.shell("umount -l \(disk)") }
        let runs = disk + "/runs"
        let full = try mpirun(0, ["--epochs", "2", "--name", "full", "--step_log", dir + "/full.txt"])
        XCTAssertEqual(full.status, 0, full.output)

        let r = try mpirun(0, ["--epochs", "2", "--log_dir", runs], env: ["STRDIST_FAULT": "0:7:fill=\(disk)"])
        XCTAssertEqual(r.status, 1, r.output)
        let errors = r.output.split(separator: "\n").filter { $0.hasPrefix("strdist: error:") }
        XCTAssertEqual(errors.count, 1, r.output)
        XCTAssertTrue(errors.first?.contains("checkpoint not saved, training stops: cannot write '") ?? false, r.output)
        XCTAssertTrue(errors.first?.contains("No space left on device (the previous checkpoint in '") ?? false, r.output)
        XCTAssertTrue(r.output.contains("TensorBoard events are skipped until writing works again (training goes on)"), r.output)

        let run = runs + "/tiny/default/prune_rate=0.0/width_mult=0.25"
        // Rows whole, each with all seven fields: epoch 0's, and epoch 1's all or none (small appends
        // can still fit in the last page of a full tmpfs; testAppendsOnAFullDisk… makes one fail).
        let rows = try String(contentsOfFile: run + "/sparsity_per_layer.csv", encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(rows.last, "", "the file ends with a whole row")
        for row in rows.dropLast() { XCTAssertEqual(row.split(separator: ",", omittingEmptySubsequences: false).count, 7, "\(row)") }
        let layers = rows.filter { $0.hasPrefix("0,") }.count, later = rows.filter { $0.hasPrefix("1,") }.count
        XCTAssertGreaterThan(layers, 0)
        XCTAssertTrue(later == 0 || later == layers, "epoch 1: \(later) of \(layers) rows")
        XCTAssertEqual(rows.count, 2 + layers + later)
        // The event file holds whole records only.
        let logs = try FileManager.default.contentsOfDirectory(atPath: run + "/logs")
        XCTAssertEqual(logs.count, 1)
        XCTAssertNotNil(try EventReader.scalars(run + "/logs/" + logs[0])["test/acc1"])
        // The previous checkpoint: epoch 0's, a matching pair.
        let (_, meta) = try SafeTensors.decode(try Data(contentsOf: URL(fileURLWithPath: run + "/checkpoints/latest.state")), what: "latest.state")
        XCTAssertEqual(meta["epoch"], "1")

        // Space freed: the run resumes from that checkpoint and ends as the uninterrupted one did.
        try FileManager.default.removeItem(atPath: disk + "/.strdist-fill")
        let resumed = try mpirun(0, ["--epochs", "2", "--log_dir", runs, "--resume", "auto", "--step_log", dir + "/resumed.txt"])
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertEqual(try parameters(dir + "/full.txt.params"), try parameters(dir + "/resumed.txt.params"))
        let results = try String(contentsOfFile: runs + "/results.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(results.count, 2, "header and one row: \(results)")
        XCTAssertTrue(results[0].hasPrefix("Date Finished"))
    }

    /// A full disk under results.csv: the row is not written, the header and earlier rows stay.
    func testAppendsOnAFullDiskLeaveTheFileAsItWas() throws {
        let disk = try mountTmpfs("small", size: "1m")
        defer { _ = ChildProcess.shell("umount -l \(disk)") }
        let path = disk + "/results.csv"
        try AppendFile.append("row 1\n", to: path, header: "header\n")
        InjectedFault.fill(disk)
        let long = String(repeating: "x", count: 100_000) + "\n"
        XCTAssertThrowsError(try AppendFile.append(long, to: path)) { e in
            XCTAssertTrue("\(e)".contains("cannot append to '\(path)': No space left on device"), "\(e)")
        }
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "header\nrow 1\n")
        // A file that cannot be created is not left empty and header-less.
        XCTAssertThrowsError(try AppendFile.append("row\n", to: disk + "/new.csv", header: "header\n"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: disk + "/new.csv"))
    }
}
