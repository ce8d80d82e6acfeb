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
        train: Coefficients(dense: [1.108e-11, 1.218e-11, 6.615e-12], denseElement: 3.431e-10, denseColumn: 3.2e-10,
                            denseWeight: [1.12e-09, 1.738e-09, 1.303e-09],
                            sparse: [2.062e-11, 3.446e-11, 2.117e-11], sparseElement: [2.605e-10, 6.864e-10, 2.483e-10],
                            visit: [2.312e-09, 0, 1.339e-08], weight: 1.392e-09),
        eval: Coefficients(dense: [3.786e-12, 3.622e-12, 2.372e-12], denseElement: 1.531e-10, denseColumn: 1.877e-10,
                           denseWeight: [4.475e-10, 9.652e-10, 3.853e-10],
                           sparse: [6.405e-12, 1e-11, 6.395e-12], sparseElement: [7.713e-11, 2.241e-10, 1.171e-10],
                           visit: [3.476e-10, 1.16e-09, 9.204e-09], weight: 6.005e-11))

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
    /// forward SpMM, and in training the transposed SpMM and the SDDMM. Blocks are counted as
    /// CompressedWeight aims at them (about 16 entries per row and block) but without its rounding to
    /// powers of two, so the cost rises smoothly with density (hysteresis needs no jumps).
    static func visits(_ g: ConvGeometry, density: Double, training: Bool) -> Double {
        let k = Double(g.colRows), o = Double(g.outChannels)
        let positions = layout(g) == 1 ? ShiftedPlanes(g).planes : g.columns
        let tiles = Double((positions + 63) / 64)
        func blocks(span: Double, perColumn: Double) -> Double {
            // Under two base blocks the build never splits (CompressedWeight.blockSpan).
            if span < Double(2 * CompressedWeight.baseBlockCols) { return 1 }
            let ideal = CompressedWeight.entriesPerBlockRow / max(perColumn, 1e-9)
            let width = min(max(ideal, Double(CompressedWeight.baseBlockCols)), Double(CompressedWeight.maxBlockCols))
            return max(1, span / width)
        }
        let forward = o * blocks(span: k, perColumn: density)
        guard training else { return forward * tiles }
        guard g.inputGradient else { return 2 * forward * tiles }
        let tRows = layout(g) == 1 ? Double(g.inChannels) : k
        return (2 * forward + tRows * blocks(span: o, perColumn: density * k / tRows)) * tiles
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
