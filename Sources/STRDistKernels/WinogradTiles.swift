// The tile transforms of Winograd F(4×4, 3×3) over one channel of a chunk,
// eight tiles of a tile row at a time (one SIMD lane each).
//
// Image rows are first copied into phase-major order: padded column 4·j + k
// goes to [k·phase + j], so column b of tile tw (4·tw + b) sits at phase
// b mod 4, index tw + b / 4 — contiguous across tiles. Both 1-D passes of a
// 2-D transform then read and write whole vectors; the copy in and the
// interleave out are the only per-pixel scalar work.
//
// Input tile (th, tw) covers padded rows 4·th … 4·th + 5 and columns
// 4·tw … 4·tw + 5, the padded plane starting at (−padH, −padW). Reads of 8
// lanes may run past the last tile of a row; those lanes are dropped on store
// (or zeroed, where they would be summed).

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
                      left: -g.padW, rows: 4 * (s.th1 - s.th0) + 2, p, b.padded)
            for th in s.th0..<s.th1 {
                let d = b.padded + 4 * (th - s.th0) * row
                var f = 0
                while f < row {
                    let r = T.inputForward(load8(d + f), load8(d + row + f), load8(d + 2 * row + f),
                                           load8(d + 3 * row + f), load8(d + 4 * row + f), load8(d + 5 * row + f))
                    store6(r, e + f, stride: row, 8)
                    f += 8
                }
                let out = b.v + c * tiles + s.tile + (th - s.th0) * p.tilesW
                var tw = 0
                while tw < p.tilesW {
                    let n = p.tilesW - tw
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
        let g = p.g, ph = p.phase, w4 = 4 * p.tilesW, stride = g.outChannels * tiles
        let h = b.temp, rows = b.temp + 24 * ph   // h[(i·4 + k)·phase + tw]; rows: 4 output rows of w4
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
                    let n = min(8, p.tilesW - tw)
                    for k in 0..<4 {
                        let hk = h + k * ph + tw
                        let r = T.outputForward(load8(hk), load8(hk + 4 * ph), load8(hk + 8 * ph), load8(hk + 12 * ph),
                                                load8(hk + 16 * ph), load8(hk + 20 * ph))
                        for l in 0..<n {
                            let at = 4 * (tw + l) + k
                            rows[at] = r.0[l] + bias; rows[w4 + at] = r.1[l] + bias
                            rows[2 * w4 + at] = r.2[l] + bias; rows[3 * w4 + at] = r.3[l] + bias
                        }
                    }
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
                      rows: 4 * (s.th1 - s.th0), p, b.padded)
            for th in s.th0..<s.th1 {
                let q = b.padded + 4 * (th - s.th0) * row
                var f = 0
                while f < row {
                    let r = T.outputBackward(load8(q + f), load8(q + row + f), load8(q + 2 * row + f),
                                             load8(q + 3 * row + f))
                    store6(r, e + f, stride: row, 8)
                    f += 8
                }
                let out = b.m + o * tiles + s.tile + (th - s.th0) * p.tilesW
                var tw = 0
                while tw < p.tilesW {
                    let n = p.tilesW - tw
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
                let src = b.padded + r * row, dst = plane + (top + r) * g.inW
                for x in 0..<g.inW {
                    let u = x + g.padW
                    dst[x] += src[(u & 3) * ph + (u >> 2)]
                }
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
    /// rows of p.rowFloats (zero outside the plane).
    @inline(__always)
    public static func padPhased(_ plane: UnsafePointer<Float>, height: Int, width: Int, top: Int, left: Int, rows: Int,
                          _ p: WinogradPlan, _ out: UnsafeMutablePointer<Float>) {
        let ph = p.phase, row = p.rowFloats
        for r in 0..<rows {
            let dst = out + r * row, y = top + r
            guard y >= 0 && y < height else { dst.update(repeating: 0, count: row); continue }
            let src = plane + y * width
            for j in 0..<ph {
                for k in 0..<4 {
                    let x = 4 * j + k + left
                    dst[k * ph + j] = x >= 0 && x < width ? src[x] : 0
                }
            }
        }
    }
}
