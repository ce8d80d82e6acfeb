// Winograd F(4×4, 3×3) convolution for 3×3 stride-1 convs, forward and both
// gradients. Each 4×4 output tile comes from a 6×6 input tile:
// Y = Aᵀ [Σ_c U ⊙ V] A with U = G g Gᵀ (weights) and V = Bᵀ d B (input), so
// each of the 36 points of the transform domain is one GEMM [O×C]·[C×tiles]:
// 36 multiplies per output tile and channel pair instead of 144. Backward
// follows the same algebra:
//   ∂M = A ∂Y Aᵀ per output tile (the gradient at the 36 points),
//   ∂U[ξ] = Σ_tiles ∂M[ξ] V[ξ]ᵀ, then ∂g = Gᵀ ∂U G,
//   ∂V[ξ] = U[ξ]ᵀ ∂M[ξ], then ∂d = B ∂V Bᵀ, summed where input tiles overlap.
//
// Large planes are split like the im2col path: each thread owns a run of
// whole images (so no two threads touch the same input gradient) and walks
// its tile rows in chunks near cache size but never thinner than
// `minChunkTiles`. Small planes make one chunk of the whole batch; threads
// then share out the channels for the transforms and the 36 GEMMs between
// them. The tile transforms (WinogradTiles.swift) run on 8 tiles per vector.
//
// Layouts: V, ∂V [36][C][tiles]; M, ∂M [36][O][tiles]; U, ∂U [36][O][C];
// a chunk's tiles are numbered row by row, tile row r = n·tilesH + th.

/// Tile counts, work split and scratch sizes of one Winograd convolution.
public struct WinogradPlan {
    public static let points = 36
    /// Batches with at most this many tiles share out the 36 points among threads, not the images.
    // unsafe (this and minChunkTiles): tuning knobs tests set before any work starts; steps only read them.
    nonisolated(unsafe) public static var pointSplitTiles = 1024
    /// Fewest tiles per chunk when splitting images: fewer make the 36 GEMMs too thin. (128: on a Zen 4,
    /// 2 threads, batch 32, 64@56 ran 21.5/38.6 ms forward/backward in chunks of 224 tiles against
    /// 23.7/41 ms in the 266 that a floor of 256 forced; 128@28 2–3% faster in 133 tiles than in 259.)
    nonisolated(unsafe) public static var minChunkTiles = 128
    public let g: ConvGeometry
    public let tilesH: Int, tilesW: Int
    /// Length of one phase of a phase-major row (tilesW + 1, rounded up to 8 lanes): padded
    /// column 4·j + k is stored at [k·phase + j], so tile tw's columns are at j = tw (+1).
    public let phase: Int
    /// Tile rows per chunk.
    public let rowsPerChunk: Int
    /// Small planes: the whole batch is one chunk and threads split the 36 GEMMs (and the
    /// transforms by channel); else threads split the images.
    public let splitsPoints: Bool

    public init(_ g: ConvGeometry) {
        precondition(g.winogradApplies, "Winograd F(4×4, 3×3) needs a 3×3 stride-1 conv with one group")
        self.g = g
        tilesH = (g.outH + 3) / 4
        tilesW = (g.outW + 3) / 4
        phase = (tilesW + 1 + 7) / 8 * 8
        let rows = g.batch * tilesH
        splitsPoints = rows * tilesW <= Self.pointSplitTiles
        if splitsPoints {
            rowsPerChunk = rows
        } else {
            let perRow = Self.points * (g.inChannels + g.outChannels) * tilesW
            let fewest = (Self.minChunkTiles + tilesW - 1) / tilesW
            rowsPerChunk = max(1, min(rows, max(fewest, ConvGeometry.chunkBudget / perRow)))
        }
    }

    public var maxTiles: Int { rowsPerChunk * tilesW }
    /// Tile rows of the whole batch (the one chunk when threads split the points).
    public var batchRows: Int { g.batch * tilesH }
    /// The GEMMs' column count and row stride for a chunk of `tiles`: a multiple of 16 (OpenBLAS
    /// mallocs on every call for some small column counts that are not); the extra columns are zero.
    public static func ld(_ tiles: Int) -> Int { (tiles + 15) / 16 * 16 }
    /// Rows of the padded plane one image segment of a chunk needs.
    public var paddedRows: Int { 4 * min(rowsPerChunk, tilesH) + 2 }
    /// Floats between U[ξ] and U[ξ + 1]: O·C plus a cache line, so the 36 rows a weight
    /// transform writes at once do not all fall into the same cache sets.
    public var pointStride: Int { g.outChannels * g.inChannels + 16 }
    /// Floats of U (or ∂U).
    public var transformedWeights: Int { Self.points * pointStride }
    /// Floats of V and M for one chunk.
    /// (Reads of 8 lanes run up to 7 floats past the last tile.)
    public var tileFloats: Int { Self.points * (g.inChannels + g.outChannels) * Self.ld(maxTiles) + 16 }
    /// Floats of one phase-major row: 4 phases.
    public var rowFloats: Int { 4 * phase }
    public var planeFloats: Int { paddedRows * rowFloats + 48 * phase + 16 }

