// A conv weight [O, K] (K = C·kh·kw) compressed for the sparse kernels, in
// planned memory, rebuilt from the effective weight whenever it changes (every
// training step): the forward operand (rows = output channels, entries in
// blocks of columns of K) and, for training, its transpose (entries in blocks
// of output channels), which the input gradient ∂X = Ŵᵀ·∂Y runs on. A block
// spans 128·2^j columns, chosen at each build from the weight's density
// (`blockSpan`): a kernel reloads every output row once per block, so sparser
// weights want fewer, wider blocks; denser ones narrow blocks whose dense rows
// stay in L1. The products do not depend on the blocks' span (each row sums
// its entries in column order either way) except for the order in which a
// shifted transpose's row meets its taps, which the density fixes.
// Where an entry's dense operand row starts depends on the layout (Layout):
// im2col columns (forward: row k; transpose: row k of ∂col reads ∂Y row o), or
// shifted planes (forward: channel c's padded plane — at stride 2 the tap's
// phase plane of it — shifted by the tap; transpose: that plane's row reads ∂Y
// row o shifted back). `index` maps each
// forward entry to its place o·K + k in the dense weight (for the weight
// gradient). Integer arrays live in Int32 regions of the workspace; the
// counting, filling and transposing are CSparse's kernels (sp_count, sp_fill,
// sp_transpose), and `operand` hands the result to the sparse conv kernels.

import CSparse

public final class CompressedWeight {
    public let rows: Int, cols: Int
    /// Entries the planned memory holds; a denser weight is not compressed (the dense plan runs).
    public private(set) var capacity = 0
    /// The narrowest block, the one `countKept` counts in; blocks of a build merge whole ones.
    public static let baseBlockCols = 128
    /// The widest block.
    public static let maxBlockCols = 1024
    /// About this many entries per row and block make a block worth its reload of the output rows.
    static let entriesPerBlockRow = 16.0
    /// Blocks of `baseBlockCols` (what the planned memory holds).
    private let baseBlocks: Int, baseTransposedBlocks: Int
    /// Columns per block and blocks of the last build (forward and transpose).
    public private(set) var blockCols = baseBlockCols, transposedBlockRows = baseBlockCols
    public private(set) var blocks: Int, transposedBlocks: Int
    private var start = WorkspaceRegion<Int32>.none, offset = WorkspaceRegion<Int32>.none, index = WorkspaceRegion<Int32>.none
    private var value = WorkspaceRegion<Float>.none
    private var tStart = WorkspaceRegion<Int32>.none, tOffset = WorkspaceRegion<Int32>.none, tValue = WorkspaceRegion<Float>.none
    private var transposes = false
    /// Entries of the last build.
    public private(set) var count = 0
    /// How the build maps a weight column to the dense operand (SparseAddressing).
    public typealias Layout = SparseAddressing

    public let layout: Layout
    /// Per column k: the forward entries' offset, the transposed row and shift; the transpose's stride in o.
    private let columnOffset: [Int32], transposedRow: [Int32], transposedShift: [Int32]
    private let transposedStride: Int32, transposedRows: Int

    /// Whether a weight of this size and layout fits the 32-bit offsets (a layer that does not stays dense).
    public static func fits(rows: Int, cols: Int, layout: Layout) -> Bool {
        let (entries, overflow) = rows.multipliedReportingOverflow(by: cols)
        guard !overflow, entries < Int(Int32.max) else { return false }
        if case .shifted(let channels, _, let stride, _, let planes, let gradRows, _) = layout {
            let (a, o1) = (channels * stride * stride).multipliedReportingOverflow(by: planes)
            let (b, o2) = rows.multipliedReportingOverflow(by: gradRows)
            return !o1 && !o2 && max(a, b) < Int(Int32.max)
        }
        return true
    }

    public init(rows: Int, cols: Int, layout: Layout = .columns) {
        precondition(rows * cols < Int(Int32.max), "a \(rows)×\(cols) weight is too large to compress (2^31 entries)")
        self.rows = rows; self.cols = cols; self.layout = layout
        baseBlocks = (cols + Self.baseBlockCols - 1) / Self.baseBlockCols
        baseTransposedBlocks = (rows + Self.baseBlockCols - 1) / Self.baseBlockCols
        blocks = baseBlocks; transposedBlocks = baseTransposedBlocks
        switch layout {
        case .columns:
            columnOffset = (0..<cols).map { Int32($0) }
            transposedRow = columnOffset
            transposedShift = [Int32](repeating: 0, count: cols)
            transposedStride = 1; transposedRows = cols
        case .shifted(let channels, let k, let s, let rowLength, let planes, let gradRows, let margin):
            precondition(channels * k * k == cols, "a shifted layout needs K = C·k·k")
            precondition(max(channels * s * s * planes, rows * gradRows) < Int(Int32.max), "planes too large for 32-bit offsets")
            // Column (c, a, b): the tap's plane (channel c's phase (a mod s, b mod s)) and its shift in it.
            let plane = (0..<cols).map { $0 / (k * k) * s * s + ($0 % (k * k)) / k % s * s + $0 % k % s }
            let tap = (0..<cols).map { ($0 % (k * k)) / k / s * rowLength + $0 % k / s }
            columnOffset = (0..<cols).map { Int32(plane[$0] * planes + tap[$0]) }
            transposedRow = plane.map { Int32($0) }
            transposedShift = (0..<cols).map { Int32(margin - tap[$0]) }
            transposedStride = Int32(gradRows); transposedRows = channels * s * s
        }
    }

