// Convolution with a compressed weight (SparseOperand), forward and
// backward, on CNHW activations. Three products with one sparse operand:
//   forward      Y = Ŵ·X                  (SpMM)
//   input grad   ∂X = Ŵᵀ·∂Y               (SpMM with the transposed operand)
//   weight grad  ∂Ŵ = ∂Y·Xᵀ at the kept positions only (SDDMM), for kinds whose
//                gradient rule is kept-only (STR, GMP); dense (GEMM) for DNW.
// Pointwise convs (1×1, stride 1) run on the input itself; k×k convs at
// stride 1 or 2 (3×3/2, 2×2/2, and the 7×7/2 stem where its dense plan has
// fp32 products: ConvPlanner.sparseLayout) on shifted padded planes or their
// phase planes (SparseConvKernels+Shifted.swift, +Phases.swift); 1×1/2 convs
// gather each packed tile from the input (sp_spmm_subsampled; fp32 backward
// too); other shapes on im2col columns, image chunks per thread as the dense
// path does (the columns' row stride is the chunk's width, given to the
// kernels at run time, so one compressed operand serves every chunk). Forward and input-gradient
// products split columns among threads; the weight gradient (SDDMM) sums
// per-thread partials in a fixed order. A pointwise backward with both
// gradients runs them in one pass per column tile (sp_pointwise_backward).
//
// Shapes: x [C, N, H, W], y/dy [O, N, OH, OW], w/dw [O, C, kh, kw] (groups = 1).

import CSparse

public enum SparseConvKernels {
    /// Floats of per-thread scratch (im2col columns and their gradient) and shared scratch
    /// (weight-gradient partials of `capacity` entries) the sparse plan of `g` needs.
    public static func scratch(_ g: ConvGeometry, _ layout: SparseLayout, capacity: Int, threads: Int) -> (perThread: Int, shared: Int) {
        switch layout {
        // Pointwise: the backward packs ∂Y's and X's tiles together, and sums entries per thread.
        case .pointwise: return (64 * (g.colRows + g.outChannels), threads * capacity)
        case .shifted: return (0, ShiftedPlanes(g).scratch(capacity: threads * capacity, threads: threads))
        // (A 1×1/2 conv's fp32 backward packs ∂Y's and the gathered input's tiles, and keeps a tile of ∂X.)
        case .columns:
            let columns = 2 * g.colRows * imagesPerChunk(g, threads: threads) * g.outPlane + packFloats(g)
            return (subsamples(g) ? max(columns, 64 * (g.outChannels + 2 * g.colRows)) : columns, threads * capacity)
        }
    }

    /// Per-thread floats for one packed 64-column tile of the dense operand (its rows: C or K, or O); under bf16
    /// also a 64-column fp32 tile of the output (the sums of a bf16 output before they are rounded).
    static func packFloats(_ g: ConvGeometry) -> Int { 64 * max(g.colRows, g.outChannels) + (g.sparseBF16 ? 64 * g.outChannels : 0) }

    /// Images per im2col chunk: the dense path's cache-sized chunks, but at least 512 columns
    /// (small planes would otherwise end every chunk in a mostly empty 64-column tile), at most
    /// a thread's share of the batch.
    static func imagesPerChunk(_ g: ConvGeometry, threads: Int) -> Int {
        let share = (g.batch + threads - 1) / threads
        return max(1, min(share, max(g.imagesPerChunk(), (512 + g.outPlane - 1) / g.outPlane)))
    }

    /// How the compressed weight of `g` addresses its dense operand when the kernels run it on `layout`.
    public static func addressing(_ g: ConvGeometry, _ layout: SparseLayout) -> SparseAddressing {
        layout == .shifted ? ShiftedPlanes(g).layout : .columns
    }

