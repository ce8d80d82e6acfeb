// Seconds a conv's step costs under each plan (ConvPlan): linear in what the
// plan moves and multiplies, with coefficients fitted to a density sweep
// (`strdist bench-sparse --fit`, SparseBenchmark). One function,
// `features(g, plan, …)`, lists what a plan's seconds are linear in; the
// prediction and the fit both read it —
//   dense  = m[alg]·MACs + e·(input + output elements) + c·(im2col elements)
//            + u[alg]·weights + r·(Winograd-transformed elements)
//   sparse = s[layout]·density·MACs + t[layout]·(elements the layout moves)
//            + v[layout]·(row visits) + w·weights
// (a row visit: one output row's 64-column tile loaded and stored for one block
// of the compressed weight — what a sparse row with few entries per block pays
// besides its multiply-adds; CompressedWeight picks the blocks from the density)
// with alg ∈ GEMM (pointwise), im2col GEMM, Winograd and layout ∈ pointwise,
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
        /// Seconds per element Winograd transforms (input and output tiles, 36 points each).
        public var winogradElement = 0.0
        /// Seconds per kept MAC, per element moved and per row visit, by layout (pointwise, shifted,
        /// im2col); per weight.
        public var sparse = [0.0, 0.0, 0.0], sparseElement = [0.0, 0.0, 0.0], visit = [0.0, 0.0, 0.0]
        public var weight = 0.0

        /// The coefficients in the order `features` lists a dense plan's or a sparse plan's terms.
        func vector(sparse isSparse: Bool) -> SIMD16<Double> {
            var v = SIMD16<Double>()
            if isSparse {
                for i in 0..<3 { v[i] = sparse[i]; v[3 + i] = sparseElement[i]; v[6 + i] = visit[i] }
                v[9] = weight
            } else {
                for i in 0..<3 { v[i] = dense[i]; v[5 + i] = denseWeight[i] }
                v[3] = denseElement; v[4] = denseColumn; v[8] = winogradElement
            }
            return v
        }

        /// The inverse of `vector`: a fit's solution as coefficients.
        init(dense d: [Double], sparse s: [Double]) {
            self.init(dense: Array(d[0..<3]), denseElement: d[3], denseColumn: d[4], denseWeight: Array(d[5..<8]),
                      winogradElement: d[8], sparse: Array(s[0..<3]), sparseElement: Array(s[3..<6]),
                      visit: Array(s[6..<9]), weight: s[9])
        }

        public init(dense: [Double] = [0, 0, 0], denseElement: Double = 0, denseColumn: Double = 0,
                    denseWeight: [Double] = [0, 0, 0], winogradElement: Double = 0, sparse: [Double] = [0, 0, 0],
                    sparseElement: [Double] = [0, 0, 0], visit: [Double] = [0, 0, 0], weight: Double = 0) {
            self.dense = dense; self.denseElement = denseElement; self.denseColumn = denseColumn
            self.denseWeight = denseWeight; self.winogradElement = winogradElement; self.sparse = sparse
            self.sparseElement = sparseElement; self.visit = visit; self.weight = weight
        }
    }

    /// How many of `features`' slots a dense plan and a sparse plan use (the fit's unknowns).
    static let denseFeatures = 9, sparseFeatures = 10

    public var train: Coefficients
    public var eval: Coefficients

    /// Fitted by `strdist bench-sparse --arch ResNet50 --batch 16 --threads 2 --fit` on an AMD EPYC Zen 4
    /// (family 25 model 17: AVX-512 on 256-bit units, OpenBLAS Cooperlake kernels, 2 cores); the planner
    /// compares costs, so the ratios matter, and they carry across machines better than the seconds.
    public static let `default` = SparseCostModel(
        train: Coefficients(dense: [3.368e-11, 4.017e-11, 1.501e-11], denseElement: 1.09e-09, denseColumn: 1.299e-09,
                            denseWeight: [2.174e-09, 0, 1.017e-08], winogradElement: 1.284e-09,
                            sparse: [6.556e-11, 8.613e-11, 7.456e-11], sparseElement: [7.636e-10, 2.008e-09, 1.261e-09],
                            visit: [3.809e-09, 3.9e-09, 2.657e-08], weight: 4.444e-09),
        eval: Coefficients(dense: [1.053e-11, 1.059e-11, 5.165e-12], denseElement: 4.4e-10, denseColumn: 6.975e-10,
                           denseWeight: [5.259e-10, 2.798e-09, 3.754e-09], winogradElement: 5.354e-10,
                           sparse: [1.687e-11, 2.597e-11, 2.162e-11], sparseElement: [3.381e-10, 7.708e-10, 6.771e-10],
                           visit: [8.561e-09, 0, 9.397e-09], weight: 2.336e-10))

    /// What the bf16 product costs per multiply-add against the fp32 GEMM's, and per column element
    /// (each column is also rounded and packed): bf16_gemm ran 1.9–2.4× OpenBLAS's sgemm on ResNet50's
    /// shapes (scripts/bench-bf16-gemm.sh), and whole bf16 convs 0.55–0.65× their fp32 time (bench
    /// --profile, ResNet50 b16). Not fitted: scales the fp32 fit where `g.bf16` (the sparse kernels gain
    /// less in bf16 — bf16SparseMAC — so their crossover moves to lower densities).
    public static let bf16MAC = 0.5, bf16Column = 1.5

    /// What a kept multiply-add of the sparse kernels costs with bf16 operands against fp32. The inner
    /// loop alone ran 1.35–1.84× the fp32 one (one tile in cache, scripts/probes/spmm_bf16_pairs.c), but
    /// whole products on ResNet50's pointwise shapes only 1.0–1.7× forward and 1.05–1.36× backward: their
    /// tiles are packed from memory either way. Not fitted; 0.6 put the 7×7 stem at 40% density on the
    /// sparse kernels, slower there than the dense bf16 product (20.8 + 27.6 against 15.8 + 19.0 ms).
    public static let bf16SparseMAC = 0.8

    /// Seconds of one step of `g` under `plan` (the weight at `density` for a sparse plan). A dense-rule
    /// (DNW) weight gradient on the sparse kernels is a third of `dense`'s cost. A dense GEMM plan of a
    /// conv planned with bf16 products (`g.bf16`) is priced at bf16MAC and bf16Column, a sparse plan's
    /// bf16 products (`g.sparseBF16`) at bf16SparseMAC.
    public func seconds(_ g: ConvGeometry, _ plan: ConvPlan, density: Double = 1, training: Bool,
                        keptOnlyGradient: Bool = true, dense: ConvPlan = .im2col) -> Double {
        let c = training ? train : eval
        var f = Self.features(g, plan, density: density, training: training)
        if g.bf16 && plan == .im2col {
            f[1] *= Self.bf16MAC; f[4] *= Self.bf16Column
        } else if g.bf16 && plan == .gemm {
            f[0] *= Self.bf16MAC; f[4] = Double(g.groupIn * g.columns) * (Self.bf16Column - 1)
        } else if g.sparseBF16, case .sparse(let layout) = plan {
            f[layout.rawValue] *= Self.bf16SparseMAC
        }
        let t = (f * c.vector(sparse: plan.isSparse)).sum()
        guard plan.isSparse && training && !keptOnlyGradient else { return t }
        return t * 2 / 3 + seconds(g, dense, training: true) / 3
    }

    /// What `plan`'s seconds on `g` are linear in, in the order of `Coefficients.vector`. A dense plan:
    /// MACs by algorithm (GEMM, im2col, Winograd), input and output elements, im2col column elements,
    /// weights by algorithm, Winograd-transformed elements. A sparse plan: kept MACs, elements moved
    /// and row visits by layout (pointwise, shifted, columns), weights. Depthwise convs are not modelled
    /// (they never choose): all zero.
    static func features(_ g: ConvGeometry, _ plan: ConvPlan, density: Double, training: Bool) -> SIMD16<Double> {
        var f = SIMD16<Double>()
        let share = training && !g.inputGradient ? 2.0 / 3 : 1
        switch plan {
        case .depthwise:
            break
        case .gemm, .im2col, .winograd:
            let a = plan == .gemm ? 0 : plan == .im2col ? 1 : 2
            f[a] = (plan == .winograd ? winogradMACs(g) : Double(g.macs)) * share
            f[3] = io(g)
            f[4] = plan == .im2col ? Double(g.colRows * g.columns) : 0
            f[5 + a] = Double(g.weightCount)
            f[8] = plan == .winograd ? winogradTransformed(g) * share : 0
        case .sparse(let layout):
            let l = layout.rawValue
            f[l] = density * Double(g.macs) * share
            f[3 + l] = moved(g, layout)
            f[6 + l] = visits(g, layout, density: density, training: training)
            f[9] = Double(g.weightCount)
        }
        return f
    }

    /// Input plus output elements.
    static func io(_ g: ConvGeometry) -> Double { Double(g.inChannels * g.batch * g.inPlane + g.outChannels * g.columns) }

    /// Elements the sparse layout moves besides the products: input and output, padded planes, or columns.
    static func moved(_ g: ConvGeometry, _ layout: SparseLayout) -> Double {
        switch layout {
        case .pointwise: return io(g)
        case .shifted: let s = ShiftedPlanes(g); return Double((s.inputRows + g.outChannels) * s.planes)
        case .columns: return Double((g.colRows + g.outChannels) * g.columns)
        }
    }

    /// Multiply-adds of Winograd F(4×4, 3×3): whole 4×4 output tiles (a 7×7 or 14×14 plane is 31%
    /// padding).
    static func winogradMACs(_ g: ConvGeometry) -> Double {
        let h = (g.outH + 3) / 4 * 4, w = (g.outW + 3) / 4 * 4
        return Double(g.macs) * Double(h * w) / Double(g.outH * g.outW)
    }

    /// Elements Winograd's transforms touch: every tile's 36 points, per input and per output channel.
    static func winogradTransformed(_ g: ConvGeometry) -> Double {
        let tiles = g.batch * ((g.outH + 3) / 4) * ((g.outW + 3) / 4)
        return Double(36 * tiles * (g.inChannels + g.outChannels))
    }

    /// Output-row tiles the products load and store, one per block of the compressed weight: the
    /// forward SpMM, and in training the transposed SpMM and the SDDMM. Blocks are counted as
    /// CompressedWeight aims at them (about 16 entries per row and block) but without its rounding to
    /// powers of two, so the cost rises smoothly with density (hysteresis needs no jumps).
    static func visits(_ g: ConvGeometry, _ layout: SparseLayout, density: Double, training: Bool) -> Double {
        let k = Double(g.colRows), o = Double(g.outChannels)
        let positions = layout == .shifted ? ShiftedPlanes(g).planes : g.columns
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
        let tRows = layout == .shifted ? Double(ShiftedPlanes(g).inputRows) : k
        return (2 * forward + tRows * blocks(span: o, perColumn: density * k / tRows)) * tiles
    }
}

/// The sparse kernels' instruction set, for reports.
public enum SparseISA {
    public static var name: String { ["portable C", "AVX2", "AVX-512"][Int(sp_isa())] }
}
