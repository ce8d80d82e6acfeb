// MaxPool2d, AvgPool2d and AdaptiveAvgPool2d(1) layers over CNHW planes.

/// The geometry of a k/s/p pool over `input` and its planned output.
private func planPool(_ input: ActRef, _ planner: WorkspacePlanner, kernel: Int, stride: Int, padding: Int)
    -> (PoolGeometry, ActRef) {
    let s = input.shape
    let g = PoolGeometry(kernel: kernel, stride: stride, padding: padding, planes: s.channels * s.batch,
                         inH: s.height, inW: s.width)
    return (g, planner.activation(ActShape(channels: s.channels, batch: s.batch, height: g.outH, width: g.outW)))
}

public final class MaxPool2d: Layer {
    public let kernel: Int, stride: Int, padding: Int
    private var input: ActRef!, output: ActRef!
    private var inputGrad = GradUse.none
    private var argmax = WorkspaceRegion<Float>.none
    private var geometry: PoolGeometry!

    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        kernel = kernelSize; self.stride = stride ?? kernelSize; self.padding = padding
    }

    public func plan(_ input: ActRef, _ planner: WorkspacePlanner) -> ActRef {
        (geometry, output) = planPool(input, planner, kernel: kernel, stride: stride, padding: padding)
        self.input = input
        inputGrad = planner.use(input, by: self)
        argmax = planner.region(output.shape.count)
        return output
    }

    public func forward(_ ctx: StepContext) {
        let start = ctx.profileStart()
        // The argmax only for backward.
        PoolingKernels.maxForward(ctx.value(input), ctx.value(output), argmax: ctx.training ? ctx.region(argmax) : nil,
                                  geometry, pool: ctx.pool)
        ctx.profiled("pool", backward: false, since: start,
                     floats: input.shape.count + (ctx.training ? 2 : 1) * output.shape.count)
    }

    public func backward(_ ctx: StepContext) {
        guard let dx = ctx.workspace.grad(input) else { return }
        let start = ctx.profileStart()
        PoolingKernels.maxBackward(ctx.workspace.grad(output)!, argmax: ctx.region(argmax), dx,
                                   accumulate: ctx.workspace.accumulates(inputGrad), geometry, pool: ctx.pool)
        ctx.profiled("pool", backward: true, since: start, floats: 2 * input.shape.count + 2 * output.shape.count)
    }
}

public final class AvgPool2d: Layer {
    public let kernel: Int, stride: Int, padding: Int
    private var input: ActRef!, output: ActRef!
    private var inputGrad = GradUse.none
    private var geometry: PoolGeometry!

    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        kernel = kernelSize; self.stride = stride ?? kernelSize; self.padding = padding
    }

    public func plan(_ input: ActRef, _ planner: WorkspacePlanner) -> ActRef {
        (geometry, output) = planPool(input, planner, kernel: kernel, stride: stride, padding: padding)
        self.input = input
        inputGrad = planner.use(input, by: self)
        return output
    }

    public func forward(_ ctx: StepContext) {
        let start = ctx.profileStart()
        PoolingKernels.avgForward(ctx.value(input), ctx.value(output), geometry, pool: ctx.pool)
        ctx.profiled("pool", backward: false, since: start, floats: input.shape.count + output.shape.count)
    }

    public func backward(_ ctx: StepContext) {
        guard let dx = ctx.workspace.grad(input) else { return }
        let start = ctx.profileStart()
        PoolingKernels.avgBackward(ctx.workspace.grad(output)!, dx, accumulate: ctx.workspace.accumulates(inputGrad),
                                   geometry, pool: ctx.pool)
        ctx.profiled("pool", backward: true, since: start, floats: 2 * input.shape.count + output.shape.count)
    }
}

/// AdaptiveAvgPool2d(1): [C, N, H, W] → [C, N, 1, 1].
public final class GlobalAvgPool: Layer {
    private var input: ActRef!, output: ActRef!
    /// The planned input shape.
    public var inputShape: ActShape? { input?.shape }
    /// C·H·W per image, as the reference counts the pool.
    public var reportedMACs: Int { input.map { $0.shape.channels * $0.shape.plane } ?? 0 }
    private var inputGrad = GradUse.none

    public init() {}

    public func plan(_ input: ActRef, _ planner: WorkspacePlanner) -> ActRef {
        self.input = input
        inputGrad = planner.use(input, by: self)
        output = planner.activation(ActShape(channels: input.shape.channels, batch: input.shape.batch, height: 1, width: 1))
        return output
    }

    public func forward(_ ctx: StepContext) {
        let s = input.shape, start = ctx.profileStart()
        PoolingKernels.globalAvgForward(ctx.value(input), ctx.value(output), planes: s.channels * s.batch,
                                        plane: s.plane, pool: ctx.pool)
        ctx.profiled("pool", backward: false, since: start, floats: s.count + output.shape.count)
    }

    public func backward(_ ctx: StepContext) {
        guard let dx = ctx.workspace.grad(input) else { return }
        let s = input.shape, start = ctx.profileStart()
        PoolingKernels.globalAvgBackward(ctx.workspace.grad(output)!, dx, accumulate: ctx.workspace.accumulates(inputGrad),
                                         planes: s.channels * s.batch, plane: s.plane, pool: ctx.pool)
        ctx.profiled("pool", backward: true, since: start, floats: s.count + output.shape.count)
    }
}