    /// y = conv(x, Ŵ) + bias + residual (y's shape), then max(·, 0) when `relu` (all in the kernels' store).
    /// `bf16`: the products take bf16 operands with fp32 sums (sp_spmm_bf16: AVX512_BF16, or its portable body).
    /// `yBF16` (with bf16, no residual): y's buffer receives the output rounded to bf16 (UInt16 bits, bf16_round's;
    /// CNHW, `columns` per channel) — for a reader that takes bf16. `xBF16` (with bf16, pointwise or shifted
    /// layouts): x's buffer holds the input already rounded to bf16 (the same layout) — the same bits as the fp32
    /// input it was rounded from, half the bytes read.
    public static func forward(x: UnsafePointer<Float>, xBF16: Bool = false, w: SparseOperand, bias: UnsafePointer<Float>?,
                               residual: UnsafePointer<Float>? = nil, relu: Bool, y: UnsafeMutablePointer<Float>,
                               yBF16: Bool = false, _ g: ConvGeometry, _ layout: SparseLayout, bf16: Bool = false,
                               pool: ThreadPool, scratch: ConvScratch) {
        precondition(!yBF16 || (bf16 && residual == nil), "a bf16 output comes from the bf16 products, without a residual")
        precondition(!xBF16 || (bf16 && layout != .columns), "a bf16 input feeds the bf16 products on packed tiles or planes")
        var a = w.matrix
        // Streamed stores when the output outgrows half the last-level cache (a bf16 one is half the bytes).
        let outputFloats = g.outChannels * g.columns / (yBF16 ? 2 : 1)
        let flags = (relu ? SP_RELU : 0) | (MachineCaches.streams(floats: outputFloats) ? SP_STREAM : 0)
        switch layout {
        case .shifted:
            shiftedForward(x: x, xBF16: xBF16, w: w, bias: bias, residual: residual, relu: relu, y: y, yBF16: yBF16, g,
                           bf16: bf16, pool: pool, scratch: scratch)
        case .pointwise:
            let flags = flags | (xBF16 ? SP_B_BF16 : 0)
            withUnsafePointer(to: &a) { m in
                pool.run((m: m, x: x, y: y, columns: g.columns, rows: Int32(g.inChannels), scratch: scratch, bias: bias,
                              residual: residual, flags: flags, bf16: bf16, yBF16: yBF16, threads: pool.threads)) { a, t in
                    let r = SparseConvKernels.columnRange(a.columns, part: t, of: a.threads)
                    product(a.m, a.x, stride: a.columns, rows: Int32(a.rows), pack: a.scratch.perThread(t), r, a.y,
                            yBF16: a.yBF16, ldc: a.columns, flags: a.flags, bias: a.bias, residual: a.residual, bf16: a.bf16)
                }
            }
        case .columns where subsamples(g):
            subsampledForward(x: x, w: w, bias: bias, residual: residual, y: y, yBF16: yBF16, g, flags: flags, bf16: bf16,
                              pool: pool, scratch: scratch)
        case .columns:
            withUnsafePointer(to: &a) { m in
                let perChunk = SparseConvKernels.imagesPerChunk(g, threads: pool.threads)
                pool.parallelRanges(g.batch, (m: m, x: x, y: y, g: g, scratch: scratch, perChunk: perChunk, bias: bias,
                                                  residual: residual, flags: flags, bf16: bf16, yBF16: yBF16)) { a, images, t in
                    let col = a.scratch.perThread(t)
                    var n0 = images.lowerBound
                    while n0 < images.upperBound {
                        let n1 = min(images.upperBound, n0 + a.perChunk), cols = (n1 - n0) * a.g.outPlane
                        Im2col.im2col(a.x, a.g, channel: 0, images: n0, n1, col)
                        product(a.m, col, stride: cols, rows: Int32(a.g.colRows), pack: col + 2 * a.g.colRows * a.perChunk * a.g.outPlane,
                                0..<cols, a.y, at: n0 * a.g.outPlane, yBF16: a.yBF16, ldc: a.g.columns, flags: a.flags,
                                bias: a.bias, residual: a.residual.map { $0 + n0 * a.g.outPlane }, bf16: a.bf16)
                        n0 = n1
                    }
                }
            }
        }
    }

