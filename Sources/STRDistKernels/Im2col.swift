// im2col / col2im over whole images of a CNHW activation.
// col is [(C_g·kh·kw), cols] row-major with cols = images·OH·OW: row
// (c, i, j) holds, for each output position, the input pixel under kernel
// tap (i, j) of channel c, or 0 in the padding. col2im scatters such a
// matrix back, adding into the input gradient.
//
// "Same" convolutions (stride 1, no dilation, output size = input size: the
// 3×3/pad-1 convs that dominate ResNets) take a fast path: for one tap the
// output plane is the input plane shifted by a constant flat offset, so a
// whole plane moves in one copy (or one vector add), and only the columns
// that wrapped around a row edge are fixed up.

public enum Im2col {
    /// Fills `col` for channels [c0, c0 + g.groupIn) and images [n0, n1).
    public static func im2col(_ x: UnsafePointer<Float>, _ g: ConvGeometry, channel c0: Int,
                              images n0: Int, _ n1: Int, _ col: UnsafeMutablePointer<Float>) {
        let cols = (n1 - n0) * g.outPlane
        for c in 0..<g.groupIn {
            for ki in 0..<g.kernelH {
                for kj in 0..<g.kernelW {
                    var dst = col + ((c * g.kernelH + ki) * g.kernelW + kj) * cols
                    if g.isSame {
                        copyShifted(x + ((c0 + c) * g.batch + n0) * g.inPlane, g, ki, kj, n1 - n0, dst)
                        continue
                    }
                    for n in n0..<n1 {
                        fillRows(x + ((c0 + c) * g.batch + n) * g.inPlane, g, ki, kj, dst)
                        dst += g.outPlane
                    }
                }
            }
        }
    }

    /// Fills `col` for channels [c0, c0 + g.groupIn), image n, output rows [oh0, oh1): a piece of one
    /// image's columns, (oh1 − oh0)·OW of them (bf16 plans cut large images so the piece stays in L2).
    public static func im2colRows(_ x: UnsafePointer<Float>, _ g: ConvGeometry, channel c0: Int, image n: Int,
                                  rows oh0: Int, _ oh1: Int, _ col: UnsafeMutablePointer<Float>) {
        let cols = (oh1 - oh0) * g.outW
        for c in 0..<g.groupIn {
            let plane = x + ((c0 + c) * g.batch + n) * g.inPlane
            for ki in 0..<g.kernelH {
                for kj in 0..<g.kernelW {
                    fillRows(plane, g, ki, kj, col + ((c * g.kernelH + ki) * g.kernelW + kj) * cols - oh0 * g.outW,
                             rows: oh0..<oh1)
                }
            }
        }
    }

    /// Adds a piece's `col` (as im2colRows lays it out) into dx: channels [c0, c0 + g.groupIn), image n.
    public static func col2imRows(_ col: UnsafePointer<Float>, _ g: ConvGeometry, channel c0: Int, image n: Int,
                                  rows oh0: Int, _ oh1: Int, _ dx: UnsafeMutablePointer<Float>) {
        let cols = (oh1 - oh0) * g.outW
        for c in 0..<g.groupIn {
            let plane = dx + ((c0 + c) * g.batch + n) * g.inPlane
            for ki in 0..<g.kernelH {
                for kj in 0..<g.kernelW {
                    addRows(col + ((c * g.kernelH + ki) * g.kernelW + kj) * cols - oh0 * g.outW, g, ki, kj, plane,
                            rows: oh0..<oh1)
                }
            }
        }
    }

