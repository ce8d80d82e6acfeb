// Bilinear resampling with antialiasing when shrinking, as PIL's resize does
// it: a triangle filter whose support widens with the scale factor, weights
// normalised per output pixel, taps clipped to the source region. It runs
// separably (rows of taps first, vectorised across the region's width; then
// columns, vectorised across RGB) in float, and writes normalised planes.
// One Resampler per worker: its buffers grow to the largest plan and stay.

public final class Resampler {
    private struct Taps {
        var start: UnsafeMutablePointer<Int32>, count: UnsafeMutablePointer<Int32>
        var weights: UnsafeMutablePointer<Float>
        var capacity = 0, maxTaps = 0
        init() {
            start = .allocate(capacity: 1); count = .allocate(capacity: 1); weights = .allocate(capacity: 1)
        }
        mutating func reserve(_ n: Int, taps: Int) {
            guard n > capacity || taps > maxTaps else { return }
            capacity = max(n, capacity); maxTaps = max(taps, maxTaps)
            start.deallocate(); count.deallocate(); weights.deallocate()
            start = .allocate(capacity: capacity); count = .allocate(capacity: capacity)
            weights = .allocate(capacity: capacity * maxTaps)
        }
        func free() { start.deallocate(); count.deallocate(); weights.deallocate() }
    }
    private var horizontal = Taps(), vertical = Taps()
    private var rows = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    private var rowsCapacity = 0

    public init() {}
    deinit { horizontal.free(); vertical.free(); rows.deallocate() }

    /// PIL's coefficients for output coordinates `window` of a region starting at `origin`
    /// with `length` source pixels resampled to `outLength`; taps clipped to [lo, hi).
    private static func plan(_ t: inout Taps, origin: Double, length: Double, outLength: Int,
                             window: Range<Int>, lo: Int, hi: Int) {
        let scale = length / Double(outLength)
        let filterScale = max(scale, 1)
        let support = filterScale          // bilinear's support is 1
        t.reserve(window.count, taps: Int(support.rounded(.up)) * 2 + 2)
        for (k, o) in window.enumerated() {
            let center = origin + (Double(o) + 0.5) * scale
            let first = max(Int((center - support + 0.5).rounded(.down)), lo)
            let last = min(Int((center + support + 0.5).rounded(.down)), hi)
            var total = 0.0
            let w = t.weights + k * t.maxTaps
            var n = 0
            if last > first {
                for i in first..<last {
                    let v = max(0, 1 - abs((Double(i) - center + 0.5) / filterScale))
                    w[n] = Float(v); total += v; n += 1
                }
            }
            if total > 0 { for i in 0..<n { w[i] = Float(Double(w[i]) / total) } }
            t.start[k] = Int32(first); t.count[k] = Int32(n)
        }
    }

