// Convolution with bf16 operands and fp32 sums (precision: bf16): each thread takes a run of images, as
// the fp32 im2col path does, and walks it in pieces near L2's size (whole images, or runs of output
// rows of a large one) but not thinner than `minPieceColumns`; each piece's column matrix (im2col's, or the input itself for a pointwise conv)
// is rounded into the pairs layout as it is packed, then one bf16 product (CBFloat16's bf16_gemm). In backward, ∂Y is packed
// twice per chunk — as rows for ∂W = ∂Y·colᵀ and as pairs for ∂col = Wᵀ·∂Y — and the columns as the
// pairs of their transpose. The weight's two bf16 layouts are packed once per forward (packWeight).

import CBFloat16

/// A conv's effective weight in bf16, packed once per forward.
public struct BF16Weight {
    /// Group g's W_g (groupOut × colRows) at g·groupOut·evenColRows, rows evenColRows apart.
    public var rows: UnsafeMutablePointer<UInt16>
    /// Group g's W_gᵀ (colRows × groupOut) at g·colRows·evenGroupOut, rows evenGroupOut apart: ∂X's left operand.
    public var transposed: UnsafeMutablePointer<UInt16>

    public init(rows: UnsafeMutablePointer<UInt16>, transposed: UnsafeMutablePointer<UInt16>) {
        self.rows = rows; self.transposed = transposed
    }
}

/// A run of a chunk's columns: images [n0, n1) whole, or output rows [oh0, oh1) of image n0 alone.
public struct ConvPiece {
    public var n0: Int, n1: Int, oh0: Int, oh1: Int
    /// Columns of the piece.
    @inlinable public func columns(_ g: ConvGeometry) -> Int { n1 - n0 == 1 ? (oh1 - oh0) * g.outW : (n1 - n0) * g.outPlane }
    /// The piece's first column in the batch's columns (N·OH·OW).
    @inlinable public func firstColumn(_ g: ConvGeometry) -> Int { n0 * g.outPlane + oh0 * g.outW }
    /// Whether this piece begins its image (or its images).
    @inlinable public var beginsImage: Bool { oh0 == 0 }
}

extension ConvGeometry {
    /// Fewest columns a bf16 piece has where the images allow: each piece re-reads the whole weight (and
    /// ∂W, in backward), so thinner pieces move more bytes than they save in L2. (A thread's last piece
    /// of whole images may still be thinner: it holds what is left. The floor can make a piece's scratch
    /// far larger than the budget: ResNet50 b16's 3×3/2 512→512 conv, 2·4608·294 floats a thread, 10.8 MB.)
    // unsafe: a tuning knob that tests and benchmarks set before any work starts; steps only read it.
    nonisolated(unsafe) public static var minPieceColumns = 256

    /// Rows of one image per piece when an image is larger than the budget and the floor leaves it more
    /// than one piece, else nil (whole images).
    public var rowsPerPiece: Int? {
        guard colRows * outPlane > Self.pieceBudget else { return nil }
        let rows = max(outputRowsPerPiece, (Self.minPieceColumns + outW - 1) / outW)
        return rows >= outH ? nil : rows
    }

    /// The most columns a bf16 piece has.
    public var pieceColumns: Int {
        if let rows = rowsPerPiece { return rows * outW }
        let images = max(Self.pieceBudget / max(1, colRows * outPlane), (Self.minPieceColumns + outPlane - 1) / outPlane)
        return max(1, min(batch, images)) * outPlane
    }

    /// Calls `body` for each piece of images `images`, in order.
    @inline(__always)
    func forEachPiece(_ images: Range<Int>, _ body: (ConvPiece) -> Void) {
        if let rows = rowsPerPiece {
            for n in images {
                var oh0 = 0
                while oh0 < outH { body(ConvPiece(n0: n, n1: n + 1, oh0: oh0, oh1: min(outH, oh0 + rows))); oh0 += rows }
            }
            return
        }
        let perPiece = max(1, pieceColumns / outPlane)
        var n0 = images.lowerBound
        while n0 < images.upperBound {
            let n1 = min(images.upperBound, n0 + perPiece)
            body(ConvPiece(n0: n0, n1: n1, oh0: 0, oh1: outH))
            n0 = n1
        }
    }

