// Stride-1 k×k convs on shifted planes instead of im2col columns: the input
// is copied once into zero-padded planes (Hp = H + 2p, Wp = W + 2p), where tap
// (a, b) of every output position q = n·Hp·Wp + h·Wp + w is the one input
// element at q + a·Wp + b, so each kept weight reads one contiguous run — a
// k²-times smaller copy than im2col's. The products run over the padded
// positions (those with w ≥ OW or h ≥ OH are junk) and store the others
// straight into y (sp_spmm_cropped). Backward
// pads ∂Y the same way (junk and margins zero), so ∂Xpad = Ŵᵀ·∂Ypad is again
// one shifted SpMM and ∂Ŵ = Σ_q ∂Ypad·Xpad(q + tap) an SDDMM (both in one pass
// over each column tile when both are wanted); ∂X is ∂Xpad's interior. A 3×3
// conv with padding 1 shares its zeros: one zero column between rows and one
// zero row between images serve as the right pad of one and the left (top)
// pad of the next, so Wp = W + 1, Hp = H + 1 — a 14×14 plane computes 225
// positions instead of 256.
// Stride s (2; kernels of at least s taps): each padded plane is split into its
// s² phase planes — phase (p, q) holds padded pixel (s·i + p, s·j + q) at
// i·Wp + j, with Wp and Hp now ⌈padded size / s⌉ — so tap (a, b) of output
// position q reads phase (a mod s, b mod s) at q + (a / s)·Wp + b / s: the same
// shifted runs over planes about the input's size, where im2col's columns are
// k²/s² times it (2.25× for a 3×3/2 conv). The phase planes are the rows of
// the transposed product, and ∂X is gathered back from them.

import CSparse
import CBFloat16

/// What padded planes hold: fp32 copies, or bf16 (UInt16 bits) rounded as the bf16 products read them. A
/// source already in bf16 (a bf16 ∂Y) is copied into bf16 planes, or widened into fp32 ones.
protocol PlaneElement {
    static var zero: Self { get }
    static func convert(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Self>, count: Int)
    static func convert(bf16 src: UnsafePointer<UInt16>, into dst: UnsafeMutablePointer<Self>, count: Int)
}

extension Float: PlaneElement {
    @inline(__always) static func convert(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, count: Int) {
        dst.update(from: src, count: count)
    }
    @inline(__always) static func convert(bf16 src: UnsafePointer<UInt16>, into dst: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { dst[i] = bf16_to_float(src[i]) }
    }
}

extension UInt16: PlaneElement {
    @inline(__always) static func convert(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<UInt16>, count: Int) {
        bf16_round(src, dst, Int64(count))
    }
    @inline(__always) static func convert(bf16 src: UnsafePointer<UInt16>, into dst: UnsafeMutablePointer<UInt16>, count: Int) {
        dst.update(from: src, count: count)
    }
}

/// The padded-plane sizes of a stride-1 or stride-2 geometry.
public struct ShiftedPlanes: Sendable {
    public let g: ConvGeometry
    /// The stride; each input channel has stride² planes (its phases; one at stride 1).
    public let stride: Int
    /// Rows per image and row length of a (phase) plane.
    public let hp: Int, wp: Int
    /// Floats per plane: N images' planes.
    public var planes: Int { g.batch * hp * wp }
    /// Planes of the input: its channels' phases.
    public var inputRows: Int { g.inChannels * stride * stride }
    /// Zeros ahead of each ∂Y row, so the transposed reads at q − tap stay inside it.
    public var margin: Int { (g.kernelH - 1) / stride * wp + (g.kernelW - 1) / stride }
    public var gradRows: Int { margin + planes }

    public init(_ g: ConvGeometry) {
        self.g = g
        stride = g.strideH
        let shared = stride == 1 && g.kernelH == 3 && g.kernelW == 3 && g.padH == 1 && g.padW == 1
        hp = (g.inH + (shared ? 1 : 2 * g.padH) + stride - 1) / stride
        wp = (g.inW + (shared ? 1 : 2 * g.padW) + stride - 1) / stride
    }

