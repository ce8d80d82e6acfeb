// The tile transforms of Winograd F(4×4, 3×3) over one channel of a chunk.
// Each is two 1-D passes: the first along a padded image row (contiguous,
// vectorised) or along the tiles of a tile row (contiguous in the
// transform-domain layout), the second one tile at a time.
//
// Input tile (th, tw) covers padded columns 4·tw … 4·tw + 5 and padded rows
// 4·th … 4·th + 5, where the padded plane starts at (−padH, −padW).

extension WinogradConv {
    /// V[ξ][c][tiles of the chunk] = Bᵀ d B for every input tile d of channel c.
    @inline(__always)
    static func transformInput(_ x: UnsafePointer<Float>, channel c: Int, _ p: WinogradPlan, _ r0: Int, _ r1: Int,
                               _ b: TileBuffers, _ tiles: Int) {
        let g = p.g, span = p.spanW, stride = g.inChannels * tiles
        forEachSegment(p, r0, r1) { s in
            pad(x + (c * g.batch + s.n) * g.inPlane, height: g.inH, width: g.inW, top: 4 * s.th0 - g.padH,
                left: -g.padW, rows: 4 * (s.th1 - s.th0) + 2, columns: span, b.padded)
            let t = b.temp
            for th in s.th0..<s.th1 {
                let d = b.padded + 4 * (th - s.th0) * span
                for u in 0..<span {
                    let r = T.inputForward(d[u], d[span + u], d[2 * span + u], d[3 * span + u], d[4 * span + u],
                                           d[5 * span + u])
                    t[u] = r.0; t[span + u] = r.1; t[2 * span + u] = r.2
                    t[3 * span + u] = r.3; t[4 * span + u] = r.4; t[5 * span + u] = r.5
                }
                let out = b.v + c * tiles + s.tile + (th - s.th0) * p.tilesW
                for i in 0..<6 {
                    let row = t + i * span, o = out + 6 * i * stride
                    for tw in 0..<p.tilesW {
                        let e = row + 4 * tw
                        let r = T.inputForward(e[0], e[1], e[2], e[3], e[4], e[5])
                        o[tw] = r.0; o[stride + tw] = r.1; o[2 * stride + tw] = r.2
                        o[3 * stride + tw] = r.3; o[4 * stride + tw] = r.4; o[5 * stride + tw] = r.5
                    }
                }
            }
        }
    }

    /// y[o] = Aᵀ M A + bias for every output tile of channel o, cropped to the output.
    @inline(__always)
    static func transformOutput(_ y: UnsafeMutablePointer<Float>, channel o: Int, bias: Float, _ p: WinogradPlan,
                                _ r0: Int, _ r1: Int, _ b: TileBuffers, _ tiles: Int) {
        let g = p.g, tw4 = 4 * p.tilesW, n4 = p.tilesW, stride = g.outChannels * tiles
        let half = b.temp, rows = b.temp + 24 * n4   // half[(i·4 + k)·tilesW + tw]; rows: 4 output rows
        forEachSegment(p, r0, r1) { s in
            for th in s.th0..<s.th1 {
                let m = b.m + o * tiles + s.tile + (th - s.th0) * p.tilesW
                for i in 0..<6 {
                    let mi = m + 6 * i * stride, h = half + 4 * i * n4
                    for tw in 0..<p.tilesW {
                        let r = T.outputForward(mi[tw], mi[stride + tw], mi[2 * stride + tw], mi[3 * stride + tw],
                                                mi[4 * stride + tw], mi[5 * stride + tw])
                        h[tw] = r.0; h[n4 + tw] = r.1; h[2 * n4 + tw] = r.2; h[3 * n4 + tw] = r.3
                    }
                }
                for k in 0..<4 {
                    let h = half + k * n4
                    for tw in 0..<p.tilesW {
                        let r = T.outputForward(h[tw], h[4 * n4 + tw], h[8 * n4 + tw], h[12 * n4 + tw],
                                                h[16 * n4 + tw], h[20 * n4 + tw])
                        let at = 4 * tw + k
                        rows[at] = r.0 + bias; rows[tw4 + at] = r.1 + bias
                        rows[2 * tw4 + at] = r.2 + bias; rows[3 * tw4 + at] = r.3 + bias
                    }
                }
                let plane = y + (o * g.batch + s.n) * g.outPlane
                for k in 0..<min(4, g.outH - 4 * th) {
                    (plane + (4 * th + k) * g.outW).update(from: rows + k * tw4, count: g.outW)
                }
            }
        }
    }