    /// colRows rounded up to even (a bf16 row holds whole pairs).
    @inlinable public var evenColRows: Int { (colRows + 1) & ~1 }
    @inlinable public var evenGroupOut: Int { (groupOut + 1) & ~1 }
    /// bf16 elements of the packed weight: both layouts.
    public var bf16WeightCount: Int { groups * groupOut * evenColRows + groups * colRows * evenGroupOut }

    /// bf16 elements of one thread's scratch: the packed columns, then ∂Y as rows and as pairs.
    public var bf16ScratchPerThread: Int {
        guard bf16 else { return 0 }
        return bf16ScratchParts.dyPairs + Self.aligned(Int(bf16_packed_size(Int64(groupOut), Int64(pieceColumns))))
    }

    /// Where each part of a thread's bf16 scratch starts.
    var bf16ScratchParts: (columns: Int, dyRows: Int, dyPairs: Int) {
        let cols = pieceColumns
        let packed = max(bf16_packed_size(Int64(colRows), Int64(cols)), bf16_packed_size(Int64(cols), Int64(colRows)))
        let dyRows = Self.aligned(Int(packed))
        return (0, dyRows, dyRows + Self.aligned(groupOut * ((cols + 1) & ~1)))
    }

    /// Rounded up to 32 elements (64 bytes).
    static func aligned(_ n: Int) -> Int { (n + 31) / 32 * 32 }
}

extension ConvKernels {
    /// Packs the effective weight `w` into its two bf16 layouts (the transpose only when `transposed`:
    /// a training step that computes ∂X).
    public static func packWeight(_ w: UnsafePointer<Float>, _ g: ConvGeometry, into packed: BF16Weight,
                                  transposed: Bool, pool: ThreadPool) {
        // Blocks of 32 output channels: threads write disjoint 64-byte runs of the transpose's rows.
        let blocks = (g.groupOut + 31) / 32
        pool.parallelRanges(g.groups * blocks, (w: w, g: g, p: packed, t: transposed, blocks: blocks)) { a, range, _ in
            let g = a.g
            for item in range {
                let gi = item / a.blocks, o0 = (item % a.blocks) * 32, o1 = min(g.groupOut, o0 + 32)
                let src = a.w + (gi * g.groupOut + o0) * g.colRows
                bf16_pack_rows(src, Int64(g.colRows), Int32(o1 - o0), Int32(g.colRows),
                               a.p.rows + (gi * g.groupOut + o0) * g.evenColRows, Int64(g.evenColRows))
                guard a.t else { continue }
                let dst = a.p.transposed + gi * g.colRows * g.evenGroupOut
                bf16_pack_block_transposed(src, Int64(g.colRows), Int32(o1 - o0), Int32(g.colRows), dst + o0,
                                           Int64(g.evenGroupOut))
                if o1 == g.groupOut && g.evenGroupOut > g.groupOut {
                    for c in 0..<g.colRows { dst[c * g.evenGroupOut + g.groupOut] = 0 }
                }
            }
        }
    }

    /// y = conv(x, w) + bias with bf16 operands: each thread a run of images, piece by piece.
    static func forwardBF16(x: UnsafePointer<Float>, w: BF16Weight, bias: UnsafePointer<Float>?,
                            y: UnsafeMutablePointer<Float>, _ g: ConvGeometry, pool: ThreadPool, scratch: ConvScratch) {
        pool.parallelRanges(g.batch, (x: x, w: w, bias: bias, y: y, g: g, scratch: scratch)) { a, images, t in
            let g = a.g, col = a.scratch.perThread(t), packed = a.scratch.halves(t)
            g.forEachPiece(images) { piece in
                let cols = piece.columns(g), first = piece.firstColumn(g)
                for gi in 0..<g.groups {
                    let (b, ldb) = pieceColumns(a.x, g, group: gi, piece, col)
                    bf16_pack_pairs(b, Int64(ldb), Int32(g.colRows), Int32(cols), packed)
                    bf16_gemm(Int32(g.groupOut), Int32(cols), Int32(g.colRows), a.w.rows + gi * g.groupOut * g.evenColRows,
                              Int64(g.evenColRows), packed, a.y + gi * g.groupOut * g.columns + first, Int64(g.columns), 0)
                }
                if let bias = a.bias {
                    for o in 0..<g.outChannels {
                        let row = a.y + o * g.columns + first
                        for j in 0..<cols { row[j] += bias[o] }
                    }
                }
            }
        }
    }

