// Convolution forward and backward on CNHW activations by im2col + GEMM.
// Each thread takes a contiguous run of images and walks it in chunks small
// enough that a chunk's column matrix stays in cache between im2col and the
// GEMM that reads it. Pointwise convs skip im2col: the input is the column
// matrix; 3×3 stride-1 geometries marked `winograd` go to WinogradConv.
// Weight gradients are summed per thread (thread 0 straight into
// dw, the others into scratch) and then reduced in a fixed order.
//
// Shapes: x [C, N, H, W], y/dy [O, N, OH, OW], w/dw [O, C/g, kh, kw].

public struct ConvScratch {
    /// Thread t's private scratch starts at base + t · stride (≥ g.scratchPerThread floats).
    public var base: UnsafeMutablePointer<Float>
    public var stride: Int
    /// (threads − 1) · weightCount floats for partial weight gradients.
    public var partials: UnsafeMutablePointer<Float>
    /// Thread t's bf16 scratch starts at halves + t · halfStride (≥ g.bf16ScratchPerThread; bf16 plans).
    public var halves: UnsafeMutablePointer<UInt16>?
    public var halfStride: Int

    public init(base: UnsafeMutablePointer<Float>, stride: Int, partials: UnsafeMutablePointer<Float>,
                halves: UnsafeMutablePointer<UInt16>? = nil, halfStride: Int = 0) {
        self.base = base; self.stride = stride; self.partials = partials
        self.halves = halves; self.halfStride = halfStride
    }

    @inline(__always) public func perThread(_ t: Int) -> UnsafeMutablePointer<Float> { base + t * stride }
    @inline(__always) public func halves(_ t: Int) -> UnsafeMutablePointer<UInt16> { halves! + t * halfStride }
}

/// What the fp32 im2col/GEMM forward applies to each chunk of its output while the chunk is in cache, after
/// the bias: y = relu?(y·scale[o] + shift[o]), or with a residual r relu((y·scale[o] + shift[o]) + r) — an
/// evaluation BatchNorm (BatchNormKernels.evalCoefficients) with its ReLU or the residual join it feeds,
/// in BatchNormKernels.affine's arithmetic, so the bits equal the separate passes'.
public struct ChannelAffine {
    public var scale: UnsafePointer<Float>, shift: UnsafePointer<Float>
    public var relu: Bool
    public var residual: UnsafePointer<Float>?

    public init(scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, relu: Bool, residual: UnsafePointer<Float>?) {
        self.scale = scale; self.shift = shift; self.relu = relu; self.residual = residual
    }

    /// Columns [first, first + count) of every output channel of y ([O, N·OH·OW]).
    @inline(__always)
    func apply(_ y: UnsafeMutablePointer<Float>, _ g: ConvGeometry, first: Int, count: Int) {
        for o in 0..<g.outChannels {
            let at = o * g.columns + first
            BatchNormKernels.affine(y + at, y + at, count, scale[o], shift[o], relu, residual.map { $0 + at })
        }
    }
}

