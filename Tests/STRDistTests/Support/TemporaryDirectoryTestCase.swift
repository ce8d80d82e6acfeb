// A test case with a fresh temporary folder per test (`dir`), removed afterwards.
import XCTest
import Foundation

class TemporaryDirectoryTestCase: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "/strdist-\(type(of: self))-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }
}
