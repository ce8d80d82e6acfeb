// BatchNorm2d (affine: `weight`, `bias`; or non-affine) with buffers
// `running_mean`, `running_var`, `num_batches_tracked`; eps 1e-5, momentum
// 0.1. `fuseReLU` applies the following ReLU in the same passes. A residual
// join that alone reads this norm's output is computed here too, forward and
// backward (`join`, planned by ResidualFusion): the norm's own output is then
// never written, and the join's ReLU mask is kept as a bit per value for the
// backward, which then does not read the join's output. At inference a conv
// on the sparse kernels may compute all of it in its store instead (its
// ConvEpilogue); a depthwise conv runs it channel
// by channel inside its own loop, forward and backward (`fusedConv`, planned
// by DepthwiseNormFusion), except under synchronized BN. Under bf16, a sparse
// conv before it hands its output over in bf16, and takes its gradient back in
// bf16 (`bf16Conv`), and the norm hands its own output in bf16 to a sparse conv
// after it (`bf16Reader`), both planned by BF16Handoff.

public final class BatchNorm2d: Layer {
    public let name: String
    public let channels: Int
    public let eps: Float = 1e-5
    public let momentum: Float = 0.1
    public let fuseReLU: Bool
    public let weight: ParameterRef?, bias: ParameterRef?
    public let runningMean: BufferRef, runningVar: BufferRef, batchesTracked: BufferRef

    private var input: ActRef!
    private var output: ActRef!
    /// This layer's output, which a folding conv writes at inference.
    var outputRef: ActRef { output }
    /// The conv whose epilogue computes this norm at inference (ConvPlanner.planEpilogues).
    weak var foldingConv: Conv2d?
    /// The residual join this norm computes in its own passes (ResidualFusion.plan: `computeJoin`).
    private(set) var join: AddReLU?
    /// The join's ReLU mask, one bit per value (BatchNormKernels.maskWords UInt16 words per channel), kept by the
    /// forward for the backward.
    private var joinMask = WorkspaceRegion<UInt16>.none
    /// The depthwise conv that runs this norm per channel (DepthwiseNormFusion.plan).
    weak var fusedConv: Conv2d?
    /// The conv whose output this norm alone reads: they exchange bf16 on the sparse kernels (BF16Handoff.plan).
    weak var bf16Conv: Conv2d?
    /// The conv that alone reads this norm's output: written in bf16 when its sparse kernels read it (BF16Handoff.plan).
    weak var bf16Reader: Conv2d?
    private var inputGrad = GradUse.none
    /// Saved per step: mean, invstd, and the two gradient sums, each `channels` long.
    private var saved = WorkspaceRegion<Float>.none

    public init(_ name: String, channels: Int, affine: Bool = true, fuseReLU: Bool = false, layout: ParameterLayout) {
        self.name = name
        self.channels = channels
        self.fuseReLU = fuseReLU
        weight = affine ? layout.parameter("\(name).weight", shape: [channels], group: .batchNorm) : nil
        bias = affine ? layout.parameter("\(name).bias", shape: [channels], group: .batchNorm) : nil
        runningMean = layout.buffer("\(name).running_mean", shape: [channels])
        runningVar = layout.buffer("\(name).running_var", shape: [channels])
        batchesTracked = layout.buffer("\(name).num_batches_tracked", shape: [], storedType: .int64)
    }

    public func plan(_ input: ActRef, _ planner: WorkspacePlanner) -> ActRef {
        precondition(input.shape.channels == channels, "\(name) expects \(channels) channels, got \(input.shape.channels)")
        self.input = input
        inputGrad = planner.use(input, by: self)
        saved = planner.region(4 * channels)
        output = planner.activation(input.shape)
        planner.produced(output, by: self)
        foldingConv = nil
        join = nil
        joinMask = .none
        fusedConv = nil
        bf16Conv = nil
        bf16Reader = nil
        return output
    }

    /// Whether `fusedConv` runs this norm in this step: not under synchronized BN, whose statistics need an
    /// all-reduce between the sums and the normalisation.
    func runsInConv(_ ctx: StepContext) -> Bool {
        guard fusedConv != nil else { return false }
        guard ctx.training, let sync = ctx.collectives else { return true }
        return !(sync.syncBatchNorm && sync.world > 1)
    }

    /// Computes `j` in this norm's passes, with room for its mask.
    func computeJoin(_ j: AddReLU, _ planner: WorkspacePlanner) {
        join = j
        joinMask = planner.halfRegion(channels * BatchNormKernels.maskWords(input.shape.perChannel))
    }