    /// ∂M[ξ][o][tiles] = A ∂Y Aᵀ for every output tile of channel o (zero beyond the output).
    @inline(__always)
    static func transformOutputGradient(_ dy: UnsafePointer<Float>, channel o: Int, _ p: WinogradPlan,
                                        _ r0: Int, _ r1: Int, _ b: TileBuffers, _ tiles: Int) {
        let g = p.g, w4 = 4 * p.tilesW, stride = g.outChannels * tiles
        let e = b.temp
        forEachSegment(p, r0, r1) { s in
            pad(dy + (o * g.batch + s.n) * g.outPlane, height: g.outH, width: g.outW, top: 4 * s.th0, left: 0,
                rows: 4 * (s.th1 - s.th0), columns: w4, b.padded)
            for th in s.th0..<s.th1 {
                let q = b.padded + 4 * (th - s.th0) * w4
                for u in 0..<w4 {
                    let r = T.outputBackward(q[u], q[w4 + u], q[2 * w4 + u], q[3 * w4 + u])
                    e[u] = r.0; e[w4 + u] = r.1; e[2 * w4 + u] = r.2
                    e[3 * w4 + u] = r.3; e[4 * w4 + u] = r.4; e[5 * w4 + u] = r.5
                }
                let out = b.m + o * tiles + s.tile + (th - s.th0) * p.tilesW
                for i in 0..<6 {
                    let row = e + i * w4, dm = out + 6 * i * stride
                    for tw in 0..<p.tilesW {
                        let f = row + 4 * tw
                        let r = T.outputBackward(f[0], f[1], f[2], f[3])
                        dm[tw] = r.0; dm[stride + tw] = r.1; dm[2 * stride + tw] = r.2
                        dm[3 * stride + tw] = r.3; dm[4 * stride + tw] = r.4; dm[5 * stride + tw] = r.5
                    }
                }
            }
        }
    }

    /// dx[c] += B ∂V Bᵀ for every input tile of channel c (∂V in the V buffer), overlaps summed.
    @inline(__always)
    static func transformInputGradient(_ dx: UnsafeMutablePointer<Float>, channel c: Int, _ p: WinogradPlan,
                                       _ r0: Int, _ r1: Int, _ b: TileBuffers, _ tiles: Int) {
        let g = p.g, span = p.spanW, n4 = p.tilesW, stride = g.inChannels * tiles
        let half = b.temp   // half[(i·6 + col)·tilesW + tw]
        forEachSegment(p, r0, r1) { s in
            let rows = 4 * (s.th1 - s.th0) + 2
            b.padded.update(repeating: 0, count: rows * span)
            for th in s.th0..<s.th1 {
                let v = b.v + c * tiles + s.tile + (th - s.th0) * p.tilesW
                for i in 0..<6 {
                    let vi = v + 6 * i * stride, h = half + 6 * i * n4
                    for tw in 0..<p.tilesW {
                        let r = T.inputBackward(vi[tw], vi[stride + tw], vi[2 * stride + tw], vi[3 * stride + tw],
                                                vi[4 * stride + tw], vi[5 * stride + tw])
                        h[tw] = r.0; h[n4 + tw] = r.1; h[2 * n4 + tw] = r.2
                        h[3 * n4 + tw] = r.3; h[4 * n4 + tw] = r.4; h[5 * n4 + tw] = r.5
                    }
                }
                let acc = b.padded + 4 * (th - s.th0) * span
                for col in 0..<6 {
                    let h = half + col * n4
                    for tw in 0..<p.tilesW {
                        let r = T.inputBackward(h[tw], h[6 * n4 + tw], h[12 * n4 + tw], h[18 * n4 + tw],
                                                h[24 * n4 + tw], h[30 * n4 + tw])
                        let at = 4 * tw + col
                        acc[at] += r.0; acc[span + at] += r.1; acc[2 * span + at] += r.2
                        acc[3 * span + at] += r.3; acc[4 * span + at] += r.4; acc[5 * span + at] += r.5
                    }
                }
            }
            let plane = dx + (c * g.batch + s.n) * g.inPlane
            let top = 4 * s.th0 - g.padH, width = min(g.inW, span - g.padW)
            var r = max(0, -top)
            while r < min(rows, g.inH - top) && width > 0 {
                Vec.add(b.padded + r * span + g.padW, plane + (top + r) * g.inW, width)
                r += 1
            }
        }
    }

    /// Copies rows [top, top + rows) and columns [left, left + columns) of an h×w plane, zero outside it.
    @inline(__always)
    static func pad(_ plane: UnsafePointer<Float>, height: Int, width: Int, top: Int, left: Int, rows: Int,
                    columns: Int, _ out: UnsafeMutablePointer<Float>) {
        let lo = min(columns, max(0, -left)), hi = max(lo, min(columns, width - left))
        for r in 0..<rows {
            let dst = out + r * columns, y = top + r
            guard y >= 0 && y < height else { dst.update(repeating: 0, count: columns); continue }
            dst.update(repeating: 0, count: lo)
            (dst + lo).update(from: plane + y * width + left + lo, count: hi - lo)
            (dst + hi).update(repeating: 0, count: columns - hi)
        }
    }
}
