// Depthwise convolution on phase planes. Each image plane of a channel is
// zero-padded and split by the stride s into s² phase planes — phase (p, q)
// holds padded pixel (s·i + p, s·j + q) at i·pitch + j — so that tap (a, b)
// of every output position r = oh·pitch + ow reads phase (a mod s, b mod s)
// at r + (a / s)·pitch + b / s. Every tap is then one flat, vectorised
// multiply-add over the whole plane (positions with ow ≥ OW are computed on
// zeros and dropped), instead of a short loop per output row. Backward runs
// the same offsets: ∂W as dot products with ∂Y laid out at the same pitch
// (zeros in the dropped positions), ∂X as multiply-adds into phase planes of
// the gradient, gathered back into the image. Everything one plane needs
// stays in the thread's scratch (L1/L2).

public struct DepthwisePhases: Sendable {
    public let g: ConvGeometry
    /// The stride (both directions).
    public let s: Int
    /// Floats per phase row, and rows per phase plane.
    public let pitch: Int, rows: Int
    /// Output positions computed per plane: OH rows at the pitch, rounded up to whole vectors.
    public let span: Int
    /// Floats per phase plane: its rows and the zeros that the last vectors' reads reach.
    public let phaseSize: Int

    public init(_ g: ConvGeometry) {
        self.g = g
        s = g.strideH
        let hp = g.inH + 2 * g.padH, wp = g.inW + 2 * g.padW
        pitch = (wp + s - 1) / s
        rows = (hp + s - 1) / s
        span = (g.outH * pitch + 15) / 16 * 16
        let reach = span + (g.kernelH - 1) / s * pitch + (g.kernelW - 1) / s
        phaseSize = (max(rows * pitch, reach) + 15) / 16 * 16
    }

    /// Square strides, no dilation: the convs of MobileNets and their kin.
    public static func applies(_ g: ConvGeometry) -> Bool {
        g.isDepthwise && g.dilationH == 1 && g.dilationW == 1 && g.strideH == g.strideW
    }

    /// Scratch floats per thread: the phase planes of x and of ∂X, and one plane of positions.
    public var scratchFloats: Int { 2 * s * s * phaseSize + span }

    /// Where tap (a, b) reads, from the first phase plane.
    @inline(__always) func offset(_ a: Int, _ b: Int) -> Int {
        ((a % s) * s + b % s) * phaseSize + (a / s) * pitch + b / s
    }

    /// Scatters one image plane of x (inH × inW) into zeroed phase planes.
    @inline(__always) func fill(_ x: UnsafePointer<Float>, _ phases: UnsafeMutablePointer<Float>) {
        phases.update(repeating: 0, count: s * s * phaseSize)
        for ih in 0..<g.inH {
            let pr = ih + g.padH, src = x + ih * g.inW
            let row = phases + (pr % s) * s * phaseSize + (pr / s) * pitch
            switch s {
            case 1: (row + g.padW).update(from: src, count: g.inW)
            case 2: deinterleave(src, row)
            default:
                for iw in 0..<g.inW {
                    let pc = iw + g.padW
                    row[(pc % s) * phaseSize + pc / s] = src[iw]
                }
            }
        }
    }

    /// Stride 2: one input row into its even and odd phase rows (padded column pc to row[(pc & 1)·phaseSize + pc >> 1]).
    @inline(__always) private func deinterleave(_ src: UnsafePointer<Float>, _ row: UnsafeMutablePointer<Float>) {
        let first = g.padW & 1   // the first input column at an even padded column
        if first == 1 { row[phaseSize + (g.padW >> 1)] = src[0] }
        var iw = first
        let even = row + ((first + g.padW) >> 1), odd = even + phaseSize
        while iw + 32 <= g.inW {
            let v = UnsafeRawPointer(src + iw).loadUnaligned(as: SIMD32<Float>.self), k = (iw - first) >> 1
            Vec.store(v.evenHalf, even + k)
            Vec.store(v.oddHalf, odd + k)
            iw += 32
        }
        while iw < g.inW {
            let pc = iw + g.padW
            row[(pc & 1) * phaseSize + (pc >> 1)] = src[iw]
            iw += 1
        }
    }

    /// Stride 2: the even and odd phase rows of ∂X back into one input row, written or added.
    @inline(__always) private func interleave(_ row: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ accumulate: Bool) {
        let first = g.padW & 1
        var iw = 0
        if first == 1 {
            let v = row[phaseSize + (g.padW >> 1)]
            dst[0] = accumulate ? dst[0] + v : v
            iw = 1
        }
        let even = row + ((first + g.padW) >> 1), odd = even + phaseSize
        while iw + 32 <= g.inW {
            let k = (iw - first) >> 1
            var v = SIMD32<Float>()
            v.evenHalf = Vec.load(even + k)
            v.oddHalf = Vec.load(odd + k)
            let d = UnsafeMutableRawPointer(dst + iw)
            if accumulate { v += d.loadUnaligned(as: SIMD32<Float>.self) }
            d.storeBytes(of: v, as: SIMD32<Float>.self)
            iw += 32
        }
        while iw < g.inW {
            let pc = iw + g.padW, v = row[(pc & 1) * phaseSize + (pc >> 1)]
            dst[iw] = accumulate ? dst[iw] + v : v
            iw += 1
        }
    }

