// ReLU as a layer of its own (BatchNorm2d can fuse it instead), and the
// residual join relu(a + b) that ends a ResNet block (which the BatchNorm
// producing `a` computes instead when ResidualFusion plans it).

public final class ReLU: Layer {
    private var input: ActRef!
    private var output: ActRef!
    private var inputGrad = GradUse.none

    public init() {}

    public func plan(_ input: ActRef, _ planner: WorkspacePlanner) -> ActRef {
        self.input = input
        inputGrad = planner.use(input, by: self)
        output = planner.activation(input.shape)
        return output
    }

    public func forward(_ ctx: StepContext) {
        let start = ctx.profileStart()
        ElementwiseKernels.reluForward(ctx.value(input), ctx.value(output), input.shape.count, pool: ctx.pool)
        ctx.profiled("relu", backward: false, since: start, floats: 2 * input.shape.count)
    }

    public func backward(_ ctx: StepContext) {
        guard let dx = ctx.workspace.grad(input) else { return }
        let start = ctx.profileStart()
        defer {
            let passes = ctx.workspace.accumulates(inputGrad) ? 4 : 3
            ctx.profiled("relu", backward: true, since: start, floats: passes * input.shape.count)
        }
        ElementwiseKernels.reluBackward(ctx.value(output), ctx.workspace.grad(output)!, dx,
                                        accumulate: ctx.workspace.accumulates(inputGrad), input.shape.count,
                                        pool: ctx.pool)
    }
}

/// y = relu(a + b) for two planned activations of the same shape.
public final class AddReLU {
    private var a: ActRef!, b: ActRef!
    private var output: ActRef!
    private var gradA = GradUse.none
    /// The shortcut's gradient use (a norm that computes this join writes that gradient).
    private(set) var gradB = GradUse.none
    /// The main path's output, the shortcut's and the join's, for the norm that computes the join
    /// (ResidualFusion) or a conv that computes it in its store at inference (its ConvEpilogue).
    var main: ActRef { a }
    var shortcut: ActRef { b }
    var outputRef: ActRef { output }
    /// The conv whose epilogue computes this join at inference (ConvPlanner.planEpilogues).
    weak var foldingConv: Conv2d?
    /// The BatchNorm that computes this join in its own passes, forward and backward (ResidualFusion.plan).
    weak var fusedNorm: BatchNorm2d?

    public init() {}

    /// Joins a = main(x) and b = shortcut(x).
    public func plan(_ a: ActRef, _ b: ActRef, _ planner: WorkspacePlanner) -> ActRef {
        precondition(a.shape == b.shape, "residual shapes differ: \(a.shape) vs \(b.shape)")
        self.a = a; self.b = b
        gradA = planner.use(a, by: self); gradB = planner.use(b, by: self)
        output = planner.activation(a.shape)
        planner.produced(output, by: self)
        foldingConv = nil
        fusedNorm = nil
        return output
    }

    public func forward(_ ctx: StepContext) {
        if fusedNorm != nil || (!ctx.training && foldingConv?.ranEpilogue == true) { return }
        let start = ctx.profileStart()
        ElementwiseKernels.addReluForward(ctx.value(a), ctx.value(b), ctx.value(output), a.shape.count, pool: ctx.pool)
        ctx.profiled("relu+add", backward: false, since: start, floats: 3 * a.shape.count)
    }

    public func backward(_ ctx: StepContext) {
        if fusedNorm != nil { return }
        let n = a.shape.count, y = ctx.value(output), dy = ctx.workspace.grad(output)!
        let da = ctx.workspace.grad(a), db = ctx.workspace.grad(b)
        let accA = ctx.workspace.accumulates(gradA), accB = ctx.workspace.accumulates(gradB)
        // Passes: read y and ∂Y, write each gradient (read it first when accumulating).
        let start = ctx.profileStart()
        defer {
            let passes = 2 + (da == nil ? 0 : accA ? 2 : 1) + (db == nil ? 0 : accB ? 2 : 1)
            ctx.profiled("relu+add", backward: true, since: start, floats: passes * n)
        }
        if let da = da, let db = db {
            ElementwiseKernels.addReluBackward(y, dy, da, accumulateA: accA, db, accumulateB: accB, n, pool: ctx.pool)
        } else if let d = da ?? db {
            ElementwiseKernels.reluBackward(y, dy, d, accumulate: da != nil ? accA : accB, n, pool: ctx.pool)
        }
    }
}
