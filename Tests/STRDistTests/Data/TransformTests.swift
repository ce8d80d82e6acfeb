import XCTest
@testable import STRDist

/// Crop boxes and resampling against torchvision/PIL (fixtures from scripts/golden/make_transform_golden.py).
final class TransformTests: XCTestCase {
    func testRandomResizedCropMatchesTorchvisionForFixedDraws() {
        for (w, h, draws, top, left, ch, cw) in TransformGolden.crops {
            var it = draws.makeIterator()
            let c = CropGeometry.randomResizedCrop(width: w, height: h, uniform: { it.next()! })
            XCTAssertEqual([c.top, c.left, c.height, c.width], [top, left, ch, cw], "\(w)×\(h) draws \(draws)")
        }
    }

    func testValidationPlanIsResizeThenCentreCrop() {
        let p = CropGeometry.validationPlan(width: 500, height: 375, resize: 256, size: 224)
        XCTAssertEqual(p.outWidth, 341); XCTAssertEqual(p.outHeight, 256)   // int(256 · 500/375)
        XCTAssertEqual(p.windowX, 58); XCTAssertEqual(p.windowY, 16)        // round((341−224)/2) half-even, (256−224)/2
        XCTAssertEqual(p.bestScale(), 1)
        let big = CropGeometry.validationPlan(width: 2000, height: 1500, resize: 256, size: 224)
        XCTAssertEqual(big.bestScale(), 4)     // 1500/4 = 375 ≥ 256; 1500/8 < 256
        XCTAssertEqual(big.bestScale(limit: 2), 2)
    }

    private func knownImage() -> [UInt8] {
        var p = [UInt8](repeating: 0, count: 40 * 30 * 3)
        for y in 0..<30 { for x in 0..<40 { for c in 0..<3 {
            p[(y * 40 + x) * 3 + c] = UInt8((x * 37 + y * 91 + c * 53 + ((x * y) % 17) * 7) % 256)
        } } }
        return p
    }

    /// Runs the resampler on the known image and returns HWC bytes-equivalents (value × 255).
    private func resample(_ plan: ResamplePlan, flip: Bool = false) -> [Float] {
        let pixels = knownImage()
        let n = plan.windowWidth * plan.windowHeight
        var out = [Float](repeating: 0, count: 3 * n)
        pixels.withUnsafeBufferPointer { px in
            let image = RGBImage(pixels: px.baseAddress!, width: 40, height: 30, x: 0, y: 0, scale: 1,
                                 scaledWidth: 40, scaledHeight: 30)
            out.withUnsafeMutableBufferPointer { o in
                Resampler().run(image, plan, mean: .zero, std: .one, flip: flip, out: o.baseAddress!, planeStride: n)
            }
        }
        var hwc = [Float](repeating: 0, count: 3 * n)
        for i in 0..<n { for c in 0..<3 { hwc[i * 3 + c] = out[c * n + i] * 255 } }
        return hwc
    }

    private func assertClose(_ ours: [Float], _ pil: [UInt8], _ label: String) {
        XCTAssertEqual(ours.count, pil.count)
        // PIL works in 8-bit fixed point and rounds between its two passes; we stay in float.
        let worst = zip(ours, pil).map { abs($0 - Float($1)) }.max()!
        XCTAssertLessThanOrEqual(worst, 1.6, "\(label): worst difference \(worst) of 255")
        let mean = zip(ours, pil).map { abs($0 - Float($1)) }.reduce(0, +) / Float(ours.count)
        XCTAssertLessThan(mean, 0.5, label)
    }

    func testCropAndShrinkMatchesPIL() {
        let (top, left, h, w) = TransformGolden.shrinkBox
        let plan = ResamplePlan(x: Double(left), y: Double(top), width: Double(w), height: Double(h),
                                outWidth: 16, outHeight: 16, windowX: 0, windowY: 0, windowWidth: 16, windowHeight: 16)
        assertClose(resample(plan), TransformGolden.shrink, "shrink")
    }

    func testCropAndEnlargeMatchesPIL() {
        let (top, left, h, w) = TransformGolden.enlargeBox
        let plan = ResamplePlan(x: Double(left), y: Double(top), width: Double(w), height: Double(h),
                                outWidth: 16, outHeight: 16, windowX: 0, windowY: 0, windowWidth: 16, windowHeight: 16)
        assertClose(resample(plan), TransformGolden.enlarge, "enlarge")
    }

    func testResizeAndCentreCropMatchesPIL() {
        let plan = CropGeometry.validationPlan(width: 40, height: 30, resize: 20, size: 16)
        assertClose(resample(plan), TransformGolden.validation, "validation")
    }

    func testFlipMirrorsAndNormalisationUsesMeanAndStd() {
        let plan = CropGeometry.validationPlan(width: 40, height: 30, resize: 20, size: 16)
        let straight = resample(plan), flipped = resample(plan, flip: true)
        for y in 0..<16 { for x in 0..<16 { for c in 0..<3 {
            XCTAssertEqual(flipped[(y * 16 + x) * 3 + c], straight[(y * 16 + 15 - x) * 3 + c])
        } } }
        // (v/255 − mean)/std per channel.
        let pixels = [UInt8](repeating: 200, count: 4 * 4 * 3)
        var out = [Float](repeating: 0, count: 3 * 4)
        let mean = SIMD4<Float>(0.485, 0.456, 0.406, 0), std = SIMD4<Float>(0.229, 0.224, 0.225, 1)
        pixels.withUnsafeBufferPointer { px in
            let image = RGBImage(pixels: px.baseAddress!, width: 4, height: 4, x: 0, y: 0, scale: 1, scaledWidth: 4, scaledHeight: 4)
            let plan = ResamplePlan(x: 0, y: 0, width: 4, height: 4, outWidth: 2, outHeight: 2,
                                    windowX: 0, windowY: 0, windowWidth: 2, windowHeight: 2)
            out.withUnsafeMutableBufferPointer { Resampler().run(image, plan, mean: mean, std: std, flip: false, out: $0.baseAddress!, planeStride: 4) }
        }
        for c in 0..<3 { XCTAssertEqual(out[c * 4], (200 / 255 - mean[c]) / std[c], accuracy: 1e-5) }
    }
}