    /// Shared scratch: [entry sums (capacity) | padded x (+ margin of slack) | padded ∂Y | padded ∂x, only where the
    /// input takes a gradient (the stem has none) | under bf16 products, a tile of fp32 sums per thread for a bf16
    /// output].
    public func scratch(capacity: Int, threads: Int) -> Int {
        capacity + inputRows * planes + margin + g.outChannels * gradRows + (g.inputGradient ? inputRows * planes : 0)
            + (g.sparseBF16 ? threads * tileFloats : 0)
    }

    /// Floats of one thread's tile of sums (64 columns of every output channel).
    var tileFloats: Int { 64 * g.outChannels }

    /// The regions of `scratch`: entry sums, padded x, padded ∂Y, ∂x's planes (only where the input takes a
    /// gradient) and the bf16 output's tiles (only under bf16 products).
    struct Regions {
        let sums, x, dy, out, tiles: UnsafeMutablePointer<Float>
    }

    func regions(_ base: UnsafeMutablePointer<Float>, capacity: Int) -> Regions {
        let x = base + capacity, dy = x + inputRows * planes + margin, out = dy + g.outChannels * gradRows
        return Regions(sums: base, x: x, dy: dy, out: out, tiles: out + (g.inputGradient ? inputRows * planes : 0))
    }

    var layout: SparseAddressing {
        .shifted(channels: g.inChannels, kernel: g.kernelH, stride: stride, rowLength: wp, planes: planes, gradRows: gradRows,
                 margin: margin)
    }
}

extension SparseConvKernels {
    /// Whether these kernels can run `g` on shifted (or phase) planes: stride 1 or 2, no dilation, one group, a
    /// square kernel above 1×1, planes wide enough to fill tiles. Whether they do is ConvPlanner.sparseLayout's call.
    public static func canUseShiftedPlanes(_ g: ConvGeometry) -> Bool {
        g.strideH == g.strideW && g.strideH <= 2 && g.dilationH == 1 && g.dilationW == 1 && g.groups == 1
            && g.kernelH == g.kernelW && g.kernelH > 1 && g.outW >= 14
    }

    /// The product over the padded planes, stored straight into y with its epilogue (a residual join's ReLU too):
    /// no padded output, no crop pass. bf16 products read bf16 planes and write y in fp32 or, with `yBF16`, in bf16
    /// through each thread's tile of sums.
    static func shiftedForward(x: UnsafePointer<Float>, xBF16: Bool = false, w: SparseOperand, bias: UnsafePointer<Float>?,
                               residual: UnsafePointer<Float>?, relu: Bool, y: UnsafeMutablePointer<Float>, yBF16: Bool = false,
                               _ g: ConvGeometry, bf16: Bool, pool: ThreadPool, scratch: ConvScratch) {
        let s = ShiftedPlanes(g), r = s.regions(scratch.partials, capacity: w.capacity * pool.threads)
        var a = w.matrix
        var planes = sp_crop(hp: Int64(s.hp), wp: Int64(s.wp), oh: Int64(g.outH), ow: Int64(g.outW))
        let flags = relu || residual != nil ? SP_RELU : 0
        guard bf16 else {
            pad(x, into: r.x, channels: g.inChannels, s, pool: pool)
            withUnsafePointer(to: &a) { m in
                withUnsafePointer(to: &planes) { crop in
                    pool.run((m: m, x: r.x, crop: crop, y: y, ld: g.columns, q: s.planes, flags: flags, bias: bias,
                              residual: residual, threads: pool.threads)) { a, t in
                        let range = SparseConvKernels.columnRange(a.q, part: t, of: a.threads)
                        sp_spmm_cropped(a.m, a.x, Int64(range.lowerBound), Int64(range.upperBound), a.crop, a.y, Int64(a.ld),
                                        a.flags, a.bias, a.residual)
                    }
                }
            }
            return
        }
        // The planes in bf16, in the first half of the padded input's region.
        r.x.withMemoryRebound(to: UInt16.self, capacity: s.inputRows * s.planes + s.margin) { half in
            pad(x, bf16: xBF16, into: half, channels: g.inChannels, s, pool: pool)
            withUnsafePointer(to: &a) { m in
                withUnsafePointer(to: &planes) { crop in
                    let run = { (y: UnsafeMutablePointer<Float>?, y16: UnsafeMutablePointer<UInt16>?) in
                        pool.run((m: m, x: UnsafePointer(half), crop: crop, tiles: r.tiles, tile: s.tileFloats, y: y, y16: y16,
                                  ld: g.columns, q: s.planes, flags: flags, bias: bias, residual: residual,
                                  threads: pool.threads)) { a, t in
                            let range = SparseConvKernels.columnRange(a.q, part: t, of: a.threads)
                            sp_spmm_bf16_cropped(a.m, a.x, Int64(range.lowerBound), Int64(range.upperBound), a.crop,
                                                 a.tiles + t * a.tile, a.y, a.y16, Int64(a.ld), a.flags, a.bias, a.residual)
                        }
                    }
                    if yBF16 { y.withMemoryRebound(to: UInt16.self, capacity: g.outChannels * g.columns) { run(nil, $0) } } else { run(y, nil) }
                }
            }
        }
    }

