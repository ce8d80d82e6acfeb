// BatchNorm2d (affine: `weight`, `bias`; or non-affine) with buffers
// `running_mean`, `running_var`, `num_batches_tracked`; eps 1e-5, momentum
// 0.1. `fuseReLU` applies the following ReLU in the same passes.

public final class BatchNorm2d: Layer {
    public let name: String
    public let channels: Int
    public let eps: Float = 1e-5
    public let momentum: Float = 0.1
    public let fuseReLU: Bool
    public let weight: Int?, bias: Int?
    public let runningMean: Int, runningVar: Int, batchesTracked: Int

    private var input: ActRef!
    private var output: ActRef!
    private var inputGrad = GradUse.none
    /// Saved per step: mean, invstd, and the two gradient sums, each `channels` long.
    private var saved = 0

    public init(_ name: String, channels: Int, affine: Bool = true, fuseReLU: Bool = false, layout: ParameterLayout) {
        self.name = name
        self.channels = channels
        self.fuseReLU = fuseReLU
        weight = affine ? layout.parameters.add("\(name).weight", shape: [channels], group: .batchNorm) : nil
        bias = affine ? layout.parameters.add("\(name).bias", shape: [channels], group: .batchNorm) : nil
        runningMean = layout.buffers.add("\(name).running_mean", shape: [channels], group: .buffer)
        runningVar = layout.buffers.add("\(name).running_var", shape: [channels], group: .buffer)
        batchesTracked = layout.buffers.add("\(name).num_batches_tracked", shape: [], group: .buffer, storedType: .int64)
    }

    public func plan(_ input: ActRef, _ planner: WorkspacePlanner) -> ActRef {
        precondition(input.shape.channels == channels, "\(name) expects \(channels) channels, got \(input.shape.channels)")
        self.input = input
        inputGrad = planner.use(input)
        saved = planner.region(4 * channels)
        output = planner.activation(input.shape)
        return output
    }

    public func forward(_ ctx: StepContext) {
        let x = ctx.value(input), y = ctx.value(output), m = input.shape.perChannel
        let gamma = weight.map { UnsafePointer(ctx.param($0)) }, beta = bias.map { UnsafePointer(ctx.param($0)) }
        let rm = ctx.buffer(runningMean), rv = ctx.buffer(runningVar)
        guard ctx.training else {
            BatchNormKernels.forwardEval(x, channels: channels, m: m, runningMean: rm, runningVar: rv, eps: eps,
                                         gamma: gamma, beta: beta, relu: fuseReLU, y: y, pool: ctx.pool)
            return
        }
        let mean = ctx.region(saved), invstd = mean + channels
        BatchNormKernels.moments(x, channels: channels, m: m, mean: mean, variance: invstd, pool: ctx.pool)
        BatchNormKernels.updateRunning(mean: mean, variance: invstd, channels: channels, m: m, momentum: momentum,
                                       runningMean: rm, runningVar: rv)
        ctx.buffer(batchesTracked).pointee += 1
        BatchNormKernels.normalize(x, channels: channels, m: m, mean: mean, varianceToInvstd: invstd, eps: eps,
                                   gamma: gamma, beta: beta, relu: fuseReLU, y: y, pool: ctx.pool)
    }

    public func backward(_ ctx: StepContext) {
        precondition(ctx.training, "\(name): backward needs the batch statistics of a training-mode forward")
        let x = ctx.value(input), y = ctx.value(output), dy = ctx.workspace.grad(output)!
        let m = input.shape.perChannel
        let mean = ctx.region(saved), invstd = mean + channels
        let sumDy = mean + 2 * channels, sumDyXhat = mean + 3 * channels
        BatchNormKernels.gradientSums(x: x, y: y, dy: dy, channels: channels, m: m, mean: mean, invstd: invstd,
                                      relu: fuseReLU, sumDy: sumDy, sumDyXhat: sumDyXhat, pool: ctx.pool)
        if let w = weight, let b = bias {
            ctx.grad(w).update(from: sumDyXhat, count: channels)
            ctx.grad(b).update(from: sumDy, count: channels)
        }
        guard let dx = ctx.workspace.grad(input) else { return }
        BatchNormKernels.inputGradient(x: x, y: y, dy: dy, channels: channels, m: m, mean: mean, invstd: invstd,
                                       gamma: weight.map { UnsafePointer(ctx.param($0)) }, relu: fuseReLU,
                                       sumDy: sumDy, sumDyXhat: sumDyXhat, dx: dx,
                                       accumulate: ctx.workspace.accumulates(inputGrad), pool: ctx.pool)
    }

    public func initialize(_ store: ParameterStore, seed: UInt64) {
        if let w = weight { (store.values.base + w).update(repeating: 1, count: channels) }
        if let b = bias { (store.values.base + b).update(repeating: 0, count: channels) }
        (store.bufferValues.base + runningMean).update(repeating: 0, count: channels)
        (store.bufferValues.base + runningVar).update(repeating: 1, count: channels)
        store.bufferValues.base[batchesTracked] = 0
    }
}