public enum ConvKernels {
    /// y = conv(x, w) + bias, then the `epilogue` when given (fp32 im2col or GEMM plans only); with bf16
    /// operands (`wb`, packed by packWeight) when `g.bf16`.
    public static func forward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               y: UnsafeMutablePointer<Float>, _ g: ConvGeometry,
                               pool: ThreadPool, scratch: ConvScratch, bf16 wb: BF16Weight? = nil,
                               epilogue: ChannelAffine? = nil) {
        precondition(g.bf16 == (wb != nil), "a bf16 conv takes its packed weight (ConvKernels.packWeight)")
        precondition(epilogue == nil || (!g.winograd && !g.bf16), "the forward's epilogue runs on fp32 im2col or GEMM plans")
        if g.winograd {
            WinogradConv.forward(x: x, w: w, bias: bias, y: y, g, pool: pool, scratch: scratch)
            return
        }
        if let wb = wb {
            forwardBF16(x: x, w: wb, bias: bias, y: y, g, pool: pool, scratch: scratch)
            return
        }
        if let epilogue, g.isPointwise, g.groups == 1 {
            pointwiseForward(x: x, w: w, bias: bias, y: y, g, pool: pool, epilogue: epilogue)
            return
        }
        let args = (x: x, w: w, bias: bias, y: y, g: g, scratch: scratch, perChunk: g.imagesPerChunk(), epilogue: epilogue)
        if let rows = g.forwardRowsPerPiece {
            pool.parallelRanges(g.batch, (args: args, rows: rows)) { a, images, t in
                let col = a.args.scratch.perThread(t), g = a.args.g
                for n in images {
                    var oh0 = 0
                    while oh0 < g.outH {
                        let oh1 = min(g.outH, oh0 + a.rows), first = n * g.outPlane + oh0 * g.outW, count = (oh1 - oh0) * g.outW
                        forwardPiece(x: a.args.x, w: a.args.w, y: a.args.y, g, n, oh0, oh1, col)
                        if let bias = a.args.bias { addBias(bias, a.args.y, g, first: first, count: count) }
                        a.args.epilogue?.apply(a.args.y, g, first: first, count: count)
                        oh0 = oh1
                    }
                }
            }
            return
        }
        pool.parallelRanges(g.batch, args) { a, images, t in
            let col = a.scratch.perThread(t)
            var n0 = images.lowerBound
            while n0 < images.upperBound {
                let n1 = min(images.upperBound, n0 + a.perChunk), first = n0 * a.g.outPlane, count = (n1 - n0) * a.g.outPlane
                forwardChunk(x: a.x, w: a.w, y: a.y, a.g, n0, n1, col)
                if let bias = a.bias { addBias(bias, a.y, a.g, first: first, count: count) }
                a.epilogue?.apply(a.y, a.g, first: first, count: count)
                n0 = n1
            }
        }
    }

    /// A 1×1 stride-1 conv with an epilogue: runs of columns whose output (all channels) fits a piece, so
    /// the epilogue reads the product from cache; each thread takes a contiguous share of the columns.
    private static func pointwiseForward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                         y: UnsafeMutablePointer<Float>, _ g: ConvGeometry, pool: ThreadPool,
                                         epilogue: ChannelAffine) {
        let span = max(256, ConvGeometry.pieceBudget / g.outChannels) & ~15
        pool.parallelRanges(g.columns, (x: x, w: w, bias: bias, y: y, g: g, span: span, epilogue: epilogue)) { a, range, _ in
            var first = range.lowerBound
            while first < range.upperBound {
                let count = min(a.span, range.upperBound - first)
                Gemm.gemm(transA: false, transB: false, m: a.g.outChannels, n: count, k: a.g.inChannels, a: a.w,
                          lda: a.g.inChannels, b: a.x + first, ldb: a.g.columns, beta: 0, c: a.y + first, ldc: a.g.columns)
                if let bias = a.bias { addBias(bias, a.y, a.g, first: first, count: count) }
                a.epilogue.apply(a.y, a.g, first: first, count: count)
                first += count
            }
        }
    }

    @inline(__always)
    private static func forwardChunk(x: UnsafePointer<Float>, w: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                                     _ g: ConvGeometry, _ n0: Int, _ n1: Int, _ col: UnsafeMutablePointer<Float>) {
        let cols = (n1 - n0) * g.outPlane
        for gi in 0..<g.groups {
            let (b, ldb) = columnMatrix(x, g, group: gi, n0, n1, col)
            Gemm.gemm(transA: false, transB: false, m: g.groupOut, n: cols, k: g.colRows,
                      a: w + gi * g.groupOut * g.colRows, lda: g.colRows, b: b, ldb: ldb,
                      beta: 0, c: y + gi * g.groupOut * g.columns + n0 * g.outPlane, ldc: g.columns)
        }
    }

    /// Output rows [oh0, oh1) of image n: im2col of those rows only, then one GEMM per group.
    @inline(__always)
    private static func forwardPiece(x: UnsafePointer<Float>, w: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                                     _ g: ConvGeometry, _ n: Int, _ oh0: Int, _ oh1: Int, _ col: UnsafeMutablePointer<Float>) {
        let cols = (oh1 - oh0) * g.outW
        for gi in 0..<g.groups {
            Im2col.im2colRows(x, g, channel: gi * g.groupIn, image: n, rows: oh0, oh1, col)
            Gemm.gemm(transA: false, transB: false, m: g.groupOut, n: cols, k: g.colRows,
                      a: w + gi * g.groupOut * g.colRows, lda: g.colRows, b: col, ldb: cols,
                      beta: 0, c: y + gi * g.groupOut * g.columns + n * g.outPlane + oh0 * g.outW, ldc: g.columns)
        }
    }

    /// Group gi's column matrix for images [n0, n1) and its row stride: the input
    /// itself for pointwise convs, else im2col into `col`.
    @inline(__always)
    static func columnMatrix(_ x: UnsafePointer<Float>, _ g: ConvGeometry, group gi: Int, _ n0: Int, _ n1: Int,
                                     _ col: UnsafeMutablePointer<Float>) -> (UnsafePointer<Float>, Int) {
        if g.isPointwise { return (x + gi * g.groupIn * g.columns + n0 * g.inPlane, g.columns) }
        Im2col.im2col(x, g, channel: gi * g.groupIn, images: n0, n1, col)
        return (UnsafePointer(col), (n1 - n0) * g.outPlane)
    }

    /// Columns [first, first + count) of every output channel get the channel's bias.
    private static func addBias(_ bias: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                _ g: ConvGeometry, first: Int, count: Int) {
        for o in 0..<g.outChannels {
            let row = y + o * g.columns + first
            let b = bias[o]
            for j in 0..<count { row[j] += b }
        }
    }

    /// dw = ∂L/∂w (overwritten), dbias (overwritten), and dx (overwritten, or
    /// added to when `accumulate`) when dx is non-nil.
    public static func backward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                dx: UnsafeMutablePointer<Float>?, accumulate: Bool,
                                dw: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>?,
                                _ g: ConvGeometry, pool: ThreadPool, scratch: ConvScratch, bf16 wb: BF16Weight? = nil) {
        precondition(g.bf16 == (wb != nil), "a bf16 conv takes its packed weight (ConvKernels.packWeight)")
        if g.winograd {
            WinogradConv.backward(x: x, w: w, dy: dy, dx: dx, accumulate: accumulate, dw: dw, g, pool: pool,
                                  scratch: scratch)
        } else {
            im2colBackward(x: x, w: w, wb: wb, dy: dy, dx: dx, accumulate: accumulate, dw: dw, g, pool: pool,
                           scratch: scratch)
        }
        if let dbias = dbias {
            pool.parallelRanges(g.outChannels, (dy: dy, db: dbias, columns: g.columns)) { a, range, _ in
                for o in range { a.db[o] = Vec.sum(a.dy + o * a.columns, a.columns) }
            }
        }
    }

    private static func im2colBackward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, wb: BF16Weight?,
                                       dy: UnsafePointer<Float>,
                                       dx: UnsafeMutablePointer<Float>?, accumulate: Bool,
                                       dw: UnsafeMutablePointer<Float>, _ g: ConvGeometry, pool: ThreadPool,
                                       scratch: ConvScratch) {
        let threads = pool.threads
        let args = (x: x, w: w, wb: wb, dy: dy, dx: dx, acc: accumulate, dw: dw, g: g, scratch: scratch, threads: threads)
        pool.run(args) { a, t in
            let g = a.g, perChunk = g.imagesPerChunk()
            let images = ThreadPool.split(g.batch, parts: a.threads, index: t)
            let dwT = t == 0 ? a.dw : a.scratch.partials + (t - 1) * g.weightCount
            if images.isEmpty { dwT.update(repeating: 0, count: g.weightCount); return }
            if let wb = a.wb {
                backwardBF16(x: a.x, w: wb, dy: a.dy, dx: a.dx, accumulate: a.acc, dw: dwT, g, images: images,
                             col: a.scratch.perThread(t), halves: a.scratch.halves(t))
                return
            }
            let col = a.scratch.perThread(t)
            let dcol = col + g.colRows * perChunk * g.outPlane
            var n0 = images.lowerBound
            while n0 < images.upperBound {
                let n1 = min(images.upperBound, n0 + perChunk)
                backwardChunk(x: a.x, w: a.w, dy: a.dy, dx: a.dx, accumulate: a.acc, dw: dwT,
                              first: n0 == images.lowerBound, g, n0, n1, col, dcol)
                n0 = n1
            }
        }
        if threads > 1 { reducePartials(dw, scratch.partials, g.weightCount, pool) }
    }

    @inline(__always)
    private static func backwardChunk(x: UnsafePointer<Float>, w: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                      dx: UnsafeMutablePointer<Float>?, accumulate: Bool,
                                      dw: UnsafeMutablePointer<Float>, first: Bool, _ g: ConvGeometry,
                                      _ n0: Int, _ n1: Int,
                                      _ col: UnsafeMutablePointer<Float>, _ dcol: UnsafeMutablePointer<Float>) {
        let cols = (n1 - n0) * g.outPlane
        for gi in 0..<g.groups {
            let dyG = dy + gi * g.groupOut * g.columns + n0 * g.outPlane
            let wG = w + gi * g.groupOut * g.colRows
            let (b, ldb) = columnMatrix(x, g, group: gi, n0, n1, col)
            // dw_g[O_g, colRows] (+)= dy_g[O_g, cols] · col[colRows, cols]ᵀ
            Gemm.gemm(transA: false, transB: true, m: g.groupOut, n: g.colRows, k: cols,
                      a: dyG, lda: g.columns, b: b, ldb: ldb,
                      beta: first ? 0 : 1, c: dw + gi * g.groupOut * g.colRows, ldc: g.colRows)
            guard let dx = dx else { continue }
            if g.isPointwise {
                Gemm.gemm(transA: true, transB: false, m: g.groupIn, n: cols, k: g.groupOut,
                          a: wG, lda: g.colRows, b: dyG, ldb: g.columns, beta: accumulate ? 1 : 0,
                          c: dx + gi * g.groupIn * g.columns + n0 * g.inPlane, ldc: g.columns)
            } else {
                Gemm.gemm(transA: true, transB: false, m: g.colRows, n: cols, k: g.groupOut,
                          a: wG, lda: g.colRows, b: dyG, ldb: g.columns, beta: 0, c: dcol, ldc: cols)
                if !accumulate {
                    for c in 0..<g.groupIn {
                        (dx + ((gi * g.groupIn + c) * g.batch + n0) * g.inPlane)
                            .update(repeating: 0, count: (n1 - n0) * g.inPlane)
                    }
                }
                Im2col.col2im(dcol, g, channel: gi * g.groupIn, images: n0, n1, dx)
            }
        }
    }

    /// dw += Σ partials, split over threads by element (fixed order per element).
    public static func reducePartials(_ dw: UnsafeMutablePointer<Float>, _ partials: UnsafePointer<Float>,
                               _ count: Int, _ pool: ThreadPool) {
        pool.parallelRanges(count, (dw: dw, partials: partials, count: count, extra: pool.threads - 1)) { a, range, _ in
            for p in 0..<a.extra {
                Vec.add(a.partials + p * a.count + range.lowerBound, a.dw + range.lowerBound, range.count)
            }
        }
    }
}
