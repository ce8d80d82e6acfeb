// DNWConv and GMPConv: the floor(rate·numel) smallest |w| zeroed
// (MagnitudeMask), the mask kept in the workspace. DNW's gradient passes
// straight through to every weight and its rate is the target from the start;
// GMP's reaches kept weights only and its rate follows the gradual schedule.
// PruningPlan is the one writer of `pruneRate`.

public final class MagnitudeWeight: MagnitudePruned {
    public let gradientRule: GradientRule
    public var pruneRate: Float = 0
    private var mask = WorkspaceRegion<Float>.none

    /// DNW with the dense (straight-through) rule, GMP with the kept-only one.
    public init(rule: GradientRule) { gradientRule = rule }

    public var kind: SparseKind { gradientRule == .keptOnly ? .gmp : .dnw }
    public var followsSchedule: Bool { gradientRule == .keptOnly }

    public func plan(count: Int, _ planner: WorkspacePlanner) {
        mask = planner.region(count)
        planner.scratch(shared: MagnitudeMask.scratchCount(threads: planner.threads))
    }

    /// floor(prune_rate · numel), as the reference computes it.
    public func prunedCount(_ count: Int) -> Int { Int(Double(pruneRate) * Double(count)) }

    public func forward(_ w: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int, _ ctx: StepContext) {
        MagnitudeMask.apply(w, count: count, prune: prunedCount(count), out: out, mask: ctx.region(mask),
                            pool: ctx.pool, scratch: ctx.workspace.shared)
    }

    public func backward(_ w: UnsafePointer<Float>, grad: UnsafeMutablePointer<Float>, count: Int, _ ctx: StepContext) {
        guard gradientRule == .keptOnly else { return }
        ElementwiseKernels.multiply(grad, by: ctx.region(mask), count, pool: ctx.pool)
    }

    /// The mask decides (a kept weight may itself be 0).
    public func keepMask(_ ctx: StepContext) -> UnsafePointer<Float>? { UnsafePointer(ctx.region(mask)) }
}
