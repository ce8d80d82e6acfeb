import XCTest
@testable import STRDist

final class RNGTests: XCTestCase {
    func testSameSeedSameNumbersOtherStreamOthers() {
        var a = RNG(seed: 42, stream: 1), b = RNG(seed: 42, stream: 1), c = RNG(seed: 42, stream: 2)
        let xa = (0..<5).map { _ in a.next() }, xb = (0..<5).map { _ in b.next() }, xc = (0..<5).map { _ in c.next() }
        XCTAssertEqual(xa, xb)
        XCTAssertNotEqual(xa, xc)
    }

    func testNormalMoments() {
        var r = RNG(seed: 7)
        let n = 200_000
        var s = 0.0, s2 = 0.0
        for _ in 0..<n { let v = r.normal(); s += v; s2 += v * v }
        XCTAssertEqual(s / Double(n), 0, accuracy: 0.01)
        XCTAssertEqual(s2 / Double(n), 1, accuracy: 0.01)
    }

    func testUniformRange() {
        var r = RNG(seed: 9)
        for _ in 0..<10_000 {
            let u = r.uniform(-2, 3)
            XCTAssert(u >= -2 && u < 3)
            XCTAssert((0..<7).contains(r.below(7)))
        }
    }
}