    /// Group gi's column matrix of a piece and its row stride: the input itself for a pointwise conv,
    /// else im2col of the piece into `col`.
    @inline(__always)
    static func pieceColumns(_ x: UnsafePointer<Float>, _ g: ConvGeometry, group gi: Int, _ p: ConvPiece,
                             _ col: UnsafeMutablePointer<Float>) -> (UnsafePointer<Float>, Int) {
        if g.isPointwise { return (x + gi * g.groupIn * g.columns + p.firstColumn(g), g.columns) }
        if p.n1 - p.n0 == 1 && (p.oh0 > 0 || p.oh1 < g.outH) {
            Im2col.im2colRows(x, g, channel: gi * g.groupIn, image: p.n0, rows: p.oh0, p.oh1, col)
        } else {
            Im2col.im2col(x, g, channel: gi * g.groupIn, images: p.n0, p.n1, col)
        }
        return (UnsafePointer(col), p.columns(g))
    }

    /// One thread's share of the backward pass: ∂W over its images into `dw` (overwritten), and ∂X.
    static func backwardBF16(x: UnsafePointer<Float>, w: BF16Weight, dy: UnsafePointer<Float>,
                             dx: UnsafeMutablePointer<Float>?, accumulate: Bool, dw: UnsafeMutablePointer<Float>,
                             _ g: ConvGeometry, images: Range<Int>, col: UnsafeMutablePointer<Float>,
                             halves: UnsafeMutablePointer<UInt16>) {
        if images.isEmpty { dw.update(repeating: 0, count: g.weightCount); return }
        let dcol = col + g.colRows * g.pieceColumns
        let parts = g.bf16ScratchParts
        let packedColumns = halves + parts.columns, dyRows = halves + parts.dyRows, dyPairs = halves + parts.dyPairs
        var firstPiece = true
        g.forEachPiece(images) { piece in
            let cols = piece.columns(g), evenCols = (cols + 1) & ~1, first = piece.firstColumn(g)
            for gi in 0..<g.groups {
                let dyG = dy + gi * g.groupOut * g.columns + first
                let (b, ldb) = pieceColumns(x, g, group: gi, piece, col)
                // ∂W_g (+)= ∂Y_g · colᵀ: ∂Y as rows, the columns as the pairs of their transpose.
                bf16_pack_rows(dyG, Int64(g.columns), Int32(g.groupOut), Int32(cols), dyRows, Int64(evenCols))
                bf16_pack_pairs_transposed(b, Int64(ldb), Int32(g.colRows), Int32(cols), packedColumns)
                bf16_gemm(Int32(g.groupOut), Int32(g.colRows), Int32(cols), dyRows, Int64(evenCols), packedColumns,
                          dw + gi * g.groupOut * g.colRows, Int64(g.colRows), firstPiece ? 0 : 1)
                guard let dx = dx else { continue }
                // ∂col = W_gᵀ · ∂Y_g (straight into ∂X for a pointwise conv).
                bf16_pack_pairs(dyG, Int64(g.columns), Int32(g.groupOut), Int32(cols), dyPairs)
                let wT = w.transposed + gi * g.colRows * g.evenGroupOut
                if g.isPointwise {
                    bf16_gemm(Int32(g.groupIn), Int32(cols), Int32(g.groupOut), wT, Int64(g.evenGroupOut), dyPairs,
                              dx + gi * g.groupIn * g.columns + first, Int64(g.columns), accumulate ? 1 : 0)
                    continue
                }
                bf16_gemm(Int32(g.colRows), Int32(cols), Int32(g.groupOut), wT, Int64(g.evenGroupOut), dyPairs,
                          dcol, Int64(cols), 0)
                // The images' ∂X planes are cleared before their first piece adds into them.
                if !accumulate && piece.beginsImage {
                    for c in 0..<g.groupIn {
                        (dx + ((gi * g.groupIn + c) * g.batch + piece.n0) * g.inPlane)
                            .update(repeating: 0, count: (piece.n1 - piece.n0) * g.inPlane)
                    }
                }
                if piece.n1 - piece.n0 == 1 && (piece.oh0 > 0 || piece.oh1 < g.outH) {
                    Im2col.col2imRows(dcol, g, channel: gi * g.groupIn, image: piece.n0, rows: piece.oh0, piece.oh1, dx)
                } else {
                    Im2col.col2im(dcol, g, channel: gi * g.groupIn, images: piece.n0, piece.n1, dx)
                }
            }
            firstPiece = false
        }
    }
}
