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

import Foundation

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

    /// Whether `g`, planned `plan`, runs its products with bf16 operands under `precision`. Only the
    /// im2col and pointwise GEMMs do, and only where that measured faster (ResNet50 b16 on a Zen 4, fwd +
    /// bwd per conv against fp32: 1×1 convs and strided 3×3 about 1.5–2× faster, the 7×7 stem 2×); the
    /// classifier at batch 16 (16 columns, its 2 M weights packed each step) ran slower, hence at least
    /// 256 columns. Winograd keeps fp32 operands: in bf16 its outputs' error was 1.2% RMS (15–17% at
    /// worst) against 0.21% (0.9%) for bf16 im2col, and fp32 Winograd beat or matched bf16 im2col on
    /// every 3×3 stride-1 conv (107 vs 125 ms at 28 px, 111 vs 143 ms at 7 px, level at 56 and 14 px).
    /// The depthwise kernels stay fp32 too; the sparse kernels' products go bf16 by `g.sparseBF16` (Conv2d).
    public static func bf16Products(_ g: ConvGeometry, plan: ConvPlan, precision: Precision) -> Bool {
        precision == .bf16 && (plan == .im2col || plan == .gemm) && g.groupIn >= bf16Minimum.inputChannels
            && g.columns >= bf16Minimum.columns
    }

    /// The smallest conv that runs bf16 products: `STRDIST_BF16_MIN=channels,columns` in the environment
    /// changes it (tests set 0,0 to put tiny models on bf16 products; a tuning knob, not a config key).
    // unsafe: set before any model is planned (tests, or the environment once); plans only read it.
    nonisolated(unsafe) public static var bf16Minimum: (inputChannels: Int, columns: Int) = {
        let parts = ProcessInfo.processInfo.environment["STRDIST_BF16_MIN"]?.split(separator: ",").compactMap { Int($0) }
        guard let p = parts, p.count == 2, p[0] >= 0, p[1] >= 0 else { return (1, 256) }
        return (p[0], p[1])
    }()

    /// How the sparse kernels run `g`: on shifted (or phase) planes where they can — except a stride-2 kernel
    /// above 3×3 (the 7×7/2 stem) whose dense plan has bf16 products (`g.bf16`: at least
    /// `bf16Minimum` channels and columns), which keeps im2col columns. ResNet50 b16 at the STR budget (stem 40%
    /// dense), phase planes against the im2col GEMM: fp32 49 against 53 ms a training step and 19 against 26 ms
    /// inference, bf16 39 against 31 and 15 against 14 ms (the bf16 GEMM runs twice sgemm's speed, the sparse
    /// bf16 products 1.25× theirs) — and the cost model, fitted without the shape, prefers the planes in both.
    public static func sparseLayout(_ g: ConvGeometry) -> SparseLayout {
        let planes = SparseConvKernels.canUseShiftedPlanes(g) && !(g.strideH == 2 && g.kernelH > 3 && g.bf16)
        return planes ? .shifted : g.isPointwise ? .pointwise : .columns
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