    public var scratchPerThread: Int { planeFloats + (splitsPoints ? 0 : tileFloats) }

    /// U, then ∂U (one per thread when threads split the images), then V and M when they split the points.
    public func sharedScratch(threads: Int) -> Int {
        splitsPoints ? 2 * transformedWeights + tileFloats : (1 + threads) * transformedWeights
    }
}

/// Where a chunk's transformed tiles and a thread's padded plane live.
public struct TileBuffers {
    public let v: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>
    public let padded: UnsafeMutablePointer<Float>
    /// 48 phases (+16) of one tile row's work: the first pass of a 2-D transform (24 phases; 36 for
    /// the input gradient's), an output tile row's four image rows (16 phases at 24), and `line`.
    public let temp: UnsafeMutablePointer<Float>
    /// One image row, 4 phases long, in column order: between the plane and phase-major rows.
    public let line: UnsafeMutablePointer<Float>

    /// Thread t's buffers: V and M in its own scratch, or the shared ones after U and ∂U in
    /// `scratch.partials` (point split).
    public init(_ p: WinogradPlan, _ scratch: ConvScratch, thread t: Int) {
        let own = scratch.perThread(t)
        padded = own
        temp = own + p.paddedRows * p.rowFloats
        line = temp + 40 * p.phase
        v = p.splitsPoints ? scratch.partials + 2 * p.transformedWeights : own + p.planeFloats
        m = v + WinogradPlan.points * p.g.inChannels * WinogradPlan.ld(p.maxTiles)
    }
}

/// The tile rows [th0, th1) of image n inside a chunk; its first tile is `tile` (chunk-local).
public struct Segment {
    public let n: Int, th0: Int, th1: Int, tile: Int
}

public enum WinogradConv {
    public typealias T = WinogradTransforms

