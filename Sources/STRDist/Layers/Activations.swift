// ReLU as a layer of its own (BatchNorm2d can fuse it instead), and the
// residual join relu(a + b) that ends a ResNet block.

public final class ReLU: Layer {
    private var input: ActRef!
    private var output: ActRef!
    private var inputGrad = GradUse.none

    public init() {}

    public func plan(_ input: ActRef, _ planner: WorkspacePlanner) -> ActRef {
        self.input = input
        inputGrad = planner.use(input)
        output = planner.activation(input.shape)
        return output
    }

    public func forward(_ ctx: StepContext) {
        ElementwiseKernels.reluForward(ctx.value(input), ctx.value(output), input.shape.count, pool: ctx.pool)
    }

    public func backward(_ ctx: StepContext) {
        guard let dx = ctx.workspace.grad(input) else { return }
        ElementwiseKernels.reluBackward(ctx.value(output), ctx.workspace.grad(output)!, dx,
                                        accumulate: ctx.workspace.accumulates(inputGrad), input.shape.count,
                                        pool: ctx.pool)
    }
}

/// y = relu(a + b) for two planned activations of the same shape.
public final class AddReLU {
    private var a: ActRef!, b: ActRef!
    private var output: ActRef!
    private var gradA = GradUse.none, gradB = GradUse.none

    public init() {}

    public func plan(_ a: ActRef, _ b: ActRef, _ planner: WorkspacePlanner) -> ActRef {
        precondition(a.shape == b.shape, "residual shapes differ: \(a.shape) vs \(b.shape)")
        self.a = a; self.b = b
        gradA = planner.use(a); gradB = planner.use(b)
        // Backward turns dy into d(a+b) in place; the output's own gradient region holds it.
        output = planner.activation(a.shape)
        return output
    }

    public func forward(_ ctx: StepContext) {
        ElementwiseKernels.addReluForward(ctx.value(a), ctx.value(b), ctx.value(output), a.shape.count, pool: ctx.pool)
    }

    public func backward(_ ctx: StepContext) {
        let n = a.shape.count, dy = ctx.workspace.grad(output)!
        ElementwiseKernels.reluBackward(ctx.value(output), dy, dy, accumulate: false, n, pool: ctx.pool)
        if let da = ctx.workspace.grad(a) {
            ElementwiseKernels.copyOrAdd(dy, da, accumulate: ctx.workspace.accumulates(gradA), n, pool: ctx.pool)
        }
        if let db = ctx.workspace.grad(b) {
            ElementwiseKernels.copyOrAdd(dy, db, accumulate: ctx.workspace.accumulates(gradB), n, pool: ctx.pool)
        }
    }
}