    /// The join's mask bits in this step's memory (nil without a join).
    private func joinBits(_ ctx: StepContext) -> UnsafeMutablePointer<UInt16>? { join == nil ? nil : ctx.region(joinMask) }

    /// The per-channel norm a fused conv runs forward: batch statistics into this step's saved region, or
    /// the running statistics at inference.
    func channelForward(_ ctx: StepContext) -> ChannelNorm {
        let mean = ctx.region(saved)
        let statistics: ChannelNorm.Statistics = ctx.training
            ? .batch(mean: mean, invstd: mean + channels, variance: mean + 2 * channels)
            : .running(mean: ctx.buffer(runningMean), variance: ctx.buffer(runningVar))
        return ChannelNorm(statistics: statistics, eps: eps, gamma: weight.map { UnsafePointer(ctx.param($0)) },
                           beta: bias.map { UnsafePointer(ctx.param($0)) }, relu: fuseReLU, y: ctx.value(output))
    }

    /// The per-channel backward a fused conv runs before its own: it writes ∂ of this norm's input.
    func channelBackward(_ ctx: StepContext) -> ChannelNormBackward {
        let mean = ctx.region(saved)
        return ChannelNormBackward(x: ctx.value(input), y: ctx.value(output), dy: ctx.workspace.grad(output)!, mean: mean,
                                   invstd: mean + channels, gamma: weight.map { UnsafePointer(ctx.param($0)) },
                                   relu: fuseReLU, sumDy: mean + 2 * channels, sumDyXhat: mean + 3 * channels,
                                   dx: ctx.workspace.grad(input)!)
    }

    /// After a fused conv's backward: γ's and β's gradients from the sums it left.
    func finishChannelBackward(_ ctx: StepContext) {
        let mean = ctx.region(saved)
        publishAffineGradients(ctx, sumDy: mean + 2 * channels, sumDyXhat: mean + 3 * channels)
    }

    public func forward(_ ctx: StepContext) {
        if runsInConv(ctx) {
            // The conv wrote the output and this step's statistics; what is left is the running statistics.
            guard ctx.training else { return }
            let mean = ctx.region(saved)
            BatchNormKernels.updateRunning(mean: mean, variance: mean + 2 * channels, channels: channels,
                                           m: input.shape.perChannel, momentum: momentum,
                                           runningMean: ctx.buffer(runningMean), runningVar: ctx.buffer(runningVar))
            ctx.buffer(batchesTracked).pointee += 1
            return
        }
        // This step's input: fp32, or the bf16 the conv before this norm wrote; its output: fp32, or bf16 for the
        // conv after it (BF16Handoff).
        let yBF16 = planBF16Output(ctx)
        guard bf16Conv?.writesBF16Output(ctx) == true else { return forward(ctx, x: ctx.value(input), yBF16: yBF16) }
        ctx.value(input).withMemoryRebound(to: UInt16.self, capacity: input.shape.count) {
            forward(ctx, x: UnsafePointer($0), yBF16: yBF16)
        }
    }

    /// Whether this step writes the output in bf16 for `bf16Reader` (a training step: the conv prepares its weight
    /// first, which chooses its plan for the step, and then says whether its sparse kernels can read the input in
    /// bf16); the conv is told what it will read (`inputInBF16`).
    private func planBF16Output(_ ctx: StepContext) -> Bool {
        guard let conv = bf16Reader else { return false }
        var bf16 = false
        if BF16Handoff.inputs && ctx.training {
            conv.prepareAhead(ctx)
            bf16 = conv.readsBF16Input(ctx)
        }
        conv.inputInBF16 = bf16
        return bf16
    }

