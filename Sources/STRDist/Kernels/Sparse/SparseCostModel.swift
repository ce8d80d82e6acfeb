// Seconds a conv's step costs on the dense path and on the sparse kernels:
// linear in what each path moves and multiplies, with coefficients fitted to
// a density sweep (`strdist bench-sparse --fit`, SparseBenchmark) —
//   dense  = m[alg]·MACs + e·(input + output elements)
//   sparse = s[layout]·density·MACs + t[layout]·(elements the layout moves) + w·weights
// with alg ∈ pointwise GEMM, im2col GEMM, Winograd and layout ∈ pointwise,
// shifted planes, im2col columns; one set of coefficients for a training step
// (forward and both gradients, STR's kept-only weight gradient) and one for
// inference. The defaults are this project's fit (README, "Sparse compute").

import CSparse

public struct SparseCostModel: Sendable, Codable, Equatable {
    public struct Coefficients: Sendable, Codable, Equatable {
        /// Seconds per MAC of the dense path: pointwise GEMM, im2col GEMM, Winograd; per element moved.
        public var dense = [0.0, 0.0, 0.0], denseElement = 0.0
        /// Seconds per kept MAC and per element moved, by layout (pointwise, shifted, im2col); per weight.
        public var sparse = [0.0, 0.0, 0.0], sparseElement = [0.0, 0.0, 0.0], weight = 0.0
    }

    public var train: Coefficients
    public var eval: Coefficients

    /// Fitted by `strdist bench-sparse --arch ResNet50 --batch 16 --threads 2 --fit` on an AMD EPYC with
    /// AVX-512 (OpenBLAS Cooperlake kernels); the policy uses the ratios, which carry across machines.
    public static let `default` = SparseCostModel(
        train: Coefficients(dense: [1.134e-11, 1.385e-11, 8.25e-12], denseElement: 3.25e-10,
                            sparse: [2.057e-11, 3.682e-11, 2.891e-11], sparseElement: [3.265e-10, 9.527e-10, 3.607e-10],
                            weight: 2.516e-9),
        eval: Coefficients(dense: [3.814e-12, 4.649e-12, 3.018e-12], denseElement: 1.237e-10,
                           sparse: [5.926e-12, 1.103e-11, 8.245e-12], sparseElement: [9.026e-11, 3.505e-10, 1.950e-10],
                           weight: 1.984e-10))

    /// The dense path's index: 0 pointwise GEMM, 1 im2col GEMM, 2 Winograd.
    static func algorithm(_ g: ConvGeometry) -> Int { g.winograd ? 2 : g.isPointwise ? 0 : 1 }
    /// The sparse layout's index: 0 pointwise, 1 shifted planes, 2 im2col columns.
    static func layout(_ g: ConvGeometry) -> Int { g.isPointwise ? 0 : SparseConvKernels.usesShiftedPlanes(g) ? 1 : 2 }

    /// Input plus output elements.
    static func io(_ g: ConvGeometry) -> Double { Double(g.inChannels * g.batch * g.inPlane + g.outChannels * g.columns) }

    /// Elements the sparse layout moves besides the products: input and output, padded planes, or columns.
    static func moved(_ g: ConvGeometry) -> Double {
        switch layout(g) {
        case 0: return io(g)
        case 1: let s = ShiftedPlanes(g); return Double((g.inChannels + g.outChannels) * s.planes)
        default: return Double((g.colRows + g.outChannels) * g.columns)
        }
    }

    public func dense(_ g: ConvGeometry, training: Bool) -> Double {
        let c = training ? train : eval
        return c.dense[Self.algorithm(g)] * Double(g.macs) + c.denseElement * Self.io(g)
    }

    /// The sparse kernels at `density`; a dense-rule (DNW) weight gradient costs the dense path's third.
    public func sparse(_ g: ConvGeometry, density: Double, training: Bool, keptOnlyGradient: Bool) -> Double {
        let c = training ? train : eval, l = Self.layout(g)
        var t = c.sparse[l] * density * Double(g.macs) + c.sparseElement[l] * Self.moved(g) + c.weight * Double(g.weightCount)
        if training && !keptOnlyGradient { t = t * 2 / 3 + dense(g, training: true) / 3 }
        return t
    }
}

/// The sparse kernels' instruction set, for reports.
public enum SparseISA {
    public static var name: String { ["portable C", "AVX2", "AVX-512"][Int(sp_isa())] }
}
