// The tile transforms of Winograd F(4×4, 3×3) over one channel of a chunk,
// eight tiles of a tile row at a time (one SIMD lane each).
//
// Image rows are first copied into phase-major order: padded column 4·j + k
// goes to [k·phase + j], so column b of tile tw (4·tw + b) sits at phase
// b mod 4, index tw + b / 4 — contiguous across tiles. Both 1-D passes of a
// 2-D transform then read and write whole vectors, and so do the copies in
// and out: an image row goes through a line buffer in column order, split
// into its four phases (or merged back) by vector shuffles.
//
// Input tile (th, tw) covers padded rows 4·th … 4·th + 5 and columns
// 4·tw … 4·tw + 5, the padded plane starting at (−padH, −padW). Reads of 8
// lanes may run past the last tile of a row; such lanes are zeroed where they
// would be summed, and stored whole wherever the chunk's row of `tiles`
// columns has room (see `storedLanes`).

extension WinogradConv {
    public typealias L8 = Lanes8

    @inline(__always) public static func load8(_ p: UnsafePointer<Float>) -> L8 {
        UnsafeRawPointer(p).loadUnaligned(as: L8.self)
    }

    @inline(__always) public static func load8(_ p: UnsafeMutablePointer<Float>) -> L8 { load8(UnsafePointer(p)) }

    /// Stores the first `n` lanes (all 8 when n ≥ 8).
    @inline(__always) public static func store8(_ v: L8, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
        if n >= 8 { UnsafeMutableRawPointer(p).storeBytes(of: v, as: L8.self); return }
        for l in 0..<n { p[l] = v[l] }
    }

    /// V[ξ][c][tiles of the chunk] = Bᵀ d B for every input tile d of channel c.
    @inline(__always)
    public static func transformInput(_ x: UnsafePointer<Float>, channel c: Int, _ p: WinogradPlan, _ r0: Int, _ r1: Int,
                               _ b: TileBuffers, _ tiles: Int) {
        let g = p.g, ph = p.phase, row = p.rowFloats, stride = g.inChannels * tiles
        let e = b.temp   // Bᵀ down the columns: e[i·row + phase-major column]
        forEachSegment(p, r0, r1) { s in
            padPhased(x + (c * g.batch + s.n) * g.inPlane, height: g.inH, width: g.inW, top: 4 * s.th0 - g.padH,
                      left: -g.padW, rows: 4 * (s.th1 - s.th0) + 2, p, b.padded, line: b.line)
            for th in s.th0..<s.th1 {
                let d = b.padded + 4 * (th - s.th0) * row
                var f = 0
                while f < row {
                    let r = T.inputForward(load8(d + f), load8(d + row + f), load8(d + 2 * row + f),
                                           load8(d + 3 * row + f), load8(d + 4 * row + f), load8(d + 5 * row + f))
                    store6(r, e + f, stride: row, 8)
                    f += 8
                }
                let first = s.tile + (th - s.th0) * p.tilesW, out = b.v + c * tiles + first
                var tw = 0
                while tw < p.tilesW {
                    let n = storedLanes(at: first + tw, valid: p.tilesW - tw, tiles)
                    for i in 0..<6 {
                        let ei = e + i * row + tw, o = out + 6 * i * stride + tw
                        let r = T.inputForward(load8(ei), load8(ei + ph), load8(ei + 2 * ph), load8(ei + 3 * ph),
                                               load8(ei + 1), load8(ei + ph + 1))
                        store6(r, o, stride: stride, n)
                    }
                    tw += 8
                }
            }
        }
    }