    /// One thread's SpMM over columns `q` of a packed dense operand into C from its element `at`, in fp32 or
    /// with bf16 operands (the pack then holds bf16: half the floats) — and then C in bf16 when `yBF16`
    /// (sp_spmm_bf16_to_bf16: its fp32 tile after the pack).
    @inline(__always)
    static func product(_ m: UnsafePointer<sp_matrix>, _ b: UnsafePointer<Float>, stride: Int, rows: Int32,
                        pack: UnsafeMutablePointer<Float>, _ q: Range<Int>, _ y: UnsafeMutablePointer<Float>, at: Int = 0,
                        yBF16: Bool = false, ldc: Int, flags: Int32, bias: UnsafePointer<Float>?,
                        residual: UnsafePointer<Float>?, bf16: Bool) {
        if yBF16 {
            let tile = pack + 32 * Int(rows)
            y.withMemoryRebound(to: UInt16.self, capacity: at + Int(m.pointee.rows) * ldc) { c in
                pack.withMemoryRebound(to: UInt16.self, capacity: 64 * Int(rows)) { half in
                    sp_spmm_bf16_to_bf16(m, b, Int64(stride), rows, half, tile, Int64(q.lowerBound), Int64(q.upperBound),
                                         c + at, Int64(ldc), flags, bias)
                }
            }
            return
        }
        let c = y + at
        if bf16 {
            pack.withMemoryRebound(to: UInt16.self, capacity: 64 * Int(rows)) { half in
                sp_spmm_bf16(m, b, Int64(stride), rows, half, Int64(q.lowerBound), Int64(q.upperBound), c, Int64(ldc), flags,
                             bias, residual)
            }
        } else {
            sp_spmm(m, b, Int64(stride), rows, pack, Int64(q.lowerBound), Int64(q.upperBound), c, Int64(ldc), flags, bias, residual)
        }
    }

    /// ∂X (overwritten, or added to when `accumulate`) when dx is non-nil; ∂Ŵ into `dw` — at the kept
    /// positions only (zeros elsewhere) when `keptOnly`, else dense; ∂bias when dbias is non-nil. `bf16`:
    /// the sparse products (∂X's and the kept-only ∂Ŵ's) take bf16 operands with fp32 sums. `dyBF16`: dy's
    /// buffer holds ∂Y already rounded to bf16 (UInt16 bits, bf16_round's; CNHW, `columns` per channel) —
    /// read in place, the same bits as the fp32 ∂Y it was rounded from (bf16 kept-only products, no ∂bias).
    /// `xBF16`: x in bf16, as for `forward` (bf16 kept-only products, pointwise or shifted layouts).
    public static func backward(x: UnsafePointer<Float>, xBF16: Bool = false, w: SparseOperand, dy: UnsafePointer<Float>,
                                dyBF16: Bool = false, dx: UnsafeMutablePointer<Float>?, accumulate: Bool,
                                dw: UnsafeMutablePointer<Float>, keptOnly: Bool, denseWeight: UnsafePointer<Float>,
                                dbias: UnsafeMutablePointer<Float>?, _ g: ConvGeometry, _ layout: SparseLayout,
                                bf16: Bool = false, pool: ThreadPool, scratch: ConvScratch) {
        precondition(!dyBF16 || (bf16 && keptOnly && dbias == nil), "a bf16 ∂Y feeds only the bf16 kept-only products")
        precondition(!xBF16 || (bf16 && keptOnly && layout != .columns),
                     "a bf16 input feeds only the bf16 kept-only products on packed tiles or planes")
        if !keptOnly {
            // Straight-through (DNW): the dense weight gradient, the dense path's own GEMMs.
            ConvKernels.backward(x: x, w: denseWeight, dy: dy, dx: nil, accumulate: false, dw: dw, dbias: nil, g,
                                 pool: pool, scratch: scratch)
        }
        switch (layout, bf16) {
        case (.shifted, _):
            shiftedBackward(x: x, xBF16: xBF16, w: w, dy: dy, dyBF16: dyBF16, dx: dx, accumulate: accumulate,
                            dw: keptOnly ? dw : nil, g, bf16: bf16, pool: pool, scratch: scratch)
        case (.pointwise, false):
            pointwiseBackward(x: x, w: w, dy: dy, dx: dx, accumulate: accumulate, dw: keptOnly ? dw : nil, g, pool: pool,
                              scratch: scratch)
        case (.columns, false) where subsamples(g):
            subsampledBackward(x: x, w: w, dy: dy, dx: dx, accumulate: accumulate, dw: keptOnly ? dw : nil, g, pool: pool,
                               scratch: scratch)
        case (.columns, false):
            im2colBackward(x: x, w: w, dy: dy, dx: dx, accumulate: accumulate, dw: keptOnly ? dw : nil, g, pool: pool,
                           scratch: scratch)
        case (.pointwise, true), (.columns, true):
            bf16Backward(x: x, xBF16: xBF16, w: w, dy: dy, dyBF16: dyBF16, dx: dx, accumulate: accumulate,
                         dw: keptOnly ? dw : nil, g, layout, pool: pool, scratch: scratch)
        }
        if let dbias {
            pool.parallelRanges(g.outChannels, (dy: dy, db: dbias, columns: g.columns)) { a, range, _ in
                for o in range { a.db[o] = Vec.sum(a.dy + o * a.columns, a.columns) }
            }
        }
    }

