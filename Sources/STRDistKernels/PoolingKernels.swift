// Pooling on CNHW activations; every (c, n) plane is pooled on its own.
// Max pooling records the argmax of each window (its index inside the input
// plane, stored as a Float: exact below 2²⁴) so backward is one scatter.
// Average pooling counts padded cells (PyTorch's count_include_pad=True).

public struct PoolGeometry: Equatable, Sendable {
    public var kernel: Int, stride: Int, padding: Int
    public var planes: Int, inH: Int, inW: Int

    public init(kernel: Int, stride: Int, padding: Int, planes: Int, inH: Int, inW: Int) {
        precondition(kernel > 0 && stride > 0 && padding >= 0 && padding * 2 <= kernel,
                     "pool kernel \(kernel), stride \(stride), padding \(padding) is not valid")
        self.kernel = kernel; self.stride = stride; self.padding = padding
        self.planes = planes; self.inH = inH; self.inW = inW
        precondition(outH > 0 && outW > 0, "pooling \(inH)×\(inW) with kernel \(kernel) gives an empty output")
    }

    public var outH: Int { (inH + 2 * padding - kernel) / stride + 1 }
    public var outW: Int { (inW + 2 * padding - kernel) / stride + 1 }
}

public enum PoolingKernels {
    /// y and (argmax non-nil: training) each window's argmax.
    public static func maxForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                  argmax: UnsafeMutablePointer<Float>?, _ g: PoolGeometry, pool: ThreadPool) {
        pool.parallelRanges(g.planes, (x: x, y: y, argmax: argmax, g: g)) { a, planes, _ in
            maxPlanes(a.x, a.y, a.argmax, a.g, planes)
        }
    }

    /// Stride 2 (the stem's 3/2/1 pool) takes 16 outputs at a time wherever a window's columns lie inside the
    /// row: the even lanes of 32 loaded columns, per kernel cell, in the scalar loop's order.
    public static func maxPlanes(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                 _ argmax: UnsafeMutablePointer<Float>?, _ g: PoolGeometry, _ planes: Range<Int>) {
        let inPlane = g.inH * g.inW, outPlane = g.outH * g.outW
        // Outputs whose every window column c = 2·ow − padding + kw, and the 32 floats loaded from it, lie in the
        // row: ow ≥ first, and a block starting at ow loads up to column 2·ow − padding + kernel + 30 < inW.
        let first = g.stride == 2 ? (g.padding + 1) / 2 : g.outW
        @inline(__always) func fits(_ ow: Int) -> Bool { 2 * ow - g.padding + g.kernel + 30 < g.inW }
        var lanes = Vec.V()
        for j in 0..<16 { lanes[j] = Float(2 * j) }
        for p in planes {
            let xp = x + p * inPlane, yp = y + p * outPlane, ap = argmax.map { $0 + p * outPlane }
            for oh in 0..<g.outH {
                let h0 = max(0, oh * g.stride - g.padding), h1 = min(g.inH, oh * g.stride - g.padding + g.kernel)
                var ow = 0
                while ow < g.outW {
                    guard g.stride == 2 && ow >= first && ow + 15 <= g.outW - 1 && fits(ow) else {
                        let (best, at) = maxWindow(xp, g, h0, h1, ow)
                        yp[oh * g.outW + ow] = best
                        ap?[oh * g.outW + ow] = Float(at)
                        ow += 1
                        continue
                    }
                    let c0 = 2 * ow - g.padding
                    var best = Vec.V(repeating: -.infinity), at = Vec.V(repeating: Float(h0 * g.inW + c0)) + lanes
                    for h in h0..<h1 {
                        for kw in 0..<g.kernel {
                            let i = h * g.inW + c0 + kw
                            let v = UnsafeRawPointer(xp + i).loadUnaligned(as: SIMD32<Float>.self).evenHalf
                            let take = (v .> best) .| (v .!= v)
                            best.replace(with: v, where: take)
                            at.replace(with: Vec.V(repeating: Float(i)) + lanes, where: take)
                        }
                    }
                    Vec.store(best, yp + oh * g.outW + ow)
                    if let ap { Vec.store(at, ap + oh * g.outW + ow) }
                    ow += 16
                }
            }
        }
    }

    /// One window's maximum and the index of its first maximum (or of a NaN, as PyTorch) in the plane.
    @inline(__always)
    static func maxWindow(_ xp: UnsafePointer<Float>, _ g: PoolGeometry, _ h0: Int, _ h1: Int, _ ow: Int) -> (Float, Int) {
        let w0 = max(0, ow * g.stride - g.padding), w1 = min(g.inW, ow * g.stride - g.padding + g.kernel)
        var best = -Float.infinity, at = h0 * g.inW + w0
        for h in h0..<h1 {
            for w in w0..<w1 {
                // Selects, not branches: which cell wins is data, and mispredicts cost more than the compare.
                let i = h * g.inW + w, v = xp[i]
                let take = v > best || v != v   // the first maximum, or NaN (PyTorch)
                best = take ? v : best
                at = take ? i : at
            }
        }
        return (best, at)
    }

    public static func maxBackward(_ dy: UnsafePointer<Float>, argmax: UnsafePointer<Float>,
                                   _ dx: UnsafeMutablePointer<Float>, accumulate: Bool,
                                   _ g: PoolGeometry, pool: ThreadPool) {
        pool.parallelRanges(g.planes, (dy: dy, argmax: argmax, dx: dx, acc: accumulate, g: g)) { a, planes, _ in
            let inPlane = a.g.inH * a.g.inW, outPlane = a.g.outH * a.g.outW
            for p in planes {
                let dxp = a.dx + p * inPlane
                if !a.acc { dxp.update(repeating: 0, count: inPlane) }
                for o in 0..<outPlane { dxp[Int(a.argmax[p * outPlane + o])] += a.dy[p * outPlane + o] }
            }
        }
    }

    public static func avgForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                  _ g: PoolGeometry, pool: ThreadPool) {
        pool.parallelRanges(g.planes, (x: x, y: y, g: g)) { a, planes, _ in
            let g = a.g, inPlane = g.inH * g.inW, outPlane = g.outH * g.outW
            let scale = 1 / Float(g.kernel * g.kernel)
            for p in planes {
                forEachWindow(g) { o, h0, h1, w0, w1 in
                    var s: Float = 0
                    for h in h0..<h1 { for w in w0..<w1 { s += a.x[p * inPlane + h * g.inW + w] } }
                    a.y[p * outPlane + o] = s * scale
                }
            }
        }
    }

    public static func avgBackward(_ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, accumulate: Bool,
                                   _ g: PoolGeometry, pool: ThreadPool) {
        pool.parallelRanges(g.planes, (dy: dy, dx: dx, acc: accumulate, g: g)) { a, planes, _ in
            let g = a.g, inPlane = g.inH * g.inW, outPlane = g.outH * g.outW
            let scale = 1 / Float(g.kernel * g.kernel)
            for p in planes {
                let dxp = a.dx + p * inPlane
                if !a.acc { dxp.update(repeating: 0, count: inPlane) }
                forEachWindow(g) { o, h0, h1, w0, w1 in
                    let d = a.dy[p * outPlane + o] * scale
                    for h in h0..<h1 { for w in w0..<w1 { dxp[h * g.inW + w] += d } }
                }
            }
        }
    }

    /// Calls body(output index, h0, h1, w0, w1) with each window clipped to the image.
    @inline(__always)
    public static func forEachWindow(_ g: PoolGeometry, _ body: (Int, Int, Int, Int, Int) -> Void) {
        for oh in 0..<g.outH {
            let h0 = max(0, oh * g.stride - g.padding), h1 = min(g.inH, oh * g.stride - g.padding + g.kernel)
            for ow in 0..<g.outW {
                let w0 = max(0, ow * g.stride - g.padding), w1 = min(g.inW, ow * g.stride - g.padding + g.kernel)
                body(oh * g.outW + ow, h0, h1, w0, w1)
            }
        }
    }

    /// AdaptiveAvgPool2d(1): the mean of each plane.
    public static func globalAvgForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                        planes: Int, plane: Int, pool: ThreadPool) {
        pool.parallelRanges(planes, (x: x, y: y, plane: plane)) { a, range, _ in
            for p in range { a.y[p] = Vec.sum(a.x + p * a.plane, a.plane) / Float(a.plane) }
        }
    }

    public static func globalAvgBackward(_ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                                         accumulate: Bool, planes: Int, plane: Int, pool: ThreadPool) {
        pool.parallelRanges(planes, (dy: dy, dx: dx, acc: accumulate, plane: plane)) { a, range, _ in
            for p in range {
                let d = a.dy[p] / Float(a.plane), dxp = a.dx + p * a.plane
                if a.acc { for i in 0..<a.plane { dxp[i] += d } } else { dxp.update(repeating: d, count: a.plane) }
            }
        }
    }
}