    /// y = conv(x, w) + bias. Uses `scratch.partials` for U (and the shared tiles).
    public static func forward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               y: UnsafeMutablePointer<Float>, _ g: ConvGeometry,
                               pool: ThreadPool, scratch: ConvScratch) {
        let p = WinogradPlan(g)
        let u = scratch.partials
        transformWeights(w, u, p, pool)
        let args = (x: x, bias: bias, y: y, p: p, scratch: scratch, u: UnsafePointer(u), threads: pool.threads)
        if p.splitsPoints {
            // Padding columns of V only reach M's padding columns, which nothing reads.
            pool.run(args) { a, t in
                let p = a.p, b = TileBuffers(p, a.scratch, thread: t), ld = WinogradPlan.ld(p.maxTiles)
                for c in ThreadPool.split(p.g.inChannels, parts: a.threads, index: t) {
                    transformInput(a.x, channel: c, p, 0, p.batchRows, b, ld)
                }
            }
            pool.run(args) { a, t in
                let b = TileBuffers(a.p, a.scratch, thread: t)
                for xi in ThreadPool.split(WinogradPlan.points, parts: a.threads, index: t) {
                    multiply(point: xi, a.u, b, a.p, tiles: WinogradPlan.ld(a.p.maxTiles))
                }
            }
            pool.run(args) { a, t in
                let p = a.p, b = TileBuffers(p, a.scratch, thread: t), ld = WinogradPlan.ld(p.maxTiles)
                for o in ThreadPool.split(p.g.outChannels, parts: a.threads, index: t) {
                    transformOutput(a.y, channel: o, bias: a.bias?[o] ?? 0, p, 0, p.batchRows, b, ld)
                }
            }
            return
        }
        pool.run(args) { a, t in
            let p = a.p, buffers = TileBuffers(p, a.scratch, thread: t)
            forEachChunk(p, thread: t, of: a.threads) { r0, r1 in
                let tiles = (r1 - r0) * p.tilesW, ld = WinogradPlan.ld(tiles)
                for c in 0..<p.g.inChannels { transformInput(a.x, channel: c, p, r0, r1, buffers, ld) }
                for xi in 0..<WinogradPlan.points { multiply(point: xi, a.u, buffers, p, tiles: ld) }
                for o in 0..<p.g.outChannels {
                    transformOutput(a.y, channel: o, bias: a.bias?[o] ?? 0, p, r0, r1, buffers, ld)
                }
            }
        }
    }

    /// M[ξ] = U[ξ] · V[ξ].
    @inline(__always)
    private static func multiply(point xi: Int, _ u: UnsafePointer<Float>, _ b: TileBuffers, _ p: WinogradPlan,
                                 tiles: Int) {
        let (o, c) = (p.g.outChannels, p.g.inChannels)
        Gemm.gemm(transA: false, transB: false, m: o, n: tiles, k: c, a: u + xi * p.pointStride, lda: c,
                  b: b.v + xi * c * tiles, ldb: tiles, beta: 0, c: b.m + xi * o * tiles, ldc: tiles)
    }

    /// ∂U[ξ] (+)= ∂M[ξ] · V[ξ]ᵀ; then, when the input gradient is wanted, ∂V[ξ] = U[ξ]ᵀ · ∂M[ξ] in V[ξ]'s place.
    @inline(__always)
    private static func multiplyBackward(point xi: Int, _ u: UnsafePointer<Float>, _ du: UnsafeMutablePointer<Float>,
                                         accumulate: Bool, inputGradient: Bool, _ b: TileBuffers, _ p: WinogradPlan,
                                         tiles: Int) {
        let (o, c) = (p.g.outChannels, p.g.inChannels)
        let v = b.v + xi * c * tiles, dm = b.m + xi * o * tiles
        Gemm.gemm(transA: false, transB: true, m: o, n: c, k: tiles, a: dm, lda: tiles, b: v, ldb: tiles,
                  beta: accumulate ? 1 : 0, c: du + xi * p.pointStride, ldc: c)
        if inputGradient {
            Gemm.gemm(transA: true, transB: false, m: c, n: tiles, k: o, a: u + xi * p.pointStride, lda: c,
                      b: dm, ldb: tiles, beta: 0, c: v, ldc: tiles)
        }
    }

    /// dw = ∂L/∂w (overwritten) and dx (overwritten, or added to when `accumulate`) when non-nil.
    public static func backward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                dx: UnsafeMutablePointer<Float>?, accumulate: Bool, dw: UnsafeMutablePointer<Float>,
                                _ g: ConvGeometry, pool: ThreadPool, scratch: ConvScratch) {
        let p = WinogradPlan(g)
        let u = scratch.partials, du = u + p.transformedWeights
        // Recomputed: forward's U sat in shared scratch, which the later layers have reused since.
        transformWeights(w, u, p, pool)
        let args = (x: x, dy: dy, dx: dx, acc: accumulate, p: p, scratch: scratch, u: UnsafePointer(u), du: du,
                    threads: pool.threads)
        if p.splitsPoints {
            pool.run(args) { a, t in
                let p = a.p, b = TileBuffers(p, a.scratch, thread: t), ld = WinogradPlan.ld(p.maxTiles)
                let channels = ThreadPool.split(p.g.inChannels, parts: a.threads, index: t)
                let outputs = ThreadPool.split(p.g.outChannels, parts: a.threads, index: t)
                for c in channels { transformInput(a.x, channel: c, p, 0, p.batchRows, b, ld) }
                for o in outputs { transformOutputGradient(a.dy, channel: o, p, 0, p.batchRows, b, ld) }
                zeroPadding(b.v, rows: channels, of: p.g.inChannels, tiles: p.maxTiles)
                zeroPadding(b.m, rows: outputs, of: p.g.outChannels, tiles: p.maxTiles)
            }
            pool.run(args) { a, t in
                let b = TileBuffers(a.p, a.scratch, thread: t)
                for xi in ThreadPool.split(WinogradPlan.points, parts: a.threads, index: t) {
                    multiplyBackward(point: xi, a.u, a.du, accumulate: false, inputGradient: a.dx != nil, b, a.p,
                                     tiles: WinogradPlan.ld(a.p.maxTiles))
                }
            }
            if dx != nil {
                pool.run(args) { a, t in
                    let p = a.p, g = p.g, b = TileBuffers(p, a.scratch, thread: t)
                    for c in ThreadPool.split(g.inChannels, parts: a.threads, index: t) {
                        if !a.acc { (a.dx! + c * g.batch * g.inPlane).update(repeating: 0, count: g.batch * g.inPlane) }
                        transformInputGradient(a.dx!, channel: c, p, 0, p.batchRows, b, WinogradPlan.ld(p.maxTiles))
                    }
                }
            }
            reduceAndTransformBack(du, dw, p, parts: 1, pool)
            return
        }
        pool.run(args) { a, t in
            let p = a.p, g = p.g, buffers = TileBuffers(p, a.scratch, thread: t)
            let duT = a.du + t * p.transformedWeights
            let images = ThreadPool.split(g.batch, parts: a.threads, index: t)
            if images.isEmpty { duT.update(repeating: 0, count: p.transformedWeights); return }
            if let dx = a.dx, !a.acc {
                for c in 0..<g.inChannels {
                    (dx + (c * g.batch + images.lowerBound) * g.inPlane).update(repeating: 0,
                                                                               count: images.count * g.inPlane)
                }
            }
            var first = true
            forEachChunk(p, thread: t, of: a.threads) { r0, r1 in
                let tiles = (r1 - r0) * p.tilesW, ld = WinogradPlan.ld(tiles)
                for c in 0..<g.inChannels { transformInput(a.x, channel: c, p, r0, r1, buffers, ld) }
                for o in 0..<g.outChannels { transformOutputGradient(a.dy, channel: o, p, r0, r1, buffers, ld) }
                zeroPadding(buffers.v, rows: 0..<g.inChannels, of: g.inChannels, tiles: tiles)
                zeroPadding(buffers.m, rows: 0..<g.outChannels, of: g.outChannels, tiles: tiles)
                for xi in 0..<WinogradPlan.points {
                    multiplyBackward(point: xi, a.u, duT, accumulate: !first, inputGradient: a.dx != nil, buffers, p,
                                     tiles: ld)
                }
                first = false
                if let dx = a.dx {
                    for c in 0..<g.inChannels { transformInputGradient(dx, channel: c, p, r0, r1, buffers, ld) }
                }
            }
        }
        reduceAndTransformBack(du, dw, p, parts: pool.threads, pool)
    }

    /// Zeroes columns [tiles, ld(tiles)) of the given channel rows at all 36 points of a
    /// [36][channels][ld] buffer, so the padding adds nothing to ∂U.
    @inline(__always)
    private static func zeroPadding(_ base: UnsafeMutablePointer<Float>, rows: Range<Int>, of channels: Int, tiles: Int) {
        let ld = WinogradPlan.ld(tiles)
        guard ld > tiles else { return }
        for xi in 0..<WinogradPlan.points {
            for c in rows { (base + (xi * channels + c) * ld + tiles).update(repeating: 0, count: ld - tiles) }
        }
    }

    /// Runs `body(r0, r1)` over thread t's tile rows in chunks.
    @inline(__always)
    private static func forEachChunk(_ p: WinogradPlan, thread t: Int, of threads: Int, _ body: (Int, Int) -> Void) {
        let images = ThreadPool.split(p.g.batch, parts: threads, index: t)
        var r0 = images.lowerBound * p.tilesH
        let end = images.upperBound * p.tilesH
        while r0 < end {
            let r1 = min(end, r0 + p.rowsPerChunk)
            body(r0, r1)
            r0 = r1
        }
    }

    /// Calls `body` for each image's part of the tile rows [r0, r1).
    @inline(__always)
    public static func forEachSegment(_ p: WinogradPlan, _ r0: Int, _ r1: Int, _ body: (Segment) -> Void) {
        var r = r0
        while r < r1 {
            let n = r / p.tilesH, th0 = r % p.tilesH
            let th1 = min(p.tilesH, th0 + (r1 - r))
            body(Segment(n: n, th0: th0, th1: th1, tile: (r - r0) * p.tilesW))
            r += th1 - th0
        }
    }

    // MARK: Weights
    // Blocks of 16 kernels: their 9 taps are gathered into 9 lane vectors, transformed together,
    // and each transform point stored as one 16-float row (and back the other way).

    /// U[ξ][o][c] = (G g Gᵀ)[ξ] for every kernel g = w[o][c].
    private static func transformWeights(_ w: UnsafePointer<Float>, _ u: UnsafeMutablePointer<Float>,
                                         _ p: WinogradPlan, _ pool: ThreadPool) {
        let pairs = p.g.outChannels * p.g.inChannels
        pool.parallelRanges((pairs + 15) / 16, (w: w, u: u, pairs: pairs, stride: p.pointStride)) { a, blocks, _ in
            for block in blocks {
                let k0 = block * 16, n = min(16, a.pairs - k0)
                var g = (T.Lanes.zero, T.Lanes.zero, T.Lanes.zero, T.Lanes.zero, T.Lanes.zero, T.Lanes.zero,
                         T.Lanes.zero, T.Lanes.zero, T.Lanes.zero)
                withUnsafeMutableBytes(of: &g) { raw in
                    let lanes = raw.bindMemory(to: Float.self).baseAddress!   // lanes[tap·16 + kernel]
                    for k in 0..<n { for tap in 0..<9 { lanes[tap * 16 + k] = a.w[(k0 + k) * 9 + tap] } }
                }
                // Columns: cj = G · (g[0][j], g[1][j], g[2][j]); then each row i of (c0 c1 c2) through G.
                let c0 = T.weightForward(g.0, g.3, g.6), c1 = T.weightForward(g.1, g.4, g.7)
                let c2 = T.weightForward(g.2, g.5, g.8)
                func store(_ i: Int, _ r: (T.Lanes, T.Lanes, T.Lanes, T.Lanes, T.Lanes, T.Lanes)) {
                    let out = a.u + 6 * i * a.stride + k0
                    storeLanes(r.0, out, n); storeLanes(r.1, out + a.stride, n); storeLanes(r.2, out + 2 * a.stride, n)
                    storeLanes(r.3, out + 3 * a.stride, n); storeLanes(r.4, out + 4 * a.stride, n)
                    storeLanes(r.5, out + 5 * a.stride, n)
                }
                store(0, T.weightForward(c0.0, c1.0, c2.0)); store(1, T.weightForward(c0.1, c1.1, c2.1))
                store(2, T.weightForward(c0.2, c1.2, c2.2)); store(3, T.weightForward(c0.3, c1.3, c2.3))
                store(4, T.weightForward(c0.4, c1.4, c2.4)); store(5, T.weightForward(c0.5, c1.5, c2.5))
            }
        }
    }

    /// Sums the `parts` ∂U and maps it to dw = Gᵀ ∂U G.
    private static func reduceAndTransformBack(_ du: UnsafeMutablePointer<Float>, _ dw: UnsafeMutablePointer<Float>,
                                               _ p: WinogradPlan, parts: Int, _ pool: ThreadPool) {
        let pairs = p.g.outChannels * p.g.inChannels
        let args = (du: UnsafePointer(du), dw: dw, pairs: pairs, stride: p.pointStride, size: p.transformedWeights,
                    parts: parts)
        pool.parallelRanges((pairs + 15) / 16, args) { a, blocks, _ in
            for block in blocks {
                let k0 = block * 16, n = min(16, a.pairs - k0)
                @inline(__always) func point(_ xi: Int) -> T.Lanes {
                    var v = loadLanes(a.du + xi * a.stride + k0, n)
                    var t = 1
                    while t < a.parts { v += loadLanes(a.du + t * a.size + xi * a.stride + k0, n); t += 1 }
                    return v
                }
                // Rows i: q_i = Gᵀ · (∂U[i][0…5]); then the columns of q through Gᵀ.
                @inline(__always) func row(_ i: Int) -> (T.Lanes, T.Lanes, T.Lanes) {
                    T.weightBackward(point(6 * i), point(6 * i + 1), point(6 * i + 2), point(6 * i + 3),
                                     point(6 * i + 4), point(6 * i + 5))
                }
                let q0 = row(0), q1 = row(1), q2 = row(2), q3 = row(3), q4 = row(4), q5 = row(5)
                var out = (T.weightBackward(q0.0, q1.0, q2.0, q3.0, q4.0, q5.0),
                           T.weightBackward(q0.1, q1.1, q2.1, q3.1, q4.1, q5.1),
                           T.weightBackward(q0.2, q1.2, q2.2, q3.2, q4.2, q5.2))
                withUnsafeBytes(of: &out) { raw in
                    // out.b.a holds tap (a, b): lanes at ((b·3) + a)·16.
                    let lanes = raw.bindMemory(to: Float.self).baseAddress!
                    for k in 0..<n {
                        for row in 0..<3 {
                            for col in 0..<3 { a.dw[(k0 + k) * 9 + row * 3 + col] = lanes[(col * 3 + row) * 16 + k] }
                        }
                    }
                }
            }
        }
    }

    @inline(__always) private static func storeLanes(_ v: T.Lanes, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
        if n == 16 { UnsafeMutableRawPointer(p).storeBytes(of: v, as: T.Lanes.self); return }
        for i in 0..<n { p[i] = v[i] }
    }

    @inline(__always) private static func loadLanes(_ p: UnsafePointer<Float>, _ n: Int) -> T.Lanes {
        if n == 16 { return UnsafeRawPointer(p).loadUnaligned(as: T.Lanes.self) }
        var v = T.Lanes.zero
        for i in 0..<n { v[i] = p[i] }
        return v
    }
}