    /// Element `i` of ∂Y's buffer: fp32, or bf16 (`dyBF16`).
    @inline(__always) static func element(_ dy: UnsafePointer<Float>, _ i: Int, bf16: Bool) -> UnsafeRawPointer {
        UnsafeRawPointer(dy) + i * (bf16 ? MemoryLayout<UInt16>.size : MemoryLayout<Float>.size)
    }

    /// SP_STREAM when ∂X (the input's shape) outgrows half the last-level cache (MachineCaches.streams).
    private static func dxStoreFlags(_ g: ConvGeometry) -> Int32 {
        MachineCaches.streams(floats: g.inChannels * g.batch * g.inPlane) ? SP_STREAM : 0
    }

    private static func pointwiseBackward(x: UnsafePointer<Float>, w: SparseOperand, dy: UnsafePointer<Float>,
                                          dx: UnsafeMutablePointer<Float>?, accumulate: Bool,
                                          dw: UnsafeMutablePointer<Float>?, _ g: ConvGeometry, pool: ThreadPool,
                                          scratch: ConvScratch) {
        var a = w.matrix
        let threads = pool.threads
        if let dx, let dw {
            fusedPointwiseBackward(x: x, w: w, dy: dy, dx: dx, accumulate: accumulate, dw: dw, g, pool: pool, scratch: scratch)
            return
        }
        if let dx {
            var t = w.transposed
            let flags = (accumulate ? SP_ACCUMULATE : 0) | dxStoreFlags(g)
            withUnsafePointer(to: &t) { m in
                pool.run((m: m, dy: dy, dx: dx, columns: g.columns, flags: flags, rows: Int32(g.outChannels),
                              scratch: scratch, threads: threads)) { a, t in
                    let r = SparseConvKernels.columnRange(a.columns, part: t, of: a.threads)
                    sp_spmm(a.m, a.dy, Int64(a.columns), a.rows, a.scratch.perThread(t), Int64(r.lowerBound),
                            Int64(r.upperBound), a.dx, Int64(a.columns), a.flags, nil, nil)
                }
            }
        }
        guard let dw else { return }
        let sums = scratch.partials
        sums.update(repeating: 0, count: w.count)
        withUnsafePointer(to: &a) { m in
            pool.run((m: m, x: x, dy: dy, sums: sums, columns: g.columns, rows: Int32(g.inChannels), scratch: scratch,
                          threads: threads)) { a, t in
                let r = SparseConvKernels.rowRange(a.m, part: t, of: a.threads)
                sp_sddmm(a.m, a.dy, Int64(a.columns), a.x, Int64(a.columns), a.rows, a.scratch.perThread(t), 0,
                         Int64(a.columns), Int32(r.lowerBound), Int32(r.upperBound), a.sums)
            }
        }
        scatter(sums, w, into: dw, g)
    }

