// A conv's inference epilogue (ConvEpilogue, planned by ConvPlanner.planEpilogues): the BatchNorm that
// alone reads its output, folded from the running statistics, with its ReLU or the residual join it
// feeds, computed in the conv's own store; the norm and the join then skip their passes.

extension Conv2d {
    /// Whether the BatchNorm reading this conv's output can be folded into it at inference.
    var canFold: Bool { compressed != nil }

    /// Whether the last inference forward computed the epilogue (then the norm and join skip theirs).
    var ranEpilogue: Bool { epilogue != nil && execution.isSparse && compressed != nil }

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
