// The one place that decides how a conv computes (ConvPlan). At plan time,
// from the geometry and `conv_algorithm`: the dense plan — depthwise, GEMM
// (pointwise), for a 3×3 stride-1 conv Winograd F(4×4, 3×3) or im2col,
// whichever the cost model says a training step is cheaper with, else
// im2col — and, for a layer that can run sparse, the sparse layout. Each
// time the effective weight changes, from its current density: the dense plan
// or the sparse kernels, by a cost model of both (fitted by `strdist
// bench-sparse --fit` on the machines in the README), with hysteresis so a
// layer near the crossover does not flap. Deterministic: the same densities
// give the same plans on every rank and after a resume.

public enum ConvPlanner {
    /// Above this density the sparse kernels never run (`auto` plans no memory for denser weights).
    public static let maxDensity = 0.5
    /// A switch needs the other plan this much cheaper than the current one.
    public static let hysteresis = 0.1

    /// The plan of `g` when the sparse kernels do not run.
    public static func densePlan(_ g: ConvGeometry, algorithm: ConvAlgorithm) -> ConvPlan {
        if g.isDepthwise { return .depthwise }
        if g.isPointwise { return .gemm }
        guard g.winogradApplies else { return .im2col }
        switch algorithm {
        case .winograd: return .winograd
        case .auto:
            let cost = SparseCostModel.default
            return cost.seconds(g, .winograd, training: true) < cost.seconds(g, .im2col, training: true) ? .winograd : .im2col
        case .im2col, .sparse: return .im2col
        }
    }

    /// How the sparse kernels would run `g`.
    public static func sparseLayout(_ g: ConvGeometry) -> SparseLayout {
        SparseConvKernels.usesShiftedPlanes(g) ? .shifted : g.isPointwise ? .pointwise : .columns
    }

    /// The plan for this step of a conv that can run `sparse`, its weight now at `density`, planned `current`.
    public static func choose(_ g: ConvGeometry, dense: ConvPlan, sparse: SparseLayout, density: Double, current: ConvPlan,
                              training: Bool, keptOnlyGradient: Bool) -> ConvPlan {
        guard density <= maxDensity else { return dense }
        let cost = SparseCostModel.default
        let denseCost = cost.seconds(g, dense, training: training)
        let sparseCost = cost.seconds(g, .sparse(sparse), density: density, training: training,
                                      keptOnlyGradient: keptOnlyGradient, dense: dense)
        if current.isSparse { return sparseCost > denseCost * (1 + hysteresis) ? dense : .sparse(sparse) }
        return sparseCost < denseCost * (1 - hysteresis) ? .sparse(sparse) : dense
    }
}