    /// y[o] = Aᵀ M A + bias for every output tile of channel o, cropped to the output.
    @inline(__always)
    public static func transformOutput(_ y: UnsafeMutablePointer<Float>, channel o: Int, bias: Float, _ p: WinogradPlan,
                                _ r0: Int, _ r1: Int, _ b: TileBuffers, _ tiles: Int) {
        let g = p.g, ph = p.phase, stride = g.outChannels * tiles, biases = L8(repeating: bias)
        // h[(i·4 + k)·phase + tw]; rows: the tile row's 4 image rows, 4 phases apart (room for 8 whole tiles)
        let h = b.temp, rows = b.temp + 24 * ph, w4 = 4 * ph
        forEachSegment(p, r0, r1) { s in
            for th in s.th0..<s.th1 {
                let m = b.m + o * tiles + s.tile + (th - s.th0) * p.tilesW
                var tw = 0
                while tw < p.tilesW {
                    for i in 0..<6 {
                        let mi = m + 6 * i * stride + tw, hi = h + 4 * i * ph + tw
                        let r = T.outputForward(load8(mi), load8(mi + stride), load8(mi + 2 * stride),
                                                load8(mi + 3 * stride), load8(mi + 4 * stride), load8(mi + 5 * stride))
                        store8(r.0, hi, 8); store8(r.1, hi + ph, 8); store8(r.2, hi + 2 * ph, 8); store8(r.3, hi + 3 * ph, 8)
                    }
                    // Column k of the 8 tiles' output rows; row j of tile tw + l lands at 4·(tw + l) + k.
                    @inline(__always) func column(_ k: Int) -> Four {
                        let hk = h + k * ph + tw
                        return T.outputForward(load8(hk), load8(hk + 4 * ph), load8(hk + 8 * ph), load8(hk + 12 * ph),
                                               load8(hk + 16 * ph), load8(hk + 20 * ph))
                    }
                    // (The bias joins before the interleave: the same sums, moved.)
                    let k0 = column(0), k1 = column(1), k2 = column(2), k3 = column(3), at = rows + 4 * tw
                    storeInterleaved(k0.0 + biases, k1.0 + biases, k2.0 + biases, k3.0 + biases, at)
                    storeInterleaved(k0.1 + biases, k1.1 + biases, k2.1 + biases, k3.1 + biases, at + w4)
                    storeInterleaved(k0.2 + biases, k1.2 + biases, k2.2 + biases, k3.2 + biases, at + 2 * w4)
                    storeInterleaved(k0.3 + biases, k1.3 + biases, k2.3 + biases, k3.3 + biases, at + 3 * w4)
                    tw += 8
                }
                let plane = y + (o * g.batch + s.n) * g.outPlane
                for k in 0..<min(4, g.outH - 4 * th) {
                    (plane + (4 * th + k) * g.outW).update(from: rows + k * w4, count: g.outW)
                }
            }
        }
    }

    /// ∂M[ξ][o][tiles] = A ∂Y Aᵀ for every output tile of channel o (zero beyond the output).
    @inline(__always)
    public static func transformOutputGradient(_ dy: UnsafePointer<Float>, channel o: Int, _ p: WinogradPlan,
                                        _ r0: Int, _ r1: Int, _ b: TileBuffers, _ tiles: Int) {
        let g = p.g, ph = p.phase, row = p.rowFloats, stride = g.outChannels * tiles
        let e = b.temp
        forEachSegment(p, r0, r1) { s in
            padPhased(dy + (o * g.batch + s.n) * g.outPlane, height: g.outH, width: g.outW, top: 4 * s.th0, left: 0,
                      rows: 4 * (s.th1 - s.th0), p, b.padded, line: b.line)
            for th in s.th0..<s.th1 {
                let q = b.padded + 4 * (th - s.th0) * row
                var f = 0
                while f < row {
                    let r = T.outputBackward(load8(q + f), load8(q + row + f), load8(q + 2 * row + f),
                                             load8(q + 3 * row + f))
                    store6(r, e + f, stride: row, 8)
                    f += 8
                }
                let first = s.tile + (th - s.th0) * p.tilesW, out = b.m + o * tiles + first
                var tw = 0
                while tw < p.tilesW {
                    let n = storedLanes(at: first + tw, valid: p.tilesW - tw, tiles)
                    for i in 0..<6 {
                        let ei = e + i * row + tw, dm = out + 6 * i * stride + tw
                        let r = T.outputBackward(load8(ei), load8(ei + ph), load8(ei + 2 * ph), load8(ei + 3 * ph))
                        store6(r, dm, stride: stride, n)
                    }
                    tw += 8
                }
            }
        }
    }