    private static func im2colBackward(x: UnsafePointer<Float>, w: SparseOperand, dy: UnsafePointer<Float>,
                                       dx: UnsafeMutablePointer<Float>?, accumulate: Bool,
                                       dw: UnsafeMutablePointer<Float>?, _ g: ConvGeometry, pool: ThreadPool,
                                       scratch: ConvScratch) {
        var a = w.matrix, t = w.transposed
        let threads = pool.threads, count = w.count
        if dw != nil { scratch.partials.update(repeating: 0, count: threads * count) }
        withUnsafePointer(to: &a) { m in
            withUnsafePointer(to: &t) { mt in
                let args = (m: m, mt: mt, x: x, dy: dy, dx: dx, acc: accumulate, wantsDW: dw != nil, g: g,
                            scratch: scratch, count: count, threads: threads)
                pool.run(args) { a, t in
                    let g = a.g, perChunk = SparseConvKernels.imagesPerChunk(g, threads: a.threads)
                    let images = ThreadPool.split(g.batch, parts: a.threads, index: t)
                    let col = a.scratch.perThread(t), dcol = col + g.colRows * perChunk * g.outPlane
                    let sums = a.scratch.partials + t * a.count
                    var n0 = images.lowerBound
                    while n0 < images.upperBound {
                        let n1 = min(images.upperBound, n0 + perChunk), cols = (n1 - n0) * g.outPlane
                        let dyChunk = a.dy + n0 * g.outPlane
                        if a.wantsDW {
                            Im2col.im2col(a.x, g, channel: 0, images: n0, n1, col)
                            sp_sddmm(a.m, dyChunk, Int64(g.columns), col, Int64(cols), Int32(g.colRows),
                                     col + 2 * g.colRows * perChunk * g.outPlane, 0, Int64(cols), 0, a.m.pointee.rows, sums)
                        }
                        if let dx = a.dx {
                            sp_spmm(a.mt, dyChunk, Int64(g.columns), Int32(g.outChannels),
                                    col + 2 * g.colRows * perChunk * g.outPlane, 0, Int64(cols), dcol, Int64(cols), 0, nil, nil)
                            SparseConvKernels.inputGradient(from: dcol, into: dx, accumulate: a.acc, g, images: n0..<n1)
                        }
                        n0 = n1
                    }
                }
            }
        }
        guard let dw else { return }
        finishKeptGradient(scratch.partials, threads: threads, w, into: dw, g, pool: pool)
    }

