// Seconds a conv's step costs on the dense path and on the sparse kernels,
// as a few per-operation constants (per thread; the ratios are what the
// policy uses). `strdist bench-sparse --fit` measures them; the defaults are
// this project's measurements (README, "Sparse compute").

public struct SparseCostModel: Sendable, Codable {
    /// Seconds per multiply-add: pointwise GEMM, im2col GEMM (the copy included), Winograd (per direct-conv MAC).
    public var gemm = 1 / 125e9, im2colGemm = 1 / 85e9, winograd = 1 / 150e9
    /// Seconds per kept multiply-add: SpMM (forward, input gradient), SDDMM (weight gradient).
    public var spmm = 1 / 50e9, sddmm = 1 / 33e9
    /// Seconds per im2col (or col2im) element of the sparse path, and per weight compressed.
    public var column = 1 / 3e9, compress = 1 / 1.5e9

    public static let `default` = SparseCostModel()

    /// Forward (and, when training, both gradients) on the dense path the geometry chose.
    public func dense(_ g: ConvGeometry, training: Bool) -> Double {
        let macs = Double(g.macs)
        let perMac = g.winograd ? winograd : g.isPointwise ? gemm : im2colGemm
        return macs * perMac * (training ? 3 : 1)
    }

    /// The same on the sparse kernels at `density`; the weight gradient is an SDDMM when only kept
    /// positions need it, else the dense GEMM.
    public func sparse(_ g: ConvGeometry, density: Double, training: Bool, keptOnlyGradient: Bool) -> Double {
        let macs = Double(g.macs), kept = density * macs
        let columns = g.isPointwise ? 0 : Double(g.colRows * g.columns) * column
        let build = Double(g.weightCount) * compress * (training ? 2 : 1)
        let forward = kept * spmm + columns + build
        guard training else { return forward }
        let inputGradient = kept * spmm + columns
        let weightGradient = keptOnlyGradient ? kept * sddmm + columns : macs * (g.isPointwise ? gemm : im2colGemm)
        return forward + inputGradient + weightGradient
    }
}