    /// dx[c] += B ∂V Bᵀ for every input tile of channel c (∂V in the V buffer), overlaps summed.
    @inline(__always)
    public static func transformInputGradient(_ dx: UnsafeMutablePointer<Float>, channel c: Int, _ p: WinogradPlan,
                                       _ r0: Int, _ r1: Int, _ b: TileBuffers, _ tiles: Int) {
        let g = p.g, ph = p.phase, row = p.rowFloats, stride = g.inChannels * tiles
        let h = b.temp   // h[(i·6 + col)·phase + tw]
        let lane = L8(0, 1, 2, 3, 4, 5, 6, 7)
        forEachSegment(p, r0, r1) { s in
            let rows = 4 * (s.th1 - s.th0) + 2
            b.padded.update(repeating: 0, count: rows * row)
            for th in s.th0..<s.th1 {
                let v = b.v + c * tiles + s.tile + (th - s.th0) * p.tilesW
                let acc = b.padded + 4 * (th - s.th0) * row
                var tw = 0
                while tw < p.tilesW {
                    let beyond = lane .>= L8(repeating: Float(p.tilesW - tw))   // lanes past the last tile
                    for i in 0..<6 {
                        let vi = v + 6 * i * stride + tw, hi = h + 6 * i * ph + tw
                        var r = T.inputBackward(load8(vi), load8(vi + stride), load8(vi + 2 * stride),
                                                load8(vi + 3 * stride), load8(vi + 4 * stride), load8(vi + 5 * stride))
                        r.0.replace(with: 0, where: beyond); r.1.replace(with: 0, where: beyond)
                        r.2.replace(with: 0, where: beyond); r.3.replace(with: 0, where: beyond)
                        r.4.replace(with: 0, where: beyond); r.5.replace(with: 0, where: beyond)
                        store6(r, hi, stride: ph, 8)
                    }
                    for col in 0..<6 {
                        let hc = h + col * ph + tw
                        let r = T.inputBackward(load8(hc), load8(hc + 6 * ph), load8(hc + 12 * ph), load8(hc + 18 * ph),
                                                load8(hc + 24 * ph), load8(hc + 30 * ph))
                        // Column col of tile tw: phase col mod 4, index tw + col / 4.
                        let at = acc + (col % 4) * ph + tw + col / 4
                        add8(r.0, at); add8(r.1, at + row); add8(r.2, at + 2 * row)
                        add8(r.3, at + 3 * row); add8(r.4, at + 4 * row); add8(r.5, at + 5 * row)
                    }
                    tw += 8
                }
            }
            let plane = dx + (c * g.batch + s.n) * g.inPlane
            let top = 4 * s.th0 - g.padH
            var r = max(0, -top)
            while r < min(rows, g.inH - top) {
                let src = b.padded + r * row
                var j = 0
                while j < ph {   // the four phases back into column order
                    storeInterleaved(load8(src + j), load8(src + ph + j), load8(src + 2 * ph + j), load8(src + 3 * ph + j),
                                     b.line + 4 * j)
                    j += 8
                }
                addRow(b.line + g.padW, into: plane + (top + r) * g.inW, count: g.inW)
                r += 1
            }
        }
    }

    /// Stores six vectors `stride` floats apart, `n` lanes each.
    @inline(__always) public static func store6(_ r: Six, _ p: UnsafeMutablePointer<Float>, stride: Int, _ n: Int) {
        store8(r.0, p, n); store8(r.1, p + stride, n); store8(r.2, p + 2 * stride, n)
        store8(r.3, p + 3 * stride, n); store8(r.4, p + 4 * stride, n); store8(r.5, p + 5 * stride, n)
    }