    /// The bf16 backward of a pointwise conv (columns split among threads) or of im2col chunks (images split):
    /// per 64-column tile, ∂Y's tile and (for ∂Ŵ) the input's rounded together, then the SDDMM into the
    /// thread's entry sums and the transposed SpMM (sp_backward_bf16); the sums added in thread order. A bf16
    /// ∂Y (`dyBF16`) is read in place instead of rounded into the pack; a bf16 x (`xBF16`, pointwise) copied into it.
    private static func bf16Backward(x: UnsafePointer<Float>, xBF16: Bool, w: SparseOperand, dy: UnsafePointer<Float>,
                                     dyBF16: Bool,
                                     dx: UnsafeMutablePointer<Float>?, accumulate: Bool, dw: UnsafeMutablePointer<Float>?,
                                     _ g: ConvGeometry, _ layout: SparseLayout, pool: ThreadPool, scratch: ConvScratch) {
        var a = w.matrix, t = w.transposed
        let threads = pool.threads, count = w.count
        if dw != nil { scratch.partials.update(repeating: 0, count: threads * count) }
        let dyFlags = dyBF16 ? SP_D_BF16 : 0
        withUnsafePointer(to: &a) { m in
            withUnsafePointer(to: &t) { mt in
                let args = (m: m, mt: dx == nil ? nil : mt, x: x, dy: dy, dyBF16: dyBF16, dx: dx, acc: accumulate,
                            wantsDW: dw != nil, g: g, layout: layout, scratch: scratch, count: count, threads: threads,
                            dyFlags: dyFlags,
                            flags: (accumulate ? SP_ACCUMULATE : 0) | dxStoreFlags(g) | dyFlags | (xBF16 ? SP_B_BF16 : 0))
                pool.run(args) { a, t in
                    let g = a.g, sums = a.wantsDW ? a.scratch.partials + t * a.count : nil
                    if a.layout == .pointwise {
                        let r = SparseConvKernels.columnRange(g.columns, part: t, of: a.threads)
                        a.scratch.perThread(t).withMemoryRebound(to: UInt16.self, capacity: 64 * (g.inChannels + g.outChannels)) {
                            sp_backward_bf16(a.m, a.mt, a.dy, Int64(g.columns), Int32(g.outChannels), a.x, Int64(g.columns),
                                             Int32(g.inChannels), $0, Int64(r.lowerBound), Int64(r.upperBound), a.dx,
                                             Int64(g.columns), a.flags, sums)
                        }
                        return
                    }
                    let perChunk = SparseConvKernels.imagesPerChunk(g, threads: a.threads)
                    let images = ThreadPool.split(g.batch, parts: a.threads, index: t)
                    let col = a.scratch.perThread(t), dcol = col + g.colRows * perChunk * g.outPlane
                    let pack = col + 2 * g.colRows * perChunk * g.outPlane
                    var n0 = images.lowerBound
                    while n0 < images.upperBound {
                        let n1 = min(images.upperBound, n0 + perChunk), cols = (n1 - n0) * g.outPlane
                        if a.wantsDW { Im2col.im2col(a.x, g, channel: 0, images: n0, n1, col) }
                        pack.withMemoryRebound(to: UInt16.self, capacity: 64 * (g.colRows + g.outChannels)) {
                            sp_backward_bf16(a.m, a.mt, SparseConvKernels.element(a.dy, n0 * g.outPlane, bf16: a.dyBF16),
                                             Int64(g.columns), Int32(g.outChannels), col, Int64(cols), Int32(g.colRows), $0, 0,
                                             Int64(cols), dcol, Int64(cols), a.dyFlags, sums)
                        }
                        if let dx = a.dx { SparseConvKernels.inputGradient(from: dcol, into: dx, accumulate: a.acc, g, images: n0..<n1) }
                        n0 = n1
                    }
                }
            }
        }
        guard let dw else { return }
        finishKeptGradient(scratch.partials, threads: threads, w, into: dw, g, pool: pool)
    }

