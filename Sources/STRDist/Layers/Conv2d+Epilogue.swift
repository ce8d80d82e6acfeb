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

    /// The dense plan's epilogue for this inference forward, when it runs one: the norm's coefficients, its
    /// ReLU or the join's shortcut (the conv's own bias is added before it, as the separate passes do).
    func denseEpilogue(_ ctx: StepContext) -> ChannelAffine? {
        guard !ctx.training, !execution.isSparse, ranEpilogue, let e = epilogue else { return nil }
        let (scale, shift) = foldCoefficients(e.norm, withBias: false, ctx)
        return ChannelAffine(scale: scale, shift: shift, relu: e.relu,
                             residual: e.join.map { UnsafePointer(ctx.value($0.shortcut)) })
    }

    /// Inference with `bn` folded into the compressed weight (just rebuilt): each output channel's entries
    /// scaled by γ/√(var + eps), and the bias scale·b + β − mean·scale.
    func fold(_ bn: BatchNorm2d, _ c: CompressedWeight, _ ctx: StepContext) {
        c.scaleRows(foldCoefficients(bn, withBias: true, ctx).scale, ctx)
    }

    /// The norm's evaluation coefficients per output channel in the fold region, in the norm's own arithmetic
    /// (BatchNormKernels.evalCoefficients); `withBias` folds this conv's bias into the shift.
    private func foldCoefficients(_ bn: BatchNorm2d, withBias: Bool, _ ctx: StepContext)
        -> (scale: UnsafePointer<Float>, shift: UnsafePointer<Float>) {
        let scale = ctx.region(foldRegion), shift = scale + outChannels
        let gamma = bn.weight.map { UnsafePointer(ctx.param($0)) }, beta = bn.bias.map { UnsafePointer(ctx.param($0)) }
        let mean = UnsafePointer(ctx.buffer(bn.runningMean)), variance = UnsafePointer(ctx.buffer(bn.runningVar))
        let own = withBias ? bias.map { ctx.param($0) } : nil
        for o in 0..<outChannels {
            let (s, t) = BatchNormKernels.evalCoefficients(o, runningMean: mean, runningVar: variance, eps: bn.eps,
                                                           gamma: gamma, beta: beta)
            scale[o] = s
            shift[o] = own.map { t + $0[o] * s } ?? t
        }
        return (UnsafePointer(scale), UnsafePointer(shift))
    }
}