    private func forward<X: ActivationElement>(_ ctx: StepContext, x: UnsafePointer<X>, yBF16: Bool) {
        // Passes over the activation: statistics (two reads), then the normalising read and write (the reads of a
        // bf16 input, and a bf16 output's write, count half).
        let start = ctx.profileStart()
        var passes = ctx.training ? 4 : 2
        let halves = (X.self == UInt16.self ? (ctx.training ? 3 : 1) : 0) + (yBF16 ? 1 : 0)
        let maskBits = ctx.training ? joinBits(ctx) : nil
        defer {
            let n = input.shape.count
            ctx.profiled("batchnorm", backward: false, since: start,
                         floats: passes * n - halves * n / 2 + (maskBits == nil ? 0 : n / 32))
        }
        // With the join: the shortcut read, the join's output written in place of this norm's (in training, with
        // its mask's bits: a 32nd of a pass).
        let residual = join.map { UnsafePointer(ctx.value($0.shortcut)) }
        if residual != nil { passes += 1 }
        let y = ctx.value(join?.outputRef ?? output), m = input.shape.perChannel
        let gamma = weight.map { UnsafePointer(ctx.param($0)) }, beta = bias.map { UnsafePointer(ctx.param($0)) }
        let rm = ctx.buffer(runningMean), rv = ctx.buffer(runningVar)
        guard ctx.training else {
            if foldingConv?.ranEpilogue == true { passes = 0; return }   // (and the conv wrote no bf16 input)
            BatchNormKernels.forwardEval(x, channels: channels, m: m, runningMean: rm, runningVar: rv, eps: eps,
                                         gamma: gamma, beta: beta, relu: fuseReLU, residual: residual, y: y, pool: ctx.pool)
            return
        }
        let mean = ctx.region(saved), invstd = mean + channels
        guard let sync = ctx.collectives, sync.syncBatchNorm, sync.world > 1 else {
            let variance = mean + 2 * channels   // a gradient-sum slot, free until backward
            BatchNormKernels.trainingForward(x, channels: channels, m: m, mean: mean, invstd: invstd,
                                             variance: variance, eps: eps, gamma: gamma, beta: beta,
                                             relu: fuseReLU, residual: residual, y: y, yBF16: yBF16, positive: maskBits,
                                             pool: ctx.pool)
            BatchNormKernels.updateRunning(mean: mean, variance: variance, channels: channels, m: m,
                                           momentum: momentum, runningMean: rm, runningVar: rv)
            ctx.buffer(batchesTracked).pointee += 1
            return
        }
        BatchNormKernels.moments(x, channels: channels, m: m, mean: mean, variance: invstd, pool: ctx.pool)
        // Global statistics without cancellation: the global mean from Σx first, then each
        // replica's Σ(x − mean)² = m·(var + (mean_r − mean)²), summed (in the gradient-sum slots).
        let s = mean + 2 * channels, ss = mean + 3 * channels
        for c in 0..<channels { s[c] = mean[c] * Float(m) }
        sync.allreduceSum(s, count: channels)
        let count = m * sync.world
        for c in 0..<channels {
            let g = s[c] / Float(count), d = mean[c] - g
            ss[c] = Float(m) * (invstd[c] + d * d)
            mean[c] = g
        }
        sync.allreduceSum(ss, count: channels)
        for c in 0..<channels { invstd[c] = ss[c] / Float(count) }
        BatchNormKernels.updateRunning(mean: mean, variance: invstd, channels: channels, m: count, momentum: momentum,
                                       runningMean: rm, runningVar: rv)
        ctx.buffer(batchesTracked).pointee += 1
        BatchNormKernels.normalize(x, channels: channels, m: m, mean: mean, varianceToInvstd: invstd, eps: eps,
                                   gamma: gamma, beta: beta, relu: fuseReLU, residual: residual, y: y, yBF16: yBF16,
                                   positive: maskBits, pool: ctx.pool)
    }

    public func backward(_ ctx: StepContext) {
        if runsInConv(ctx) { return }   // the conv's backward runs this norm's, channel by channel
        guard bf16Conv?.writesBF16Output(ctx) == true else { return backward(ctx, x: ctx.value(input)) }
        ctx.value(input).withMemoryRebound(to: UInt16.self, capacity: input.shape.count) { backward(ctx, x: UnsafePointer($0)) }
    }

