// Depthwise convolution (groups == channels == outputs). Square strides
// without dilation run on phase planes (DepthwisePhases: one flat multiply-add
// per tap over a whole plane, in the thread's scratch); any other shape
// directly, a shifted multiply-add per tap over each output row. Threads own
// channels, so every output, input gradient and weight gradient is written by
// exactly one thread. A BatchNorm that alone reads the output can run inside
// the channel loop (`norm`: ChannelNorm), each channel normalised right after
// its planes and its gradient taken right before them, while still in cache.
//
// Shapes: x [C, N, H, W], y/dy [C, N, OH, OW], w/dw [C, 1, kh, kw].

public enum DepthwiseKernels {
    /// `scratch`: g.scratchPerThread floats per thread (used by the phase planes). `norm`: the BatchNorm
    /// run on each channel of y after it is computed.
    public static func forward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               y: UnsafeMutablePointer<Float>, _ g: ConvGeometry, pool: ThreadPool, scratch: ConvScratch,
                               norm: ChannelNorm? = nil) {
        guard DepthwisePhases.applies(g) else {
            pool.parallelRanges(g.inChannels, (x: x, w: w, bias: bias, y: y, g: g, norm: norm)) { a, channels, _ in
                for c in channels {
                    forwardChannels(a.x, a.w, a.bias, a.y, a.g, c..<(c + 1))
                    a.norm?.forward(channel: c, a.y, m: a.g.batch * a.g.outPlane)
                }
            }
            return
        }
        let args = (x: x, w: w, bias: bias, y: y, p: DepthwisePhases(g), scratch: scratch, norm: norm)
        pool.parallelRanges(g.inChannels, args) { a, channels, t in
            let p = a.p, g = p.g, phases = a.scratch.perThread(t), positions = phases + p.s * p.s * p.phaseSize
            for c in channels {
                let wc = a.w + c * g.kernelH * g.kernelW, bias = a.bias?[c] ?? 0
                for n in 0..<g.batch {
                    p.fill(a.x + (c * g.batch + n) * g.inPlane, phases)
                    p.forwardPlane(phases, wc, bias: bias, positions, a.y + (c * g.batch + n) * g.outPlane)
                }
                a.norm?.forward(channel: c, a.y, m: g.batch * g.outPlane)
            }
        }
    }

    public static func forwardChannels(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                                _ y: UnsafeMutablePointer<Float>, _ g: ConvGeometry, _ channels: Range<Int>) {
        for c in channels {
            let wc = w + c * g.kernelH * g.kernelW
            for n in 0..<g.batch {
                let yp = y + (c * g.batch + n) * g.outPlane
                yp.update(repeating: bias?[c] ?? 0, count: g.outPlane)
                forEachTap(g) { ki, kj, lo, hi in
                    let wv = wc[ki * g.kernelW + kj]
                    let xp = x + (c * g.batch + n) * g.inPlane
                    forEachRow(g, ki) { oh, ih in
                        let dst = yp + oh * g.outW
                        let src = xp + ih * g.inW - g.padW + kj * g.dilationW
                        if g.strideW == 1 {
                            var o = lo
                            while o < hi { dst[o] += wv * src[o]; o += 1 }
                        } else {
                            var o = lo
                            while o < hi { dst[o] += wv * src[o * g.strideW]; o += 1 }
                        }
                    }
                }
            }
        }
    }

    /// dw and dbias overwritten; dx overwritten or added to (`accumulate`). `norm`: the BatchNorm whose
    /// backward writes each channel of dy (its `dx`) right before that channel is used.
    public static func backward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                dx: UnsafeMutablePointer<Float>?, accumulate: Bool,
                                dw: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>?,
                                _ g: ConvGeometry, pool: ThreadPool, scratch: ConvScratch, norm: ChannelNormBackward? = nil) {
        guard DepthwisePhases.applies(g) else {
            let args = (x: x, w: w, dy: dy, dx: dx, acc: accumulate, dw: dw, dbias: dbias, g: g, norm: norm)
            pool.parallelRanges(g.inChannels, args) { a, channels, _ in
                for c in channels {
                    a.norm?.backward(channel: c, m: a.g.batch * a.g.outPlane)
                    backwardChannels(a.x, a.w, a.dy, a.dx, a.acc, a.dw, a.dbias, a.g, c..<(c + 1))
                }
            }
            return
        }
        let args = (x: x, w: w, dy: dy, dx: dx, acc: accumulate, dw: dw, dbias: dbias, p: DepthwisePhases(g),
                    scratch: scratch, norm: norm)
        pool.parallelRanges(g.inChannels, args) { a, channels, t in
            let p = a.p, g = p.g, taps = g.kernelH * g.kernelW, size = p.s * p.s * p.phaseSize
            let phases = a.scratch.perThread(t), gradPhases = phases + size, positions = gradPhases + size
            for c in channels {
                a.norm?.backward(channel: c, m: g.batch * g.outPlane)
                let wc = a.w + c * taps, dwc = a.dw + c * taps
                dwc.update(repeating: 0, count: taps)
                if let dbias = a.dbias { dbias[c] = Vec.sum(a.dy + c * g.batch * g.outPlane, g.batch * g.outPlane) }
                for n in 0..<g.batch {
                    p.spread(a.dy + (c * g.batch + n) * g.outPlane, positions)
                    p.fill(a.x + (c * g.batch + n) * g.inPlane, phases)
                    p.weightGradientPlane(positions, phases, dwc)
                    if let dx = a.dx {
                        p.inputGradientPlane(positions, wc, gradPhases, dx + (c * g.batch + n) * g.inPlane,
                                             accumulate: a.acc)
                    }
                }
            }
        }
    }

    public static func backwardChannels(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                 _ dx: UnsafeMutablePointer<Float>?, _ accumulate: Bool, _ dw: UnsafeMutablePointer<Float>,
                                 _ dbias: UnsafeMutablePointer<Float>?, _ g: ConvGeometry, _ channels: Range<Int>) {
        let taps = g.kernelH * g.kernelW
        for c in channels {
            let wc = w + c * taps, dwc = dw + c * taps
            dwc.update(repeating: 0, count: taps)
            if let dbias = dbias { dbias[c] = Vec.sum(dy + c * g.batch * g.outPlane, g.batch * g.outPlane) }
            for n in 0..<g.batch {
                let dyp = dy + (c * g.batch + n) * g.outPlane
                let xp = x + (c * g.batch + n) * g.inPlane
                let dxp = dx.map { $0 + (c * g.batch + n) * g.inPlane }
                if let dxp = dxp, !accumulate { dxp.update(repeating: 0, count: g.inPlane) }
                forEachTap(g) { ki, kj, lo, hi in
                    let tap = ki * g.kernelW + kj
                    let wv = wc[tap]
                    var acc: Float = 0
                    forEachRow(g, ki) { oh, ih in
                        let src = dyp + oh * g.outW
                        let off = ih * g.inW - g.padW + kj * g.dilationW
                        if g.strideW == 1 {
                            acc += Vec.dot(src + lo, xp + off + lo, hi - lo)
                            if let dxp = dxp { Vec.axpy(wv, src + lo, dxp + off + lo, hi - lo) }
                        } else {
                            let s = g.strideW
                            var o = lo
                            while o < hi { acc += src[o] * xp[off + o * s]; o += 1 }
                            if let dxp = dxp {
                                o = lo
                                while o < hi { dxp[off + o * s] += wv * src[o]; o += 1 }
                            }
                        }
                    }
                    dwc[tap] += acc
                }
            }
        }
    }

    /// Calls body(ki, kj, lo, hi) for each tap with its valid output-column range.
    @inline(__always)
    public static func forEachTap(_ g: ConvGeometry, _ body: (Int, Int, Int, Int) -> Void) {
        for ki in 0..<g.kernelH {
            for kj in 0..<g.kernelW {
                let (lo, hi) = Im2col.validColumns(g, kj)
                if hi > lo { body(ki, kj, lo, hi) }
            }
        }
    }

    /// Calls body(oh, ih) for each output row whose input row for tap row ki is inside the image.
    @inline(__always)
    public static func forEachRow(_ g: ConvGeometry, _ ki: Int, _ body: (Int, Int) -> Void) {
        for oh in 0..<g.outH {
            let ih = oh * g.strideH - g.padH + ki * g.dilationH
            if ih >= 0 && ih < g.inH { body(oh, ih) }
        }
    }
}