    static func shiftedBackward(x: UnsafePointer<Float>, xBF16: Bool = false, w: SparseOperand, dy: UnsafePointer<Float>,
                                dyBF16: Bool = false, dx: UnsafeMutablePointer<Float>?, accumulate: Bool,
                                dw: UnsafeMutablePointer<Float>?, _ g: ConvGeometry, bf16: Bool, pool: ThreadPool,
                                scratch: ConvScratch) {
        let threads = pool.threads
        precondition(dx == nil || g.inputGradient, "∂X on planes needs a geometry planned with an input gradient")
        let s = ShiftedPlanes(g), r = s.regions(scratch.partials, capacity: w.capacity * threads)
        if bf16 {
            shiftedBackwardBF16(x: x, xBF16: xBF16, w: w, dy: dy, dyBF16: dyBF16, dx: dx, accumulate: accumulate, dw: dw, s, r,
                                pool: pool)
            return
        }
        padGradient(dy, bf16: false, into: r.dy, s, pool: pool)
        if let dx, let dw {
            // Both gradients in one pass over each column tile; entry sums per thread, added in thread order.
            pad(x, into: r.x, channels: g.inChannels, s, pool: pool)
            let count = w.count
            r.sums.update(repeating: 0, count: threads * count)
            var a = w.matrix, t = w.transposed
            withUnsafePointer(to: &a) { m in
                withUnsafePointer(to: &t) { mt in
                    pool.run((m: m, mt: mt, x: r.x, dy: r.dy, dx: r.out, sums: r.sums, q: s.planes, ld: s.gradRows,
                                  margin: s.margin, count: count, threads: threads)) { a, t in
                        let range = SparseConvKernels.columnRange(a.q, part: t, of: a.threads)
                        sp_shifted_backward(a.m, a.mt, a.dy + a.margin, Int64(a.ld), a.x, a.dy, Int64(range.lowerBound),
                                            Int64(range.upperBound), a.dx, Int64(a.q), a.sums + t * a.count)
                    }
                }
            }
            inputGradient(from: r.out, into: dx, accumulate: accumulate, s, pool: pool)
            finishKeptGradient(r.sums, threads: threads, w, into: dw, g, pool: pool)
            return
        }
        if let dx {
            var t = w.transposed
            withUnsafePointer(to: &t) { m in
                pool.run((m: m, dy: r.dy, dx: r.out, q: s.planes, threads: threads)) { a, t in
                    let range = SparseConvKernels.columnRange(a.q, part: t, of: a.threads)
                    sp_spmm(a.m, a.dy, 1, 0, nil, Int64(range.lowerBound), Int64(range.upperBound), a.dx, Int64(a.q), 0, nil, nil)
                }
            }
            inputGradient(from: r.out, into: dx, accumulate: accumulate, s, pool: pool)
        }
        guard let dw else { return }
        pad(x, into: r.x, channels: g.inChannels, s, pool: pool)
        r.sums.update(repeating: 0, count: w.count)
        var a = w.matrix
        withUnsafePointer(to: &a) { m in
            pool.run((m: m, x: r.x, dy: r.dy + s.margin, sums: r.sums, q: s.planes, ld: s.gradRows, threads: threads)) { a, t in
                let rows = SparseConvKernels.rowRange(a.m, part: t, of: a.threads)
                sp_sddmm(a.m, a.dy, Int64(a.ld), a.x, 1, 0, nil, 0, Int64(a.q), Int32(rows.lowerBound), Int32(rows.upperBound), a.sums)
            }
        }
        scatter(r.sums, w, into: dw, g)
    }

