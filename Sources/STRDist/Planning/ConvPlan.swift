// How one conv layer computes: one value, chosen by ConvPlanner, that forward,
// backward, the sparse kernels' dispatch and the profile all switch on.

/// The kernels a conv runs.
public enum ConvPlan: Equatable, Sendable {
    /// One filter per channel (the direct depthwise kernel).
    case depthwise
    /// 1×1 stride-1: one GEMM on the input, no im2col.
    case gemm
    /// im2col columns and one GEMM per chunk.
    case im2col
    /// Winograd F(4×4, 3×3) for 3×3 stride-1.
    case winograd
    /// The compressed effective weight on the sparse kernels.
    case sparse(SparseLayout)

    public var isSparse: Bool { if case .sparse = self { return true } else { return false } }

    /// The profile's name: sparse, depthwise, winograd, gemm or im2col.
    public var name: String {
        switch self {
        case .depthwise: return "depthwise"
        case .gemm: return "gemm"
        case .im2col: return "im2col"
        case .winograd: return "winograd"
        case .sparse: return "sparse"
        }
    }
}