    /// y (OH × OW) = bias + Σ taps w·x over one plane; `positions` is `span` floats of scratch.
    @inline(__always) func forwardPlane(_ phases: UnsafePointer<Float>, _ w: UnsafePointer<Float>, bias: Float,
                                        _ positions: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        if g.kernelH == 3 && g.kernelW == 3 {
            let o = (offset(0, 0), offset(0, 1), offset(0, 2), offset(1, 0), offset(1, 1), offset(1, 2),
                     offset(2, 0), offset(2, 1), offset(2, 2))
            let w0 = Vec.V(repeating: w[0]), w1 = Vec.V(repeating: w[1]), w2 = Vec.V(repeating: w[2])
            let w3 = Vec.V(repeating: w[3]), w4 = Vec.V(repeating: w[4]), w5 = Vec.V(repeating: w[5])
            let w6 = Vec.V(repeating: w[6]), w7 = Vec.V(repeating: w[7]), w8 = Vec.V(repeating: w[8])
            let b = Vec.V(repeating: bias)
            var r = 0
            while r < span {
                let p = phases + r
                var v = b.addingProduct(w0, Vec.load(p + o.0))
                v = v.addingProduct(w1, Vec.load(p + o.1)); v = v.addingProduct(w2, Vec.load(p + o.2))
                v = v.addingProduct(w3, Vec.load(p + o.3)); v = v.addingProduct(w4, Vec.load(p + o.4))
                v = v.addingProduct(w5, Vec.load(p + o.5)); v = v.addingProduct(w6, Vec.load(p + o.6))
                v = v.addingProduct(w7, Vec.load(p + o.7)); v = v.addingProduct(w8, Vec.load(p + o.8))
                Vec.store(v, positions + r)
                r += 16
            }
        } else {
            positions.update(repeating: bias, count: span)
            for a in 0..<g.kernelH {
                for b in 0..<g.kernelW { Vec.axpy(w[a * g.kernelW + b], phases + offset(a, b), positions, span) }
            }
        }
        for oh in 0..<g.outH { (y + oh * g.outW).update(from: positions + oh * pitch, count: g.outW) }
    }

    /// Lays one plane of ∂Y (OH × OW) out at the pitch, zeros elsewhere.
    @inline(__always) func spread(_ dy: UnsafePointer<Float>, _ positions: UnsafeMutablePointer<Float>) {
        positions.update(repeating: 0, count: span)
        for oh in 0..<g.outH { (positions + oh * pitch).update(from: dy + oh * g.outW, count: g.outW) }
    }

    /// dw[tap] += Σ ∂Y·x over one plane (∂Y spread, x in phases).
    @inline(__always) func weightGradientPlane(_ positions: UnsafePointer<Float>, _ phases: UnsafePointer<Float>,
                                               _ dw: UnsafeMutablePointer<Float>) {
        for a in 0..<g.kernelH {
            for b in 0..<g.kernelW { dw[a * g.kernelW + b] += Vec.dot(positions, phases + offset(a, b), span) }
        }
    }

    /// ∂X of one plane, written or (accumulate) added; `gradPhases` is s²·phaseSize floats of scratch.
    @inline(__always) func inputGradientPlane(_ positions: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                              _ gradPhases: UnsafeMutablePointer<Float>,
                                              _ dx: UnsafeMutablePointer<Float>, accumulate: Bool) {
        gradPhases.update(repeating: 0, count: s * s * phaseSize)
        for a in 0..<g.kernelH {
            for b in 0..<g.kernelW { Vec.axpy(w[a * g.kernelW + b], positions, gradPhases + offset(a, b), span) }
        }
        for ih in 0..<g.inH {
            let pr = ih + g.padH, dst = dx + ih * g.inW
            let row = gradPhases + (pr % s) * s * phaseSize + (pr / s) * pitch
            switch s {
            case 1: if accumulate { Vec.add(row + g.padW, dst, g.inW) } else { dst.update(from: row + g.padW, count: g.inW) }
            case 2: interleave(row, dst, accumulate)
            default:
                for iw in 0..<g.inW {
                    let pc = iw + g.padW, v = row[(pc % s) * phaseSize + pc / s]
                    dst[iw] = accumulate ? dst[iw] + v : v
                }
            }
        }
    }
}
