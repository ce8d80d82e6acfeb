// Which kernels a conv with a sparse kind runs, from its geometry and its
// effective weight's current density: a cost model of the dense path (GEMM,
// Winograd) and of the sparse kernels (SpMM, SDDMM, im2col), fitted by
// `strdist bench-sparse --fit` on the machines in the README, with hysteresis
// so a layer near the crossover does not flap. Deterministic: the same
// densities give the same plans on every rank and after a resume.

public enum SparsePolicy {
    /// Above this density the sparse kernels never run (`auto` plans no memory for denser weights).
    public static let maxDensity = 0.5
    /// A switch needs the other plan this much cheaper than the current one.
    public static let hysteresis = 0.1

    public static func choose(_ g: ConvGeometry, density: Double, current: ConvExecution, training: Bool,
                              keptOnlyGradient: Bool) -> ConvExecution {
        guard density <= maxDensity else { return .dense }
        let cost = SparseCostModel.default
        let dense = cost.dense(g, training: training)
        let sparse = cost.sparse(g, density: density, training: training, keptOnlyGradient: keptOnlyGradient)
        switch current {
        case .dense: return sparse < dense * (1 - hysteresis) ? .sparse : .dense
        case .sparse: return sparse > dense * (1 + hysteresis) ? .dense : .sparse
        }
    }
}