    @inline(__always) public static func add8(_ v: L8, _ p: UnsafeMutablePointer<Float>) { store8(load8(p) + v, p, 8) }

    /// Copies rows [top, top + rows) of an h×w plane, columns from `left` on, into phase-major
    /// rows of p.rowFloats (zero outside the plane), each through `line` (4 phases of floats).
    @inline(__always)
    public static func padPhased(_ plane: UnsafePointer<Float>, height: Int, width: Int, top: Int, left: Int, rows: Int,
                          _ p: WinogradPlan, _ out: UnsafeMutablePointer<Float>, line: UnsafeMutablePointer<Float>) {
        let ph = p.phase, row = p.rowFloats, span = 4 * ph
        // line[u] = column u + left of the row: the plane's columns land in [start, end), zeros around them.
        let start = min(span, max(0, -left)), end = max(start, min(span, width - left))
        line.update(repeating: 0, count: start)
        (line + end).update(repeating: 0, count: span - end)
        for r in 0..<rows {
            let dst = out + r * row, y = top + r
            guard y >= 0 && y < height else { dst.update(repeating: 0, count: row); continue }
            (line + start).update(from: plane + y * width + start + left, count: end - start)
            var j = 0
            while j < ph {
                let q = deinterleave4(line + 4 * j)
                store8(q.0, dst + j, 8); store8(q.1, dst + ph + j, 8)
                store8(q.2, dst + 2 * ph + j, 8); store8(q.3, dst + 3 * ph + j, 8)
                j += 8
            }
        }
    }

    /// Lanes to store of 8 tiles starting at chunk-local tile `at`, `valid` of them real: all 8
    /// while the chunk's row of `tiles` columns has room. Lanes past a tile row land on the next
    /// row's first tiles, which are written after them (tile rows run in order), or in the padding
    /// columns, whose products only reach padding columns nobody reads (forward) or which are zeroed
    /// before the products (backward).
    @inline(__always) public static func storedLanes(at: Int, valid: Int, _ tiles: Int) -> Int {
        tiles - at >= 8 ? 8 : valid
    }

    /// 32 floats in column order → their four phases: q.k[l] = p[4·l + k]. (Written lane by lane so
    /// that the compiler sees one shuffle per vector; `evenHalf` and its kin become loops in big bodies.)
    @inline(__always) public static func deinterleave4(_ p: UnsafePointer<Float>) -> Four {
        let a = load8(p), b = load8(p + 8), c = load8(p + 16), d = load8(p + 24)
        @inline(__always) func phase(_ k: Int) -> L8 {
            L8(a[k], a[k + 4], b[k], b[k + 4], c[k], c[k + 4], d[k], d[k + 4])
        }
        return (phase(0), phase(1), phase(2), phase(3))
    }

    /// Four phases → 32 floats in column order at p: p[4·l + k] = qk[l].
    @inline(__always) public static func storeInterleaved(_ q0: L8, _ q1: L8, _ q2: L8, _ q3: L8,
                                                          _ p: UnsafeMutablePointer<Float>) {
        @inline(__always) func columns(_ l: Int) -> L8 {   // tiles l and l + 1
            L8(q0[l], q1[l], q2[l], q3[l], q0[l + 1], q1[l + 1], q2[l + 1], q3[l + 1])
        }
        store8(columns(0), p, 8); store8(columns(2), p + 8, 8); store8(columns(4), p + 16, 8); store8(columns(6), p + 24, 8)
    }

    /// dst[x] += src[x] for x in 0..<count.
    @inline(__always) public static func addRow(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>,
                                                count: Int) {
        var x = 0
        while x + 8 <= count { add8(load8(src + x), dst + x); x += 8 }
        while x < count { dst[x] += src[x]; x += 1 }
    }
}