    /// Both gradients of a pointwise conv in one pass over each column tile; each thread its columns and
    /// its own entry sums, added in thread order.
    private static func fusedPointwiseBackward(x: UnsafePointer<Float>, w: SparseOperand, dy: UnsafePointer<Float>,
                                               dx: UnsafeMutablePointer<Float>, accumulate: Bool,
                                               dw: UnsafeMutablePointer<Float>, _ g: ConvGeometry, pool: ThreadPool,
                                               scratch: ConvScratch) {
        var a = w.matrix, t = w.transposed
        let threads = pool.threads, count = w.count
        scratch.partials.update(repeating: 0, count: threads * count)
        let flags = (accumulate ? SP_ACCUMULATE : 0) | dxStoreFlags(g)
        withUnsafePointer(to: &a) { m in
            withUnsafePointer(to: &t) { mt in
                pool.run((m: m, mt: mt, x: x, dy: dy, dx: dx, flags: flags, columns: g.columns,
                              o: Int32(g.outChannels), c: Int32(g.inChannels), scratch: scratch, count: count,
                              threads: threads)) { a, t in
                    let r = SparseConvKernels.columnRange(a.columns, part: t, of: a.threads)
                    sp_pointwise_backward(a.m, a.mt, a.dy, Int64(a.columns), a.o, a.x, Int64(a.columns), a.c,
                                          a.scratch.perThread(t), Int64(r.lowerBound), Int64(r.upperBound), a.dx,
                                          Int64(a.columns), a.flags, a.scratch.partials + t * a.count)
                }
            }
        }
        finishKeptGradient(scratch.partials, threads: threads, w, into: dw, g, pool: pool)
    }

    /// ∂X of images `images` from their im2col columns' gradient: zeroed first unless accumulating, then col2im.
    @inline(__always)
    static func inputGradient(from dcol: UnsafeMutablePointer<Float>, into dx: UnsafeMutablePointer<Float>, accumulate: Bool,
                              _ g: ConvGeometry, images: Range<Int>) {
        if !accumulate {
            for c in 0..<g.inChannels {
                (dx + (c * g.batch + images.lowerBound) * g.inPlane).update(repeating: 0, count: images.count * g.inPlane)
            }
        }
        Im2col.col2im(dcol, g, channel: 0, images: images.lowerBound, images.upperBound, dx)
    }

    /// The threads' entry sums (`threads` runs of w.count from `partials`) added in thread order, then
    /// scattered into dw.
    static func finishKeptGradient(_ partials: UnsafeMutablePointer<Float>, threads: Int, _ w: SparseOperand,
                                   into dw: UnsafeMutablePointer<Float>, _ g: ConvGeometry, pool: ThreadPool) {
        if threads > 1 { ConvKernels.reducePartials(partials, partials + w.count, w.count, pool) }
        scatter(partials, w, into: dw, g)
    }

    /// dw = 0, then each entry's sum at its dense position.
    static func scatter(_ sums: UnsafePointer<Float>, _ w: SparseOperand, into dw: UnsafeMutablePointer<Float>,
                                _ g: ConvGeometry) {
        dw.update(repeating: 0, count: g.weightCount)
        sp_scatter(w.entryIndex, sums, 0, Int64(w.count), dw)
    }

    /// Thread t's share of `columns`, cut at multiples of the kernels' 64-column tile.
    @inline(__always) static func columnRange(_ columns: Int, part t: Int, of parts: Int) -> Range<Int> {
        let tiles = (columns + 63) / 64
        let r = ThreadPool.split(tiles, parts: parts, index: t)
        return min(columns, r.lowerBound * 64)..<min(columns, r.upperBound * 64)
    }

    /// Thread t's rows, cut so that each thread gets about the same number of entries.
    @inline(__always) static func rowRange(_ m: UnsafePointer<sp_matrix>, part t: Int, of parts: Int) -> Range<Int> {
        let rows = Int(m.pointee.rows), blocks = Int(m.pointee.blocks)
        let total = Int(m.pointee.start[blocks * (rows + 1) - 1])
        func entries(before i: Int) -> Int {
            var n = 0
            for b in 0..<blocks { n += Int(m.pointee.start[b * (rows + 1) + i] - m.pointee.start[b * (rows + 1)]) }
            return n
        }
        func cut(_ p: Int) -> Int {
            if p == 0 { return 0 }
            if p == parts { return rows }
            let target = total * p / parts
            var lo = 0, hi = rows
            while lo < hi { let mid = (lo + hi) / 2; if entries(before: mid) < target { lo = mid + 1 } else { hi = mid } }
            return lo
        }
        return cut(t)..<cut(t + 1)
    }
}
