// Convolution with bf16 operands and fp32 sums (precision: bf16): the same chunks as the fp32 im2col
// path, each column matrix (im2col's, or the input itself for a pointwise conv) rounded into the pairs
// layout as it is packed, then one bf16 product (CBFloat16's bf16_gemm). In backward, ∂Y is packed
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

extension ConvGeometry {
    /// colRows rounded up to even (a bf16 row holds whole pairs).
    @inlinable public var evenColRows: Int { (colRows + 1) & ~1 }
    @inlinable public var evenGroupOut: Int { (groupOut + 1) & ~1 }
    /// bf16 elements of the packed weight: both layouts.
    public var bf16WeightCount: Int { groups * groupOut * evenColRows + groups * colRows * evenGroupOut }

    /// bf16 elements of one thread's scratch: the packed columns, then ∂Y as rows and as pairs.
    public var bf16ScratchPerThread: Int {
        guard bf16 else { return 0 }
        let parts = bf16ScratchParts
        return parts.dyPairs + Self.aligned(Int(bf16_packed_size(Int64(groupOut), Int64(imagesPerChunk() * outPlane))))
    }

    /// Where each part of a thread's bf16 scratch starts.
    var bf16ScratchParts: (columns: Int, dyRows: Int, dyPairs: Int) {
        let cols = imagesPerChunk() * outPlane
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
                for c in 0..<g.colRows {
                    let row = dst + c * g.evenGroupOut
                    for o in o0..<o1 { row[o] = bf16_from_float(src[(o - o0) * g.colRows + c]) }
                    if o1 == g.groupOut && g.evenGroupOut > g.groupOut { row[g.groupOut] = 0 }
                }
            }
        }
    }

    @inline(__always)
    static func forwardChunkBF16(x: UnsafePointer<Float>, w: BF16Weight, y: UnsafeMutablePointer<Float>,
                                 _ g: ConvGeometry, _ n0: Int, _ n1: Int, _ col: UnsafeMutablePointer<Float>,
                                 _ halves: UnsafeMutablePointer<UInt16>) {
        let cols = (n1 - n0) * g.outPlane
        for gi in 0..<g.groups {
            let (b, ldb) = columnMatrix(x, g, group: gi, n0, n1, col)
            bf16_pack_pairs(b, Int64(ldb), Int32(g.colRows), Int32(cols), halves)
            bf16_gemm(Int32(g.groupOut), Int32(cols), Int32(g.colRows), w.rows + gi * g.groupOut * g.evenColRows,
                      Int64(g.evenColRows), halves, y + gi * g.groupOut * g.columns + n0 * g.outPlane,
                      Int64(g.columns), 0)
        }
    }

    @inline(__always)
    static func backwardChunkBF16(x: UnsafePointer<Float>, w: BF16Weight, dy: UnsafePointer<Float>,
                                  dx: UnsafeMutablePointer<Float>?, accumulate: Bool,
                                  dw: UnsafeMutablePointer<Float>, first: Bool, _ g: ConvGeometry,
                                  _ n0: Int, _ n1: Int, _ col: UnsafeMutablePointer<Float>,
                                  _ dcol: UnsafeMutablePointer<Float>, _ halves: UnsafeMutablePointer<UInt16>) {
        let cols = (n1 - n0) * g.outPlane, evenCols = (cols + 1) & ~1
        let parts = g.bf16ScratchParts
        let packedColumns = halves + parts.columns, dyRows = halves + parts.dyRows, dyPairs = halves + parts.dyPairs
        for gi in 0..<g.groups {
            let dyG = dy + gi * g.groupOut * g.columns + n0 * g.outPlane
            let (b, ldb) = columnMatrix(x, g, group: gi, n0, n1, col)
            // ∂W_g (+)= ∂Y_g · colᵀ: ∂Y as rows, the columns as the pairs of their transpose.
            bf16_pack_rows(dyG, Int64(g.columns), Int32(g.groupOut), Int32(cols), dyRows, Int64(evenCols))
            bf16_pack_pairs_transposed(b, Int64(ldb), Int32(g.colRows), Int32(cols), packedColumns)
            bf16_gemm(Int32(g.groupOut), Int32(g.colRows), Int32(cols), dyRows, Int64(evenCols), packedColumns,
                      dw + gi * g.groupOut * g.colRows, Int64(g.colRows), first ? 0 : 1)
            guard let dx = dx else { continue }
            // ∂col = W_gᵀ · ∂Y_g (straight into ∂X for a pointwise conv).
            bf16_pack_pairs(dyG, Int64(g.columns), Int32(g.groupOut), Int32(cols), dyPairs)
            let wT = w.transposed + gi * g.colRows * g.evenGroupOut
            if g.isPointwise {
                bf16_gemm(Int32(g.groupIn), Int32(cols), Int32(g.groupOut), wT, Int64(g.evenGroupOut), dyPairs,
                          dx + gi * g.groupIn * g.columns + n0 * g.inPlane, Int64(g.columns), accumulate ? 1 : 0)
            } else {
                bf16_gemm(Int32(g.colRows), Int32(cols), Int32(g.groupOut), wT, Int64(g.evenGroupOut), dyPairs,
                          dcol, Int64(cols), 0)
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
}
