// A conv's inference epilogue (ConvEpilogue, planned by ConvPlanner.planEpilogues): the BatchNorm that
// alone reads its output, folded from the running statistics, with its ReLU or the residual join it
// feeds, computed in the conv's own store; the norm and the join then skip their passes.

extension Conv2d {
    /// Whether the BatchNorm reading this conv's output can be folded into it at inference: on the sparse
    /// kernels, or on a dense plan that computes it.
    var canFold: Bool { compressed != nil || denseFolds }

    /// The dense plan computes the epilogue: fp32 im2col or GEMM, on each chunk of its output while the
    /// chunk is in cache (Winograd, bf16 and depthwise plans leave it to the norm).
    var denseFolds: Bool { (densePlan == .im2col || densePlan == .gemm) && geometry?.bf16 == false }

    /// Whether the last inference forward computed the epilogue (then the norm and join skip theirs).
    var ranEpilogue: Bool {
        guard epilogue != nil else { return false }
        return execution.isSparse ? compressed != nil : denseFolds
    }

    /// The dense plan's epilogue for this inference forward, when it runs one: the norm's evaluation
    /// coefficients (BatchNormKernels.evalCoefficients, the norm's own arithmetic: the same bits as its
    /// pass) in the fold region, its ReLU or the join's shortcut.
    func denseEpilogue(_ ctx: StepContext) -> ChannelAffine? {
        guard !ctx.training, !execution.isSparse, ranEpilogue, let e = epilogue else { return nil }
        let scale = ctx.region(foldRegion), shift = scale + outChannels
        let gamma = e.norm.weight.map { UnsafePointer(ctx.param($0)) }, beta = e.norm.bias.map { UnsafePointer(ctx.param($0)) }
        let mean = UnsafePointer(ctx.buffer(e.norm.runningMean)), variance = UnsafePointer(ctx.buffer(e.norm.runningVar))
        for o in 0..<outChannels {
            (scale[o], shift[o]) = BatchNormKernels.evalCoefficients(o, runningMean: mean, runningVar: variance,
                                                                     eps: e.norm.eps, gamma: gamma, beta: beta)
        }
        return ChannelAffine(scale: scale, shift: shift, relu: e.relu,
                             residual: e.join.map { UnsafePointer(ctx.value($0.shortcut)) })
    }

    /// Inference with `bn` folded: each output channel's entries scaled by γ/√(var + eps), and the bias
    /// scale·b + β − mean·scale, from the running statistics (the compressed values were just rebuilt).
    func fold(_ bn: BatchNorm2d, _ c: CompressedWeight, _ ctx: StepContext) {
        let scale = ctx.region(foldRegion), shift = scale + outChannels
        let gamma = bn.weight.map { ctx.param($0) }, beta = bn.bias.map { ctx.param($0) }
        let mean = ctx.buffer(bn.runningMean), variance = ctx.buffer(bn.runningVar)
        let own = bias.map { ctx.param($0) }
        for o in 0..<outChannels {
            scale[o] = (gamma?[o] ?? 1) / (variance[o] + bn.eps).squareRoot()
            shift[o] = (beta?[o] ?? 0) - mean[o] * scale[o] + (own?[o] ?? 0) * scale[o]
        }
        c.scaleRows(UnsafePointer(scale), ctx)
    }
}