    /// Both gradients (or either) with bf16 operands: x's and ∂Y's padded planes in bf16 (in the first half
    /// of their fp32 regions; from x and ∂Y in bf16 when `xBF16`, `dyBF16`), then per column tile the SDDMM and
    /// the transposed SpMM over them (sp_backward_bf16_planes); entry sums per thread, added in thread order.
    private static func shiftedBackwardBF16(x: UnsafePointer<Float>, xBF16: Bool, w: SparseOperand, dy: UnsafePointer<Float>,
                                            dyBF16: Bool,
                                            dx: UnsafeMutablePointer<Float>?, accumulate: Bool,
                                            dw: UnsafeMutablePointer<Float>?, _ s: ShiftedPlanes,
                                            _ r: ShiftedPlanes.Regions,
                                            pool: ThreadPool) {
        let g = s.g, threads = pool.threads, count = w.count
        var a = w.matrix, t = w.transposed
        r.dy.withMemoryRebound(to: UInt16.self, capacity: g.outChannels * s.gradRows) { dyh in
            r.x.withMemoryRebound(to: UInt16.self, capacity: s.inputRows * s.planes + s.margin) { xh in
                padGradient(dy, bf16: dyBF16, into: dyh, s, pool: pool)
                if dw != nil {
                    pad(x, bf16: xBF16, into: xh, channels: g.inChannels, s, pool: pool)
                    r.sums.update(repeating: 0, count: threads * count)
                }
                withUnsafePointer(to: &a) { m in
                    withUnsafePointer(to: &t) { mt in
                        pool.run((m: m, mt: dx == nil ? nil : mt, x: UnsafePointer(xh), dy: UnsafePointer(dyh), dx: r.out,
                                  sums: dw == nil ? nil : r.sums, q: s.planes, ld: s.gradRows, margin: s.margin, count: count,
                                  threads: threads)) { a, t in
                            let range = SparseConvKernels.columnRange(a.q, part: t, of: a.threads)
                            sp_backward_bf16_planes(a.m, a.mt, a.dy + a.margin, Int64(a.ld), a.x, a.dy, Int64(range.lowerBound),
                                                    Int64(range.upperBound), a.dx, Int64(a.q), a.sums.map { $0 + t * a.count })
                        }
                    }
                }
            }
        }
        if let dx {
            inputGradient(from: r.out, into: dx, accumulate: accumulate, s, pool: pool)
        }
        guard let dw else { return }
        finishKeptGradient(r.sums, threads: threads, w, into: dw, g, pool: pool)
    }

    /// Each channel's images into zero-padded planes, then `margin` zeros of slack after the last: fp32
    /// copies, or (`PlaneElement` UInt16) rounded to bf16 — or copied from x in bf16 when `bf16` (a
    /// BatchNorm's output handed over so).
    private static func pad<E: PlaneElement>(_ x: UnsafePointer<Float>, bf16: Bool = false, into xp: UnsafeMutablePointer<E>,
                                             channels: Int, _ s: ShiftedPlanes, pool: ThreadPool) {
        guard bf16 else { return pad(x, nil, into: xp, channels: channels, s, pool: pool) }
        x.withMemoryRebound(to: UInt16.self, capacity: channels * s.g.batch * s.g.inPlane) {
            pad(x, $0, into: xp, channels: channels, s, pool: pool)
        }
    }

