// The activation memory a conv's passes sweep, in bytes, estimated from its
// shape and plan for the profile's `act MB` column: the input and output, and
// every staged copy (im2col columns, the sparse kernels' zero-padded planes,
// Winograd's transformed tiles) counted once written and once read. Weights
// are not counted, nor the depthwise kernel's phase planes (one image plane at
// a time, in cache); a pass counts whole even where its data is still in cache.

import STRDistKernels

enum ConvTraffic {
    /// Forward: read x (in bf16 when a BatchNorm handed it over so: half), write y (in bf16 for a BatchNorm that
    /// takes it so: half; and read the shortcut when the epilogue joins it), plus the staging.
    static func forward(_ g: ConvGeometry, _ plan: ConvPlan, residual: Bool, bf16Input: Bool = false,
                        bf16Output: Bool = false) -> Double {
        let input = Double(g.inChannels * g.batch * g.inPlane), output = Double(g.outChannels * g.columns)
        return 4 * (input * (bf16Input ? 0.5 : 1) + output * (residual ? 2 : bf16Output ? 0.5 : 1)
            + 2 * staged(g, plan, gradient: false))
    }

    /// Backward: read ∂Y (in bf16 when a BatchNorm handed it over so: half) and x (for ∂W; bf16 likewise), write
    /// ∂X (read it first when accumulating), plus the staging of both gradients.
    static func backward(_ g: ConvGeometry, _ plan: ConvPlan, accumulate: Bool, bf16Input: Bool = false,
                         bf16OutputGradient: Bool = false) -> Double {
        let input = Double(g.inChannels * g.batch * g.inPlane), output = Double(g.outChannels * g.columns)
        let dx = g.inputGradient ? input * (accumulate ? 2 : 1) : 0
        return 4 * (output * (bf16OutputGradient ? 0.5 : 1) + input * (bf16Input ? 0.5 : 1) + dx
            + 2 * staged(g, plan, gradient: true))
    }

    /// Floats (bf16 halves counted as half a float) staged between the activations and the products.
    private static func staged(_ g: ConvGeometry, _ plan: ConvPlan, gradient: Bool) -> Double {
        let columns = Double(g.colRows * g.columns) * (g.bf16 && !plan.isSparse ? 0.5 : 1)
        let both = gradient && g.inputGradient ? 2.0 : 1
        switch plan {
        case .gemm, .depthwise: return 0
        case .im2col: return columns * both
        case .winograd: return SparseCostModel.winogradTransformed(g) * both
        case .sparse(.pointwise): return 0
        case .sparse(.columns):
            // A 1×1/2 conv gathers its tiles from the input (its bf16 backward still from columns).
            return SparseConvKernels.subsamples(g) && !(gradient && g.sparseBF16) ? 0 : columns * both
        case .sparse(.shifted):
            // x's and ∂Y's planes are bf16 under sparseBF16; ∂x's padded planes stay fp32 (the forward stores straight
            // into y).
            let planes = Double(ShiftedPlanes(g).planes), h = g.sparseBF16 ? 0.5 : 1
            let c = Double(ShiftedPlanes(g).inputRows), o = Double(g.outChannels)
            return gradient ? (c * h + (g.inputGradient ? c : 0) + o * h) * planes : c * h * planes
        }
    }
}
