// im2col / col2im over whole images of a CNHW activation.
// col is [(C_g·kh·kw), cols] row-major with cols = images·OH·OW: row
// (c, i, j) holds, for each output position, the input pixel under kernel
// tap (i, j) of channel c, or 0 in the padding. col2im scatters such a
// matrix back, adding into the input gradient.

public enum Im2col {
    /// Fills `col` for channels [c0, c0 + g.groupIn) and images [n0, n1).
    public static func im2col(_ x: UnsafePointer<Float>, _ g: ConvGeometry, channel c0: Int,
                              images n0: Int, _ n1: Int, _ col: UnsafeMutablePointer<Float>) {
        let cols = (n1 - n0) * g.outPlane
        for c in 0..<g.groupIn {
            for ki in 0..<g.kernelH {
                for kj in 0..<g.kernelW {
                    var dst = col + ((c * g.kernelH + ki) * g.kernelW + kj) * cols
                    for n in n0..<n1 {
                        let plane = x + ((c0 + c) * g.batch + n) * g.inPlane
                        fillRows(plane, g, ki, kj, dst)
                        dst += g.outPlane
                    }
                }
            }
        }
    }

    /// One image, one kernel tap: OH·OW values.
    @inline(__always)
    private static func fillRows(_ plane: UnsafePointer<Float>, _ g: ConvGeometry, _ ki: Int, _ kj: Int,
                                 _ dst: UnsafeMutablePointer<Float>) {
        let (lo, hi) = validColumns(g, kj)
        let ow = g.outW
        for oh in 0..<g.outH {
            let row = dst + oh * ow
            let ih = oh * g.strideH - g.padH + ki * g.dilationH
            if ih < 0 || ih >= g.inH {
                row.update(repeating: 0, count: ow)
                continue
            }
            if lo > 0 { row.update(repeating: 0, count: lo) }
            let src = plane + ih * g.inW - g.padW + kj * g.dilationW
            if g.strideW == 1 {
                if hi > lo { (row + lo).update(from: src + lo, count: hi - lo) }
            } else {
                let s = g.strideW
                var o = lo
                while o < hi { row[o] = src[o * s]; o += 1 }
            }
            if hi < ow { (row + max(hi, lo)).update(repeating: 0, count: ow - max(hi, lo)) }
        }
    }

    /// Output columns [lo, hi) whose input column for tap kj lies inside the image.
    @inline(__always)
    static func validColumns(_ g: ConvGeometry, _ kj: Int) -> (Int, Int) {
        let offset = kj * g.dilationW - g.padW          // iw = ow·s + offset
        let lo = offset >= 0 ? 0 : (-offset + g.strideW - 1) / g.strideW
        let last = g.inW - 1 - offset                    // largest ow·s allowed
        let hi = last < 0 ? 0 : min(g.outW, last / g.strideW + 1)
        return (min(lo, g.outW), hi)
    }

    /// Adds `col` (laid out as im2col writes it) into dx for channels [c0, c0 + g.groupIn), images [n0, n1).
    public static func col2im(_ col: UnsafePointer<Float>, _ g: ConvGeometry, channel c0: Int,
                              images n0: Int, _ n1: Int, _ dx: UnsafeMutablePointer<Float>) {
        let cols = (n1 - n0) * g.outPlane
        for c in 0..<g.groupIn {
            for ki in 0..<g.kernelH {
                for kj in 0..<g.kernelW {
                    var src = col + ((c * g.kernelH + ki) * g.kernelW + kj) * cols
                    for n in n0..<n1 {
                        let plane = dx + ((c0 + c) * g.batch + n) * g.inPlane
                        addRows(src, g, ki, kj, plane)
                        src += g.outPlane
                    }
                }
            }
        }
    }

    @inline(__always)
    private static func addRows(_ src: UnsafePointer<Float>, _ g: ConvGeometry, _ ki: Int, _ kj: Int,
                                _ plane: UnsafeMutablePointer<Float>) {
        let (lo, hi) = validColumns(g, kj)
        if hi <= lo { return }
        let ow = g.outW, s = g.strideW
        for oh in 0..<g.outH {
            let ih = oh * g.strideH - g.padH + ki * g.dilationH
            if ih < 0 || ih >= g.inH { continue }
            let row = src + oh * ow
            let dst = plane + ih * g.inW - g.padW + kj * g.dilationW
            var o = lo
            if s == 1 {
                while o < hi { dst[o] += row[o]; o += 1 }
            } else {
                while o < hi { dst[o * s] += row[o]; o += 1 }
            }
        }
    }
}
