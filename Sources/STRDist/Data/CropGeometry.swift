// Where a transform takes its pixels from, with torchvision's arithmetic:
// RandomResizedCrop.get_params (10 tries, then the centre fallback) for
// training, Resize(shorter side) + CenterCrop for validation. Python's round
// is half-to-even, int() truncates; both are kept.

import Foundation

/// A region of the source image resampled to `outWidth × outHeight`, of which the
/// window `window*` is produced (the whole output for a crop, the centre for Resize + CenterCrop).
public struct ResamplePlan: Equatable, Sendable {
    public var x: Double, y: Double, width: Double, height: Double
    public var outWidth: Int, outHeight: Int
    public var windowX: Int, windowY: Int, windowWidth: Int, windowHeight: Int

    /// The same plan on the image scaled by 1/`scale` (JPEG DCT-domain downscaling).
    public func scaled(by scale: Int) -> ResamplePlan {
        let s = Double(scale)
        var p = self
        p.x /= s; p.y /= s; p.width /= s; p.height /= s
        return p
    }

    /// The largest of 8, 4, 2 (at most `limit`) that keeps the region at least as large as its output.
    public func bestScale(limit: Int = 8) -> Int {
        for s in [8, 4, 2] where s <= limit {
            if width / Double(s) >= Double(outWidth) && height / Double(s) >= Double(outHeight) { return s }
        }
        return 1
    }
}

public enum CropGeometry {
    /// torchvision RandomResizedCrop.get_params: (top, left, height, width) for an image of
    /// `width × height`; `uniform()` supplies the draws in torchvision's order
    /// (area, log-ratio, then top and left as fractions of their ranges).
    public static func randomResizedCrop(width: Int, height: Int, scale: (Double, Double) = (0.08, 1),
                                         ratio: (Double, Double) = (3.0 / 4, 4.0 / 3),
                                         uniform: () -> Double) -> (top: Int, left: Int, height: Int, width: Int) {
        let area = Double(width * height)
        let logRatio = (log(ratio.0), log(ratio.1))
        for _ in 0..<10 {
            let target = area * (scale.0 + (scale.1 - scale.0) * uniform())
            let aspect = exp(logRatio.0 + (logRatio.1 - logRatio.0) * uniform())
            let w = Int((target * aspect).squareRoot().rounded(.toNearestOrEven))
            let h = Int((target / aspect).squareRoot().rounded(.toNearestOrEven))
            if w > 0 && w <= width && h > 0 && h <= height {
                // torch.randint(0, n + 1): uniform over 0…n.
                let top = min(Int(uniform() * Double(height - h + 1)), height - h)
                let left = min(Int(uniform() * Double(width - w + 1)), width - w)
                return (top, left, h, w)
            }
        }
        let inRatio = Double(width) / Double(height)
        var w = width, h = height
        if inRatio < min(ratio.0, ratio.1) {
            h = Int((Double(w) / min(ratio.0, ratio.1)).rounded(.toNearestOrEven))
        } else if inRatio > max(ratio.0, ratio.1) {
            w = Int((Double(h) * max(ratio.0, ratio.1)).rounded(.toNearestOrEven))
        }
        return ((height - h) / 2, (width - w) / 2, h, w)
    }

    /// RandomResizedCrop to `size × size`.
    public static func trainPlan(width: Int, height: Int, size: Int, uniform: () -> Double) -> ResamplePlan {
        let c = randomResizedCrop(width: width, height: height, uniform: uniform)
        return ResamplePlan(x: Double(c.left), y: Double(c.top), width: Double(c.width), height: Double(c.height),
                            outWidth: size, outHeight: size, windowX: 0, windowY: 0, windowWidth: size, windowHeight: size)
    }

    /// Resize(shorter side → `resize`) then CenterCrop(`size`), as torchvision on a PIL image.
    public static func validationPlan(width: Int, height: Int, resize: Int, size: Int) -> ResamplePlan {
        var ow = resize, oh = resize
        if width < height { oh = Int(Double(resize) * Double(height) / Double(width)) }
        else if height < width { ow = Int(Double(resize) * Double(width) / Double(height)) }
        // CenterCrop: int(round((h - size) / 2)); pads when the image is smaller (not with resize ≥ size).
        let top = Int((Double(oh - size) / 2).rounded(.toNearestOrEven))
        let left = Int((Double(ow - size) / 2).rounded(.toNearestOrEven))
        return ResamplePlan(x: 0, y: 0, width: Double(width), height: Double(height), outWidth: ow, outHeight: oh,
                            windowX: left, windowY: top, windowWidth: size, windowHeight: size)
    }
}