    /// Resamples `image` by `plan` (already in the image's scaled coordinates) and writes
    /// (value/255 − mean)/std into three planes of `plan.windowWidth × windowHeight` at
    /// `out + c·planeStride`, mirrored left–right when `flip`.
    public func run(_ image: RGBImage, _ plan: ResamplePlan, mean: SIMD4<Float>, std: SIMD4<Float>, flip: Bool,
                    out: UnsafeMutablePointer<Float>, planeStride: Int) {
        let loX = max(Int(plan.x.rounded(.down)), 0), hiX = min(Int((plan.x + plan.width).rounded(.up)), image.scaledWidth)
        let loY = max(Int(plan.y.rounded(.down)), 0), hiY = min(Int((plan.y + plan.height).rounded(.up)), image.scaledHeight)
        let ww = plan.windowWidth, wh = plan.windowHeight
        Self.plan(&horizontal, origin: plan.x, length: plan.width, outLength: plan.outWidth,
                  window: plan.windowX..<(plan.windowX + ww), lo: loX, hi: hiX)
        Self.plan(&vertical, origin: plan.y, length: plan.height, outLength: plan.outHeight,
                  window: plan.windowY..<(plan.windowY + wh), lo: loY, hi: hiY)
        // Columns the horizontal taps touch, relative to the decoded region.
        var c0 = Int.max, c1 = Int.min
        for k in 0..<ww where horizontal.count[k] > 0 {
            c0 = min(c0, Int(horizontal.start[k])); c1 = max(c1, Int(horizontal.start[k] + horizontal.count[k]))
        }
        precondition(c0 >= image.x && c1 <= image.x + image.width, "decoded columns do not cover the resample plan")
        let span = (c1 - c0) * 3
        let need = wh * span + 16
        if need > rowsCapacity { rows.deallocate(); rows = .allocate(capacity: need); rowsCapacity = need }

        // Vertical pass: rows[oy] = Σ w · source row, over the touched columns.
        let stride = image.width * 3
        let base = image.pixels + (c0 - image.x) * 3
        for oy in 0..<wh {
            let dst = rows + oy * span
            let n = Int(vertical.count[oy]), w = vertical.weights + oy * vertical.maxTaps
            let s0 = Int(vertical.start[oy]) - image.y
            precondition(s0 >= 0 && s0 + n <= image.height, "decoded rows do not cover the resample plan")
            var i = 0
            while i + 16 <= span {
                var acc = SIMD16<Float>()
                for t in 0..<n {
                    let p = UnsafeRawPointer(base + (s0 + t) * stride + i).loadUnaligned(as: SIMD16<UInt8>.self)
                    acc.addProduct(SIMD16<Float>(SIMD16<Int32>(truncatingIfNeeded: p)), w[t])
                }
                UnsafeMutableRawPointer(dst + i).storeBytes(of: acc, as: SIMD16<Float>.self)
                i += 16
            }
            while i < span {
                var acc: Float = 0
                for t in 0..<n { acc += Float(base[(s0 + t) * stride + i]) * w[t] }
                dst[i] = acc
                i += 1
            }
        }
        // Horizontal pass, RGB as one 4-lane vector; normalise and write planes.
        let scale = 1 / (255 * std), shift = -mean / std
        for oy in 0..<wh {
            let src = rows + oy * span
            for ox in 0..<ww {
                let n = Int(horizontal.count[ox]), w = horizontal.weights + ox * horizontal.maxTaps
                let s0 = (Int(horizontal.start[ox]) - c0) * 3
                var acc = SIMD4<Float>()
                for t in 0..<n {
                    acc.addProduct(UnsafeRawPointer(src + s0 + 3 * t).loadUnaligned(as: SIMD4<Float>.self), w[t])
                }
                let v = acc * scale + shift
                let x = flip ? ww - 1 - ox : ox
                let o = out + oy * ww + x
                o[0] = v[0]; o[planeStride] = v[1]; o[2 * planeStride] = v[2]
            }
        }
    }

    /// Source rows and columns (in the scaled image) that `plan` reads: decode at least these.
    public static func footprint(_ plan: ResamplePlan, scaledWidth: Int, scaledHeight: Int) -> (columns: Range<Int>, rows: Range<Int>) {
        func range(origin: Double, length: Double, out: Int, window: Range<Int>, limit: Int) -> Range<Int> {
            let scale = length / Double(out), support = max(scale, 1)
            let lo = max(Int(origin.rounded(.down)), 0), hi = min(Int((origin + length).rounded(.up)), limit)
            let a = origin + (Double(window.lowerBound) + 0.5) * scale, b = origin + (Double(window.upperBound) - 0.5) * scale
            let first = max(Int((a - support + 0.5).rounded(.down)), lo)
            let last = min(Int((b + support + 0.5).rounded(.down)), hi)
            return first..<max(last, first + 1)
        }
        return (range(origin: plan.x, length: plan.width, out: plan.outWidth,
                      window: plan.windowX..<(plan.windowX + plan.windowWidth), limit: scaledWidth),
                range(origin: plan.y, length: plan.height, out: plan.outHeight,
                      window: plan.windowY..<(plan.windowY + plan.windowHeight), limit: scaledHeight))
    }
}
