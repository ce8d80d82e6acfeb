// The fuzz targets' seed corpus replayed through the plain build of strdist-fuzz: every reader
// returns (an error or a value) on every seed, and the corpus on disk is what `strdist-fuzz seeds`
// writes today (so the seeds reach the current formats). scripts/fuzz.sh does the fuzzing itself.
import XCTest
@testable import STRDist

final class FuzzCorpusTests: TemporaryDirectoryTestCase {
    static let binary = TinyRun.root + "/.build/release/strdist-fuzz"
    static let corpus = TinyRun.root + "/fuzz/corpus"
    static let targets = ["safetensors", "state", "config", "idx", "jpeg", "tfrecord"]

    func testEverySeedIsReadWithoutACrash() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            XCTFail("\(Self.binary) is missing: scripts/test.sh builds it"); return
        }
        for t in Self.targets {
            let r = ChildProcess.run(Self.binary, [t, Self.corpus + "/" + t], limit: 120)
            XCTAssertEqual(r.status, 0, "\(t): \(r.output)")
            XCTAssertTrue(r.output.contains("\(t): 2 input(s) replayed, none crashed"), r.output)
        }
    }

    func testTheCommittedSeedsAreTheOnesTheWritersMakeToday() throws {
        let r = ChildProcess.run(Self.binary, ["seeds", dir], limit: 120)
        XCTAssertEqual(r.status, 0, r.output)
        for t in Self.targets where t != "state" && t != "tfrecord" {   // those two hold wall times and paths' bytes
            let names = try FileManager.default.contentsOfDirectory(atPath: dir + "/" + t).sorted()
            XCTAssertEqual(names, try FileManager.default.contentsOfDirectory(atPath: Self.corpus + "/" + t).sorted(), t)
            for n in names {
                XCTAssertEqual(FileManager.default.contents(atPath: dir + "/\(t)/\(n)"),
                               FileManager.default.contents(atPath: Self.corpus + "/\(t)/\(n)"), "\(t)/\(n): rerun strdist-fuzz seeds fuzz/corpus")
            }
        }
    }
}
