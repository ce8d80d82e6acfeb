// 1×1 stride-2 convs without padding (ResNet's downsample convs) on the sparse kernels, their operand gathered
// from the input tile by tile (sp_spmm_subsampled, sp_spmm_bf16_subsampled, sp_subsampled_backward) instead of
// into im2col columns first; the bf16 backward still takes columns (SparseConvKernels.bf16Backward).

import CSparse

extension SparseConvKernels {
    /// Whether `g` is a 1×1 stride-2 conv without padding, whose operand sp_spmm_subsampled gathers from the input.
    public static func subsamples(_ g: ConvGeometry) -> Bool {
        g.kernelH == 1 && g.kernelW == 1 && g.strideH == 2 && g.strideW == 2 && g.padH == 0 && g.padW == 0
            && g.dilationH == 1 && g.dilationW == 1 && g.groups == 1
    }

    /// The forward: y = conv(x, Ŵ) with the epilogue in the store, fp32 or bf16 products, C in bf16 with `yBF16`.
    static func subsampledForward(x: UnsafePointer<Float>, w: SparseOperand, bias: UnsafePointer<Float>?,
                                  residual: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>, yBF16: Bool,
                                  _ g: ConvGeometry, flags: Int32, bf16: Bool, pool: ThreadPool, scratch: ConvScratch) {
        var a = w.matrix
        var sub = sp_subsample(h: Int64(g.inH), wd: Int64(g.inW), oh: Int64(g.outH), ow: Int64(g.outW))
        withUnsafePointer(to: &a) { m in
            withUnsafePointer(to: &sub) { sub in
                pool.run((m: m, x: x, y: y, sub: sub, chan: g.batch * g.inPlane, rows: Int32(g.inChannels),
                          columns: g.columns, scratch: scratch, bias: bias, residual: residual, flags: flags, bf16: bf16,
                          yBF16: yBF16, threads: pool.threads)) { a, t in
                    let r = SparseConvKernels.columnRange(a.columns, part: t, of: a.threads), pack = a.scratch.perThread(t)
                    guard a.bf16 else {
                        return sp_spmm_subsampled(a.m, a.x, Int64(a.chan), a.rows, a.sub, pack, Int64(r.lowerBound),
                                                  Int64(r.upperBound), a.y, Int64(a.columns), a.flags, a.bias, a.residual)
                    }
                    // bf16 operands: the pack holds bf16 (half its floats), the fp32 tile of a bf16 output after it.
                    let tile = pack + 32 * Int(a.rows)
                    pack.withMemoryRebound(to: UInt16.self, capacity: 64 * Int(a.rows)) { half in
                        let run = { (y: UnsafeMutablePointer<Float>?, y16: UnsafeMutablePointer<UInt16>?) in
                            sp_spmm_bf16_subsampled(a.m, a.x, Int64(a.chan), a.rows, a.sub, half, tile, Int64(r.lowerBound),
                                                    Int64(r.upperBound), y, y16, Int64(a.columns), a.flags, a.bias, a.residual)
                        }
                        guard a.yBF16 else { return run(a.y, nil) }
                        a.y.withMemoryRebound(to: UInt16.self, capacity: Int(a.m.pointee.rows) * a.columns) { run(nil, $0) }
                    }
                }
            }
        }
    }

    /// A 1×1/2 conv's backward in one pass over each column tile (sp_subsampled_backward), columns split among
    /// threads: ∂Y's tile packed, the input's gathered, the SDDMM into the thread's entry sums and ∂X's tile added
    /// into dx where the columns read x (zeroed first unless accumulating); the sums added in thread order.
    static func subsampledBackward(x: UnsafePointer<Float>, w: SparseOperand, dy: UnsafePointer<Float>,
                                   dx: UnsafeMutablePointer<Float>?, accumulate: Bool, dw: UnsafeMutablePointer<Float>?,
                                   _ g: ConvGeometry, pool: ThreadPool, scratch: ConvScratch) {
        var a = w.matrix, t = w.transposed
        let threads = pool.threads, count = w.count
        if dw != nil { scratch.partials.update(repeating: 0, count: threads * count) }
        if let dx, !accumulate {
            pool.parallelRanges(g.inChannels * g.batch * g.inPlane, dx) { dx, r, _ in
                (dx + r.lowerBound).update(repeating: 0, count: r.count)
            }
        }
        var sub = sp_subsample(h: Int64(g.inH), wd: Int64(g.inW), oh: Int64(g.outH), ow: Int64(g.outW))
        withUnsafePointer(to: &a) { m in
            withUnsafePointer(to: &t) { mt in
                withUnsafePointer(to: &sub) { sub in
                    pool.run((m: m, mt: dx == nil ? nil : mt, x: x, dy: dy, dx: dx, sub: sub, g: g, scratch: scratch,
                              count: count, wantsDW: dw != nil, threads: threads)) { a, t in
                        let g = a.g, r = SparseConvKernels.columnRange(g.columns, part: t, of: a.threads)
                        let pack = a.scratch.perThread(t), tile = pack + 64 * (g.outChannels + g.colRows)
                        sp_subsampled_backward(a.m, a.mt, a.dy, Int64(g.columns), Int32(g.outChannels), a.x,
                                               Int64(g.batch * g.inPlane), Int32(g.colRows), a.sub, pack, tile,
                                               Int64(r.lowerBound), Int64(r.upperBound), a.dx,
                                               a.wantsDW ? a.scratch.partials + t * a.count : nil)
                    }
                }
            }
        }
        guard let dw else { return }
        finishKeptGradient(scratch.partials, threads: threads, w, into: dw, g, pool: pool)
    }
}
