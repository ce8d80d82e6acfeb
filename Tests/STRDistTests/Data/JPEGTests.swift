import XCTest
@testable import STRDist

final class JPEGTests: XCTestCase {
    /// A smooth RGB test pattern (JPEG keeps it within a few levels).
    static func pattern(_ w: Int, _ h: Int) -> [UInt8] {
        var p = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h { for x in 0..<w {
            p[(y * w + x) * 3] = UInt8(x * 255 / max(1, w - 1))
            p[(y * w + x) * 3 + 1] = UInt8(y * 255 / max(1, h - 1))
            p[(y * w + x) * 3 + 2] = 128
        } }
        return p
    }

    func testRoundTripRGBAndGrayscale() throws {
        let d = JPEGDecoder()
        d.load(bytes: try encodeJPEG(Self.pattern(64, 48), width: 64, height: 48, channels: 3, quality: 95))
        XCTAssertEqual(try d.header().width, 64)
        let img = try d.decode()
        XCTAssertEqual([img.width, img.height], [64, 48])
        let ref = Self.pattern(64, 48)
        let worst = (0..<ref.count).map { abs(Int(img.pixels[$0]) - Int(ref[$0])) }.max()!
        XCTAssertLessThanOrEqual(worst, 12)

        let gray = [UInt8]((0..<(32 * 16)).map { UInt8($0 % 32 * 8) })
        d.load(bytes: try encodeJPEG(gray, width: 32, height: 16, channels: 1, quality: 95))
        let g = try d.decode()
        XCTAssertEqual([g.width, g.height], [32, 16])
        for i in [0, 77, 300] {   // grayscale comes out as R = G = B
            XCTAssertEqual(g.pixels[i * 3], g.pixels[i * 3 + 1]); XCTAssertEqual(g.pixels[i * 3], g.pixels[i * 3 + 2])
        }
    }

    func testDCTScalingAndRegionDecode() throws {
        let d = JPEGDecoder()
        d.load(bytes: try encodeJPEG(Self.pattern(200, 120), width: 200, height: 120, channels: 3, quality: 90))
        let half = try d.decode(scale: 2)
        XCTAssertEqual([half.width, half.height, half.scaledWidth], [100, 60, 100])
        let eighth = try d.decode(scale: 8)
        XCTAssertEqual([eighth.width, eighth.height], [25, 15])
        let full = try d.decode()
        var whole = [UInt8](repeating: 0, count: 200 * 120 * 3)
        for i in 0..<whole.count { whole[i] = full.pixels[i] }
        let r = try d.decode(columns: 50..<90, rows: 30..<70)
        XCTAssertEqual([r.y, r.height], [30, 40])
        XCTAssertLessThanOrEqual(r.x, 50); XCTAssertGreaterThanOrEqual(r.x + r.width, 90)
        // Interior pixels of the region equal the full decode's.
        var worst = 0
        for y in 32..<68 { for x in 52..<88 { for c in 0..<3 {
            worst = max(worst, abs(Int(r.pixels[((y - r.y) * r.width + x - r.x) * 3 + c]) - Int(whole[(y * 200 + x) * 3 + c])))
        } } }
        XCTAssertLessThanOrEqual(worst, 1)
    }

    func testCMYKDecodesToRGBLikePIL() throws {
        let d = JPEGDecoder()
        d.load(bytes: TransformGolden.cmykJPEG)
        let img = try d.decode()
        XCTAssertEqual([img.width, img.height], [16, 8])
        let worst = (0..<TransformGolden.cmykAsRGB.count).map { abs(Int(img.pixels[$0]) - Int(TransformGolden.cmykAsRGB[$0])) }.max()!
        XCTAssertLessThanOrEqual(worst, 2)
    }

    func testBadBytesAreErrorsNotCrashes() throws {
        let d = JPEGDecoder()
        let good = try encodeJPEG(Self.pattern(256, 256), width: 256, height: 256, channels: 3, quality: 90)
        d.load(bytes: Array("this is not an image\n".utf8))
        XCTAssertThrowsError(try d.header())
        XCTAssertThrowsError(try d.decode())
        d.load(bytes: Array(good.prefix(good.count / 2)))     // truncated in the scan: a warning, reported as corrupt
        XCTAssertThrowsError(try d.decode()) { XCTAssertTrue("\($0)".contains("Premature end"), "\($0)") }
        var corrupt = good
        for i in 20..<min(200, corrupt.count) { corrupt[i] = 0xFF }   // tables overwritten
        d.load(bytes: corrupt)
        XCTAssertThrowsError(try d.decode())
        let missing = NSTemporaryDirectory() + "/strdist-no-such-file.JPEG"
        XCTAssertThrowsError(try d.load(missing)) { XCTAssertTrue("\($0)".contains("cannot open"), "\($0)") }
    }
}