    /// pad from fp32 x, or from its bf16 form `xh` when given.
    private static func pad<E: PlaneElement>(_ x: UnsafePointer<Float>, _ xh: UnsafePointer<UInt16>?,
                                             into xp: UnsafeMutablePointer<E>, channels: Int, _ s: ShiftedPlanes,
                                             pool: ThreadPool) {
        guard s.stride == 1 else { return padPhases(x, xh, into: xp, channels: channels, s, pool: pool) }
        pool.parallelRanges(channels, (x: x, xh: xh, xp: xp, s: s)) { a, range, _ in
            let g = a.s.g, w = g.inW, h = g.inH, wp = a.s.wp
            for c in range {
                for n in 0..<g.batch {
                    let at = (c * g.batch + n) * g.inPlane, dst = a.xp + c * a.s.planes + n * a.s.hp * wp
                    dst.update(repeating: .zero, count: g.padH * wp + g.padW)
                    for i in 0..<h {
                        let row = dst + (i + g.padH) * wp + g.padW
                        if let xh = a.xh { E.convert(bf16: xh + at + i * w, into: row, count: w) } else { E.convert(a.x + at + i * w, into: row, count: w) }
                        // The gap to the next row; after the last, the right pad and bottom rows (none when shared).
                        (row + w).update(repeating: .zero, count: i + 1 < h ? wp - w : wp - w - g.padW + (a.s.hp - h - g.padH) * wp)
                    }
                }
            }
        }
        (xp + channels * s.planes).update(repeating: .zero, count: s.margin)
    }

    /// ∂Y into padded rows: `margin` zeros, then the planes with junk columns and rows zero — one pass (fp32,
    /// or rounded to bf16; from a bf16 ∂Y when `bf16`).
    private static func padGradient<E: PlaneElement>(_ dy: UnsafePointer<Float>, bf16: Bool, into dyp: UnsafeMutablePointer<E>,
                                                     _ s: ShiftedPlanes, pool: ThreadPool) {
        guard bf16 else { return padGradient(dy, nil, into: dyp, s, pool: pool) }
        dy.withMemoryRebound(to: UInt16.self, capacity: s.g.outChannels * s.g.columns) { padGradient(dy, $0, into: dyp, s, pool: pool) }
    }

    /// padGradient from fp32 ∂Y, or from its bf16 form `dyh` when given.
    private static func padGradient<E: PlaneElement>(_ dy: UnsafePointer<Float>, _ dyh: UnsafePointer<UInt16>?,
                                                     into dyp: UnsafeMutablePointer<E>, _ s: ShiftedPlanes, pool: ThreadPool) {
        pool.parallelRanges(s.g.outChannels, (dy: dy, dyh: dyh, dyp: dyp, s: s)) { a, range, _ in
            let g = a.s.g, wp = a.s.wp, ow = g.outW
            for o in range {
                let row0 = a.dyp + o * a.s.gradRows
                row0.update(repeating: .zero, count: a.s.margin)
                for n in 0..<g.batch {
                    let plane = row0 + a.s.margin + n * a.s.hp * wp
                    for i in 0..<g.outH {
                        let at = (o * g.batch + n) * g.outPlane + i * ow
                        if let dyh = a.dyh {
                            E.convert(bf16: dyh + at, into: plane + i * wp, count: ow)
                        } else {
                            E.convert(a.dy + at, into: plane + i * wp, count: ow)
                        }
                        (plane + i * wp + ow).update(repeating: .zero, count: wp - ow)
                    }
                    (plane + g.outH * wp).update(repeating: .zero, count: (a.s.hp - g.outH) * wp)
                }
            }
        }
    }

    /// The h×w positions of padded rows (from `offset` within each padded plane) into CNHW planes, written or
    /// (`accumulate`) added: ∂X from the transposed product's padded planes.
    static func crop(_ src: UnsafePointer<Float>, rowLength: Int, into dst: UnsafeMutablePointer<Float>, channels: Int,
                     size: (Int, Int), accumulate: Bool, offset: Int, _ s: ShiftedPlanes, pool: ThreadPool) {
        pool.parallelRanges(channels, (src: src, dst: dst, ld: rowLength, acc: accumulate, off: offset, s: s, h: size.0,
                                       w: size.1)) { a, range, _ in
            let g = a.s.g, wp = a.s.wp, h = a.h, w = a.w
            for c in range {
                for n in 0..<g.batch {
                    let from = a.src + c * a.ld + n * a.s.hp * wp + a.off, to = a.dst + (c * g.batch + n) * h * w
                    for i in 0..<h {
                        if a.acc { Vec.add(from + i * wp, to + i * w, w) } else { (to + i * w).update(from: from + i * wp, count: w) }
                    }
                }
            }
        }
    }
}