    /// Reserves room for `capacity` entries (and the transpose when training needs input gradients).
    public func plan(_ planner: WorkspacePlanner, capacity: Int, transposed: Bool) {
        self.capacity = capacity
        start = planner.intRegion(baseBlocks * (rows + 1))
        offset = planner.intRegion(capacity); index = planner.intRegion(capacity); value = planner.region(capacity)
        transposes = transposed
        if transposed {
            tStart = planner.intRegion(baseTransposedBlocks * (transposedRows + 1))
            tOffset = planner.intRegion(capacity); tValue = planner.region(capacity)
        }
    }

    /// The forward operand of the last build.
    @inline(__always) public func matrix(_ ctx: StepContext) -> sp_matrix {
        sp_matrix(rows: Int32(rows), blocks: Int32(blocks), start: UnsafePointer(ctx.region(start)),
                  offset: UnsafePointer(ctx.region(offset)), value: UnsafePointer(ctx.region(value)))
    }

    /// The transposed operand of the last build.
    @inline(__always) public func transposed(_ ctx: StepContext) -> sp_matrix {
        sp_matrix(rows: Int32(transposedRows), blocks: Int32(transposedBlocks), start: UnsafePointer(ctx.region(tStart)),
                  offset: UnsafePointer(ctx.region(tOffset)), value: UnsafePointer(ctx.region(tValue)))
    }

    /// The last build as the sparse kernels take it.
    public func operand(_ ctx: StepContext) -> SparseOperand {
        SparseOperand(matrix: matrix(ctx), transposed: transposes ? transposed(ctx) : sp_matrix(), entryIndex: entryIndex(ctx),
                      count: count, capacity: capacity)
    }

    /// Dense position o·K + k of each forward entry.
    @inline(__always) public func entryIndex(_ ctx: StepContext) -> UnsafeMutablePointer<Int32> { ctx.region(index) }

    /// Multiplies each forward entry by its row's `scale` (the transpose is left as it was).
    public func scaleRows(_ scale: UnsafePointer<Float>, _ ctx: StepContext) {
        let idx = UnsafePointer(ctx.region(index)), v = ctx.region(value), k = Int32(cols)
        for e in 0..<count { v[e] *= scale[Int(idx[e] / k)] }
    }

    /// The span of a block (a multiple of `baseBlockCols` by a power of two, at most `maxBlockCols`) for
    /// `entries` over `rows` rows of `span` columns: the narrowest with `entriesPerBlockRow` entries
    /// per row and block on average, and one block where two would leave the second less than full.
    public static func blockSpan(entries: Int, rows: Int, span: Int) -> Int {
        let perColumn = Double(entries) / Double(max(1, rows * span))
        var b = baseBlockCols
        while b < maxBlockCols && b < span && (perColumn * Double(b) < entriesPerBlockRow || span < 2 * b) { b *= 2 }
        return b
    }

    /// Counts the kept entries of `w`: mask ≠ 0, or without a mask |w| > threshold (0: w ≠ 0; STR's
    /// threshold g compresses its stored weight directly, entries sign(w)·(|w| − g)); chooses the
    /// blocks for this density.
    public func countKept(_ w: UnsafePointer<Float>, mask: UnsafePointer<Float>?, threshold: Float = 0,
                          _ ctx: StepContext) -> Int {
        let s = ctx.region(start)
        ctx.pool.parallelRanges(rows, (w: w, mask: mask, t: threshold, rows: Int32(rows), cols: Int32(cols), s: s)) { a, r, _ in
            sp_count(a.w, a.mask, a.t, a.rows, a.cols, Int32(CompressedWeight.baseBlockCols), Int32(r.lowerBound),
                     Int32(r.upperBound), a.s)
        }
        let kept = Int(sp_counted(Int32(rows), Int32(baseBlocks), s))
        blockCols = Self.blockSpan(entries: kept, rows: rows, span: cols)
        blocks = Int(sp_merge_blocks(Int32(rows), Int32(baseBlocks), Int32(blockCols / Self.baseBlockCols), s))
        transposedBlockRows = Self.blockSpan(entries: kept, rows: transposedRows, span: rows)
        transposedBlocks = (rows + transposedBlockRows - 1) / transposedBlockRows
        count = Int(sp_prefix(Int32(rows), Int32(blocks), s))
        return count
    }

    /// Fills the entries counted by `countKept` (same `w`, mask and threshold; count ≤ capacity), then the
    /// transpose when planned.
    public func fill(_ w: UnsafePointer<Float>, mask: UnsafePointer<Float>?, threshold: Float = 0, _ ctx: StepContext) {
        precondition(count <= capacity, "\(count) entries exceed the planned \(capacity)")
        columnOffset.withUnsafeBufferPointer { table in
            let args = (w: w, mask: mask, t: threshold, rows: Int32(rows), cols: Int32(cols), table: table.baseAddress!,
                        s: UnsafePointer(ctx.region(start)), o: ctx.region(offset), i: ctx.region(index), v: ctx.region(value),
                        blockCols: Int32(blockCols))
            ctx.pool.parallelRanges(rows, args) { a, r, _ in
                sp_fill(a.w, a.mask, a.t, a.rows, a.cols, a.blockCols, a.table, Int32(r.lowerBound),
                        Int32(r.upperBound), a.s, a.o, a.i, a.v)
            }
        }
        guard transposes else { return }
        var m = matrix(ctx)
        transposedRow.withUnsafeBufferPointer { trow in
            transposedShift.withUnsafeBufferPointer { shift in
                _ = sp_transpose(&m, UnsafePointer(ctx.region(index)), Int32(cols), trow.baseAddress!, shift.baseAddress!,
                                 transposedStride, Int32(transposedRows), Int32(transposedBlockRows), ctx.region(tStart),
                                 ctx.region(tOffset), ctx.region(tValue))
            }
        }
    }

}