    /// One image, one kernel tap: OH·OW values (output rows `rows` only: dst still indexed from row 0).
    @inline(__always)
    private static func fillRows(_ plane: UnsafePointer<Float>, _ g: ConvGeometry, _ ki: Int, _ kj: Int,
                                 _ dst: UnsafeMutablePointer<Float>, rows: Range<Int>? = nil) {
        let (lo, hi) = validColumns(g, kj)
        let ow = g.outW
        for oh in rows ?? 0..<g.outH {
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
            } else if g.strideW == 2 {
                gatherEven(src, row, lo, hi)
            } else {
                let s = g.strideW
                var o = lo
                while o < hi { row[o] = src[o * s]; o += 1 }
            }
            if hi < ow { (row + max(hi, lo)).update(repeating: 0, count: ow - max(hi, lo)) }
        }
    }

    /// row[o] = src[2·o] for o in [lo, hi): 8 outputs from 16 inputs by a shuffle; the last input read,
    /// src[2·o + 15], is at or before src[2·(hi − 1)], the last one the row uses. Kept out of line: inlined
    /// into the bf16 forward's large body, the vector loads were left as calls.
    @inline(never)
    static func gatherEven(_ src: UnsafePointer<Float>, _ row: UnsafeMutablePointer<Float>, _ lo: Int, _ hi: Int) {
        var o = lo
        while o + 9 <= hi {
            let a = UnsafeRawPointer(src + 2 * o).loadUnaligned(as: SIMD8<Float>.self)
            let b = UnsafeRawPointer(src + 2 * o + 8).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(row + o).storeBytes(of: SIMD8(a[0], a[2], a[4], a[6], b[0], b[2], b[4], b[6]),
                                                        as: SIMD8<Float>.self)
            o += 8
        }
        while o < hi { row[o] = src[2 * o]; o += 1 }
    }

    /// Output columns [lo, hi) whose input column for tap kj lies inside the image.
    @inline(__always)
    public static func validColumns(_ g: ConvGeometry, _ kj: Int) -> (Int, Int) {
        let offset = kj * g.dilationW - g.padW          // iw = ow·s + offset
        let lo = offset >= 0 ? 0 : (-offset + g.strideW - 1) / g.strideW
        let last = g.inW - 1 - offset                    // largest ow·s allowed
        let hi = last < 0 ? 0 : min(g.outW, last / g.strideW + 1)
        return (min(lo, g.outW), hi)
    }

    /// Adds `col` (laid out as im2col writes it) into dx for channels [c0, c0 + g.groupIn), images [n0, n1).
    public static func col2im(_ col: UnsafeMutablePointer<Float>, _ g: ConvGeometry, channel c0: Int,
                              images n0: Int, _ n1: Int, _ dx: UnsafeMutablePointer<Float>) {
        let cols = (n1 - n0) * g.outPlane
        for c in 0..<g.groupIn {
            for ki in 0..<g.kernelH {
                for kj in 0..<g.kernelW {
                    var src = col + ((c * g.kernelH + ki) * g.kernelW + kj) * cols
                    if g.isSame {
                        addShifted(src, g, ki, kj, n1 - n0, dx + ((c0 + c) * g.batch + n0) * g.inPlane)
                        continue
                    }
                    for n in n0..<n1 {
                        addRows(src, g, ki, kj, dx + ((c0 + c) * g.batch + n) * g.inPlane)
                        src += g.outPlane
                    }
                }
            }
        }
    }

    @inline(__always)
    private static func addRows(_ src: UnsafePointer<Float>, _ g: ConvGeometry, _ ki: Int, _ kj: Int,
                                _ plane: UnsafeMutablePointer<Float>, rows: Range<Int>? = nil) {
        let (lo, hi) = validColumns(g, kj)
        if hi <= lo { return }
        let ow = g.outW, s = g.strideW
        for oh in rows ?? 0..<g.outH {
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

    /// The same-convolution shift of tap (ki, kj): output flat index p reads input p + shift;
    /// output rows outside [rowLo, rowHi) read outside the image, and `dx` columns wrap around.
    @inline(__always)
    public static func sameShift(_ g: ConvGeometry, _ ki: Int, _ kj: Int) -> (shift: Int, rowLo: Int, rowHi: Int, dx: Int) {
        let dy = ki - g.padH, dx = kj - g.padW
        return (dy * g.inW + dx, max(0, -dy), max(0, min(g.inH, g.inH - dy)), dx)
    }

    /// Zeroes, in each of `images` consecutive planes, the entries whose shifted source lies
    /// outside their own image: rows outside [rowLo, rowHi) and wrapped columns.
    @inline(__always)
    public static func zeroOutside(_ planes: UnsafeMutablePointer<Float>, _ g: ConvGeometry, images: Int,
                            _ s: (shift: Int, rowLo: Int, rowHi: Int, dx: Int)) {
        let w = g.inW, h = g.inH
        let lo = s.dx < 0 ? 0 : w - s.dx, hi = s.dx < 0 ? min(w, -s.dx) : w
        for n in 0..<images {
            let p = planes + n * g.inPlane
            if s.rowLo > 0 { p.update(repeating: 0, count: min(h, s.rowLo) * w) }
            if s.rowHi < h { (p + s.rowHi * w).update(repeating: 0, count: (h - s.rowHi) * w) }
            if s.dx != 0 { for r in s.rowLo..<max(s.rowLo, s.rowHi) { for c in max(0, lo)..<hi { p[r * w + c] = 0 } } }
        }
    }

    /// im2col of one tap for `images` consecutive planes of one channel: one shifted copy of
    /// the whole run, then the entries that crossed an image edge are cleared.
    @inline(__always)
    private static func copyShifted(_ planes: UnsafePointer<Float>, _ g: ConvGeometry, _ ki: Int, _ kj: Int,
                                    _ images: Int, _ dst: UnsafeMutablePointer<Float>) {
        let s = sameShift(g, ki, kj), total = images * g.inPlane
        let start = min(total, max(0, -s.shift)), end = max(start, min(total, total - s.shift))
        if start > 0 { dst.update(repeating: 0, count: start) }
        if end > start { (dst + start).update(from: planes + start + s.shift, count: end - start) }
        if end < total { (dst + end).update(repeating: 0, count: total - end) }
        zeroOutside(dst, g, images: images, s)
    }

    /// col2im of one tap for `images` consecutive planes: the entries that would cross an
    /// image edge are cleared in `src` (scratch), then one shifted vector add does the rest.
    @inline(__always)
    private static func addShifted(_ src: UnsafeMutablePointer<Float>, _ g: ConvGeometry, _ ki: Int, _ kj: Int,
                                   _ images: Int, _ planes: UnsafeMutablePointer<Float>) {
        let s = sameShift(g, ki, kj), total = images * g.inPlane
        zeroOutside(src, g, images: images, s)
        let start = min(total, max(0, -s.shift)), end = max(start, min(total, total - s.shift))
        if end > start { Vec.add(src + start, planes + start + s.shift, end - start) }
    }
}
