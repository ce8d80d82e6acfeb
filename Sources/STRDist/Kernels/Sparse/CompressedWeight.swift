// A conv weight [O, K] (K = C·kh·kw) compressed for the sparse kernels, in
// planned memory, rebuilt from the effective weight whenever it changes (every
// training step): the forward operand (rows = output channels, entries in
// blocks of 128 columns of K, offset = the im2col row k) and, for training, its
// transpose (rows = k, entries in blocks of 128 output channels, offset = o),
// which the input gradient ∂X = Ŵᵀ·∂Y runs on. `index` maps each forward
// entry to its place o·K + k in the dense weight (for the weight gradient).
// Integer arrays live in the float workspace as 32-bit patterns.

import CSparse

public final class CompressedWeight {
    public let rows: Int, cols: Int
    /// Entries the planned memory holds; a denser weight is not compressed (the dense plan runs).
    public private(set) var capacity = 0
    public static let blockCols = 128
    public let blocks: Int, transposedBlocks: Int
    private var start = 0, offset = 0, index = 0, value = 0
    private var tStart = 0, tOffset = 0, tValue = 0, transposes = false
    /// Entries of the last build.
    public private(set) var count = 0
    /// The im2col row of each column (identity), and the transposed operand's row and shift per column.
    private let identity: [Int32], zeros: [Int32]

    public init(rows: Int, cols: Int) {
        precondition(rows * cols < Int(Int32.max), "a \(rows)×\(cols) weight is too large to compress (2^31 entries)")
        self.rows = rows; self.cols = cols
        blocks = (cols + Self.blockCols - 1) / Self.blockCols
        transposedBlocks = (rows + Self.blockCols - 1) / Self.blockCols
        identity = (0..<cols).map(Int32.init)
        zeros = [Int32](repeating: 0, count: cols)
    }

    /// Reserves room for `capacity` entries (and the transpose when training needs input gradients).
    public func plan(_ planner: WorkspacePlanner, capacity: Int, transposed: Bool) {
        self.capacity = capacity
        start = planner.region(blocks * (rows + 1))
        offset = planner.region(capacity); index = planner.region(capacity); value = planner.region(capacity)
        transposes = transposed
        if transposed {
            tStart = planner.region(transposedBlocks * (cols + 1))
            tOffset = planner.region(capacity); tValue = planner.region(capacity)
        }
    }

    @inline(__always) private func ints(_ ctx: StepContext, _ region: Int) -> UnsafeMutablePointer<Int32> {
        UnsafeMutableRawPointer(ctx.region(region)).assumingMemoryBound(to: Int32.self)
    }

    /// The forward operand of the last build.
    @inline(__always) public func matrix(_ ctx: StepContext) -> sp_matrix {
        sp_matrix(rows: Int32(rows), blocks: Int32(blocks), start: UnsafePointer(ints(ctx, start)),
                  offset: UnsafePointer(ints(ctx, offset)), value: UnsafePointer(ctx.region(value)))
    }

    /// The transposed operand of the last build.
    @inline(__always) public func transposed(_ ctx: StepContext) -> sp_matrix {
        sp_matrix(rows: Int32(cols), blocks: Int32(transposedBlocks), start: UnsafePointer(ints(ctx, tStart)),
                  offset: UnsafePointer(ints(ctx, tOffset)), value: UnsafePointer(ctx.region(tValue)))
    }

    /// Dense position o·K + k of each forward entry.
    @inline(__always) public func entryIndex(_ ctx: StepContext) -> UnsafeMutablePointer<Int32> { ints(ctx, index) }

    /// Counts the kept entries of `w` (kept: mask ≠ 0, or w ≠ 0 without a mask).
    public func countKept(_ w: UnsafePointer<Float>, mask: UnsafePointer<Float>?, _ ctx: StepContext) -> Int {
        let s = ints(ctx, start)
        ctx.pool.parallelRanges(rows, (w: w, mask: mask, rows: Int32(rows), cols: Int32(cols), s: s)) { a, r, _ in
            sp_count(a.w, a.mask, a.rows, a.cols, Int32(CompressedWeight.blockCols), Int32(r.lowerBound),
                     Int32(r.upperBound), a.s)
        }
        count = Int(sp_prefix(Int32(rows), Int32(blocks), s))
        return count
    }

    /// Fills the entries counted by `countKept` (count ≤ capacity), then the transpose when planned.
    public func fill(_ w: UnsafePointer<Float>, mask: UnsafePointer<Float>?, _ ctx: StepContext) {
        precondition(count <= capacity, "\(count) entries exceed the planned \(capacity)")
        identity.withUnsafeBufferPointer { table in
            let args = (w: w, mask: mask, rows: Int32(rows), cols: Int32(cols), table: table.baseAddress!,
                        s: UnsafePointer(ints(ctx, start)), o: ints(ctx, offset), i: ints(ctx, index), v: ctx.region(value))
            ctx.pool.parallelRanges(rows, args) { a, r, _ in
                sp_fill(a.w, a.mask, a.rows, a.cols, Int32(CompressedWeight.blockCols), a.table, Int32(r.lowerBound),
                        Int32(r.upperBound), a.s, a.o, a.i, a.v)
            }
        }
        guard transposes else { return }
        var m = matrix(ctx)
        identity.withUnsafeBufferPointer { trow in
            zeros.withUnsafeBufferPointer { shift in
                _ = sp_transpose(&m, UnsafePointer(ints(ctx, index)), Int32(cols), trow.baseAddress!, shift.baseAddress!,
                                 1, Int32(cols), Int32(Self.blockCols), ints(ctx, tStart), ints(ctx, tOffset),
                                 ctx.region(tValue))
            }
        }
    }

    /// Floats of planned memory for `capacity` entries (for the planner's budget).
    public static func floats(rows: Int, cols: Int, capacity: Int, transposed: Bool) -> Int {
        let blocks = (cols + blockCols - 1) / blockCols, tBlocks = (rows + blockCols - 1) / blockCols
        return blocks * (rows + 1) + 3 * capacity + (transposed ? tBlocks * (cols + 1) + 2 * capacity : 0)
    }
}
