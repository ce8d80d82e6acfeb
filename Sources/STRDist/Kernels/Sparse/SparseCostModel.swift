// Seconds a conv's step costs on the dense path and on the sparse kernels:
// linear in what each path moves and multiplies, with coefficients fitted to
// a density sweep (`strdist bench-sparse --fit`, SparseBenchmark) —
//   dense  = m[alg]·MACs + e·(input + output elements) + c·(im2col elements)
//            + u[alg]·weights (Winograd transforms its weights every step)
//   sparse = s[layout]·density·MACs + t[layout]·(elements the layout moves)
//            + v[layout]·(row visits) + w·weights
// (a row visit: one output row's 64-column tile loaded and stored for one block
// of the compressed weight — what a sparse row with few entries per block pays
// besides its multiply-adds; CompressedWeight picks the blocks from the density)
// with alg ∈ pointwise GEMM, im2col GEMM, Winograd and layout ∈ pointwise,
// shifted planes, im2col columns; one set of coefficients for a training step
// (forward and both gradients, STR's kept-only weight gradient) and one for
// inference. The defaults are this project's fit (README, "Sparse compute").

import CSparse

public struct SparseCostModel: Sendable, Codable, Equatable {
    public struct Coefficients: Sendable, Codable, Equatable {
        /// Seconds per MAC of the dense path: pointwise GEMM, im2col GEMM, Winograd; per element of
        /// input and output, and per im2col column element.
        public var dense = [0.0, 0.0, 0.0], denseElement = 0.0, denseColumn = 0.0
        /// Seconds per weight of the dense path, by algorithm.
        public var denseWeight = [0.0, 0.0, 0.0]
        /// Seconds per kept MAC, per element moved and per row visit, by layout (pointwise, shifted,
        /// im2col); per weight.
        public var sparse = [0.0, 0.0, 0.0], sparseElement = [0.0, 0.0, 0.0], visit = [0.0, 0.0, 0.0]
        public var weight = 0.0
    }

    public var train: Coefficients
    public var eval: Coefficients

    /// Fitted by `strdist bench-sparse --arch ResNet50 --batch 16 --threads 2 --fit` on an AMD EPYC with
    /// AVX-512 (OpenBLAS Cooperlake kernels); the policy uses the ratios, which carry across machines.
    public static let `default` = SparseCostModel(
        train: Coefficients(dense: [1.093e-11, 1.266e-11, 6.827e-12], denseElement: 4.33e-10, denseColumn: 3.452e-10,
                            denseWeight: [1.058e-09, 1.246e-09, 1.621e-09],
                            sparse: [2.099e-11, 3.5e-11, 1.937e-11], sparseElement: [2.428e-10, 6.736e-10, 1.979e-10],
                            visit: [1.651e-09, 0, 1.719e-08], weight: 1.277e-09),
        eval: Coefficients(dense: [3.723e-12, 3.664e-12, 2.426e-12], denseElement: 1.507e-10, denseColumn: 2.374e-10,
                           denseWeight: [3.005e-10, 6.976e-10, 3.918e-10],
                           sparse: [6.581e-12, 1.026e-11, 6.549e-12], sparseElement: [7.874e-11, 2.129e-10, 1.21e-10],
                           visit: [0, 1.591e-09, 1.01e-08], weight: 6.545e-11))

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

    /// The share of a step's products a conv runs: all three in training (forward, ∂X, ∂W) but
    /// two for one without ∂X; the forward alone at inference.
    static func share(_ g: ConvGeometry, training: Bool) -> Double { training && !g.inputGradient ? 2.0 / 3 : 1 }

    /// Multiply-adds of the dense path: Winograd computes whole 4×4 output tiles (a 7×7 or 14×14
    /// plane is 31% padding).
    static func denseMACs(_ g: ConvGeometry) -> Double {
        guard g.winograd else { return Double(g.macs) }
        let h = (g.outH + 3) / 4 * 4, w = (g.outW + 3) / 4 * 4
        return Double(g.macs) * Double(h * w) / Double(g.outH * g.outW)
    }

    public func dense(_ g: ConvGeometry, training: Bool) -> Double {
        let c = training ? train : eval
        return c.dense[Self.algorithm(g)] * Self.denseMACs(g) * Self.share(g, training: training) + c.denseElement * Self.io(g)
            + c.denseColumn * Self.columnElements(g) + c.denseWeight[Self.algorithm(g)] * Double(g.weightCount)
    }

    /// Elements of the im2col columns the dense GEMM path builds (none for pointwise GEMM and Winograd).
    static func columnElements(_ g: ConvGeometry) -> Double { algorithm(g) == 1 ? Double(g.colRows * g.columns) : 0 }

    /// Output-row tiles the products load and store, one per block of the compressed weight: the
    /// forward SpMM, and in training the transposed SpMM and the SDDMM.
    static func visits(_ g: ConvGeometry, density: Double, training: Bool) -> Double {
        let k = g.colRows, o = g.outChannels, entries = Int(density * Double(o * k))
        let positions = layout(g) == 1 ? ShiftedPlanes(g).planes : g.columns
        let tiles = Double((positions + 63) / 64)
        let span = CompressedWeight.blockSpan(entries: entries, rows: o, span: k)
        let forward = Double(o * ((k + span - 1) / span))
        guard training else { return forward * tiles }
        guard g.inputGradient else { return 2 * forward * tiles }
        let tRows = layout(g) == 1 ? g.inChannels : k
        let tSpan = CompressedWeight.blockSpan(entries: entries, rows: tRows, span: o)
        return (2 * forward + Double(tRows * ((o + tSpan - 1) / tSpan))) * tiles
    }

    /// The sparse kernels at `density`; a dense-rule (DNW) weight gradient costs the dense path's third.
    public func sparse(_ g: ConvGeometry, density: Double, training: Bool, keptOnlyGradient: Bool) -> Double {
        let c = training ? train : eval, l = Self.layout(g)
        var t = c.sparse[l] * density * Double(g.macs) * Self.share(g, training: training) + c.sparseElement[l] * Self.moved(g) + c.weight * Double(g.weightCount)
            + c.visit[l] * Self.visits(g, density: density, training: training)
        if training && !keptOnlyGradient { t = t * 2 / 3 + dense(g, training: true) / 3 }
        return t
    }
}

/// The sparse kernels' instruction set, for reports.
public enum SparseISA {
    public static var name: String { ["portable C", "AVX2", "AVX-512"][Int(sp_isa())] }
}
