// scripts/convert_pth.py through its own standard-library tests (scripts/tests/test_convert_pth.py):
// it converts zip and legacy .pth files exactly without torch, and refuses a pickle that would run
// code (one that would create a file) before any of it runs, writing nothing. CI has python3.
import XCTest

final class ConvertPthTests: XCTestCase {
    func testConvertPthPassesItsPythonTests() {
        let test = TinyRun.root + "/scripts/tests/test_convert_pth.py"
        let r = ChildProcess.run("/usr/bin/env", ["python3", test], limit: 300)
        XCTAssertEqual(r.status, 0, "python3 \(test) failed:\n\(r.output)")
    }
}