    private func backward<X: ActivationElement>(_ ctx: StepContext, x: UnsafePointer<X>) {
        // Passes: the sums read x and ∂Y, ∂X reads them again and writes (with the join, the shortcut's gradient
        // is written too). The join's ReLU mask is read from the forward's bits (a 32nd of a pass, each time it
        // is applied); a norm's own ReLU recomputes its mask from x (ReluMask.input). y is not read.
        // ∂X in bf16 for the conv before this norm, when it reads it so this step (BF16Handoff).
        let dxBF16 = bf16Conv?.takesBF16OutputGradient(ctx) ?? false
        let start = ctx.profileStart()
        defer {
            let dx = ctx.workspace.grad(input) != nil, n = input.shape.count
            let shortcutPasses = join.map { ctx.workspace.grad($0.shortcut) == nil ? 0 : ctx.workspace.accumulates($0.gradB) ? 2 : 1 } ?? 0
            let passes = 2 + (dx ? 3 + (ctx.workspace.accumulates(inputGrad) ? 1 : 0) : 0) + shortcutPasses
            let maskReads = join == nil ? 0 : 1 + (dx ? 1 : 0) + (shortcutPasses > 0 ? 1 : 0)
            // A bf16 ∂X write and the bf16 input's reads (one per pass) move half a pass each.
            let halves = (dxBF16 ? 1 : 0) + (X.self == UInt16.self ? (dx ? 2 : 1) : 0)
            ctx.profiled("batchnorm", backward: true, since: start, floats: passes * n - halves * n / 2 + maskReads * n / 32)
        }
        precondition(ctx.training, "\(name): backward needs the batch statistics of a training-mode forward")
        // With the join, ∂ of this norm's output is the join's ∂Y under its ReLU mask: the fused ReLU's rule
        // with the join's output as y, its mask from the forward's bits.
        let relu = fuseReLU || join != nil, maskBits = joinBits(ctx).map { UnsafePointer($0) }
        let out = join?.outputRef ?? output!
        let y = ctx.value(out), dy = ctx.workspace.grad(out)!
        let shortcut = join.flatMap { j in
            ctx.workspace.grad(j.shortcut).map {
                BatchNormKernels.ShortcutGradient($0, accumulate: ctx.workspace.accumulates(j.gradB))
            }
        }
        let m = input.shape.perChannel
        let mean = ctx.region(saved), invstd = mean + channels
        let sumDy = mean + 2 * channels, sumDyXhat = mean + 3 * channels
        let gamma = weight.map { UnsafePointer(ctx.param($0)) }, beta = bias.map { UnsafePointer(ctx.param($0)) }
        let fromInput = join == nil   // the norm's own ReLU, if any: its mask recomputed from x
        guard let sync = ctx.collectives, sync.syncBatchNorm, sync.world > 1 else {
            BatchNormKernels.trainingBackward(x: x, y: y, dy: dy, channels: channels, m: m, mean: mean, invstd: invstd,
                                              gamma: gamma, beta: beta, relu: relu, maskFromInput: fromInput,
                                              sumDy: sumDy, sumDyXhat: sumDyXhat,
                                              dx: ctx.workspace.grad(input), dxBF16: dxBF16,
                                              accumulate: ctx.workspace.accumulates(inputGrad), shortcut: shortcut,
                                              positive: maskBits, pool: ctx.pool)
            publishAffineGradients(ctx, sumDy: sumDy, sumDyXhat: sumDyXhat)
            return
        }
        BatchNormKernels.gradientSums(x: x, y: y, dy: dy, channels: channels, m: m, mean: mean, invstd: invstd,
                                      gamma: gamma, beta: beta, relu: relu, maskFromInput: fromInput, sumDy: sumDy,
                                      sumDyXhat: sumDyXhat, positive: maskBits, pool: ctx.pool)
        publishAffineGradients(ctx, sumDy: sumDy, sumDyXhat: sumDyXhat)
        let dx = ctx.workspace.grad(input)
        guard dx != nil || shortcut != nil else { return }
        // The affine gradients above stay local (the bucket all-reduce sums them); the input
        // gradient needs the sums over every replica's batch.
        sync.allreduceSum(sumDy, count: 2 * channels)
        let count = m * sync.world
        BatchNormKernels.inputGradient(x: x, y: y, dy: dy, channels: channels, m: m, mean: mean, invstd: invstd,
                                       gamma: gamma, beta: beta, relu: relu, maskFromInput: fromInput,
                                       sumDy: sumDy, sumDyXhat: sumDyXhat, count: count, dx: dx, dxBF16: dxBF16,
                                       accumulate: ctx.workspace.accumulates(inputGrad), shortcut: shortcut,
                                       positive: maskBits, pool: ctx.pool)
    }

    /// γ and β gradients from the sums (local; the gradient buckets sum them over replicas).
    private func publishAffineGradients(_ ctx: StepContext, sumDy: UnsafePointer<Float>, sumDyXhat: UnsafePointer<Float>) {
        guard let w = weight, let b = bias else { return }
        ctx.grad(w).update(from: sumDyXhat, count: channels)
        ctx.grad(b).update(from: sumDy, count: channels)
        ctx.collectives?.gradientReady(w)
        ctx.collectives?.gradientReady(b)
    }

    public func initialize(_ store: ParameterStore, seed: UInt64) {
        if let w = weight { (store.values.base + w.offset).update(repeating: 1, count: channels) }
        if let b = bias { (store.values.base + b.offset).update(repeating: 0, count: channels) }
        (store.bufferValues.base + runningMean.offset).update(repeating: 0, count: channels)
        (store.bufferValues.base + runningVar.offset).update(repeating: 1, count: channels)
        store.bufferValues.base[batchesTracked.offset] = 0
    }
}
