// A matrix weight with a sparse kind: a linear layer's [out, in] weight, a
// recurrent cell's W and U. It owns the stored tensor (under the key its
// layer names), the kind's WeightTransform and the effective weight
// ŵ = T(w), computed once per training step and reused at evaluation while
// the parameters stay. Products with it are dense GEMMs on ŵ; after
// backward it maps ∂L/∂ŵ onto the stored weight and the kind's own
// parameters and hands them to the all-reduce — a kept-only kind with its
// kept positions, as a conv does.
//
// Its products with a few columns at a time (`multiply`: a recurrent cell's
// step over one sample group, feature-major) run dense (OpenBLAS) or on the
// sparse narrow kernel (sp_spmm_narrow) over ŵ compressed once per step,
// whichever the plan finds faster for the weight's density (`sparsePays`,
// decided in `prepare`).
//
// With SampleGroups the layer writes one ∂L/∂ŵ per group (`leaf`); each is
// mapped through the kind on its own (STR's threshold gradient is a sum
// over the weights, so it must be taken per group for the tree to add the
// same numbers on any rank count), and the groups are added by the tree.

import CSparse

public final class SparseMatrix: SparseWeighted {
    public let name: String
    public let weightKey: String
    /// The stored shape, row-major.
    public let rows: Int, cols: Int
    public let weight: ParameterRef
    public let transform: any WeightTransform
    /// How often one sample uses the matrix (a cell's time steps); set by the layer when it plans.
    public internal(set) var usesPerSample = 1
    public private(set) var effective = WorkspaceRegion<Float>.none
    private var kept = WorkspaceRegion<Int32>.none
    /// Per group: ∂L/∂ŵ (then ∂L/∂w) and the kind's parameters' gradients (`ownCounts` floats each).
    private var leaves = WorkspaceRegion<Float>.none
    private var groups: SampleGroups?
    private let ownCounts: [Int]
    /// The compressed ŵ for sparse products (planned by `planProducts`), their width and algorithm.
    private var compressed: CompressedWeight?
    private var productWidth = 0
    private var productAlgorithm = ConvAlgorithm.auto
    /// ŵᵀ for dense transposed products: OpenBLAS's product with an untransposed left operand and a few
    /// columns takes its small kernels, which allocate (the GEMM seam then computes it itself, slowly);
    /// with the transpose stored it takes the transposed path, which does not.
    private var transposedDense = WorkspaceRegion<Float>.none
    /// Whether this step's products run on the sparse kernel.
    public private(set) var sparseProducts = false
    public var runsSparse: Bool { sparseProducts }
    private var keptCount = -1
    private var version = -1

    /// - Parameters:
    ///   - name: the layer's name in budgets and reports; `key` the stored tensor's state_dict key.
    public init(name: String, key: String, rows: Int, cols: Int, kind: SparseKind, settings: TransformSettings,
                layout: ParameterLayout) {
        self.name = name; weightKey = key
        self.rows = rows; self.cols = cols
        weight = layout.parameter(key, shape: [rows, cols], group: .weight)
        transform = kind.makeTransform(name: name, layout: layout, settings: settings)
        ownCounts = transform.parameters.map { p in layout.parameters.entries.first { $0.offset == p.offset }!.count }
    }

    public var weightCount: Int { rows * cols }

    /// Reserves the effective weight and the kept positions' list, and a gradient leaf per group when
    /// the layer sums its batch in `groups`.
    func plan(_ planner: WorkspacePlanner, groups: SampleGroups?) {
        version = -1
        self.groups = groups
        if let g = groups { leaves = planner.region(g.local * leafStride) }
        guard !transform.isIdentity else { return }
        effective = planner.region(weightCount)
        kept = planner.intRegion(weightCount)
        transform.plan(count: weightCount, planner)
    }

    /// Lets `multiply` run on the sparse kernel for products `width` columns wide: always with `.sparse`,
    /// never with `.im2col` or `.winograd`, and with `.auto` when the plan finds it faster.
    func planProducts(_ planner: WorkspacePlanner, width: Int, algorithm: ConvAlgorithm) {
        productWidth = width; productAlgorithm = algorithm
        transposedDense = planner.region(weightCount)
        guard algorithm == .sparse || (algorithm == .auto && !transform.isIdentity) else { compressed = nil; return }
        let c = CompressedWeight(rows: rows, cols: cols)
        c.plan(planner, capacity: weightCount, transposed: true)
        compressed = c
    }

    /// The narrow sparse product's time per kept entry against OpenBLAS's per multiply-add, measured on
    /// a Zen 4 core (scripts/probes/fastgrnn_products.c: 0.65 ns and about 0.02 ns, at 4–16 columns):
    /// the sparse kernel pays below a density of width/32.
    static func sparsePays(density: Double, width: Int) -> Bool { density < Double(min(width, 16)) / 32 }

    /// ŵ for this forward: computed on every training forward, and at evaluation when the parameters
    /// changed since the last one; with it the products' plan (and ŵ compressed when they run sparse).
    func prepare(_ ctx: StepContext) -> UnsafePointer<Float> {
        guard ctx.training || version != ctx.parameterVersion else { return current(ctx) }
        version = ctx.parameterVersion
        if !transform.isIdentity {
            computeEffectiveWeight(ctx)
            keptCount = -1
            if ctx.training && transform.gradientRule == .keptOnly && ctx.collectives?.wantsKeptPositions == true {
                listKept(ctx)
            }
        }
        if let c = compressed {
            let w = current(ctx), kept = c.countKept(w, mask: nil, ctx)
            sparseProducts = productAlgorithm == .sparse
                || Self.sparsePays(density: Double(kept) / Double(weightCount), width: productWidth)
            if sparseProducts { c.fill(w, mask: nil, ctx) }
        }
        if productWidth > 0 && !sparseProducts {
            let w = current(ctx), t = ctx.region(transposedDense)
            for i in 0..<rows { for o in 0..<cols { t[o * rows + i] = w[i * cols + o] } }
        }
        return current(ctx)
    }

    /// y[o][j] (+)= Σ_i ŵ[i, o]·x[i][j] for j < width: x's rows (one per stored row) `ldx` apart, y's (one
    /// per stored column) `ldy` apart. Any thread may call it between `prepare` and the next one.
    func multiply(_ ctx: StepContext, _ x: UnsafePointer<Float>, ldx: Int, into y: UnsafeMutablePointer<Float>, ldy: Int,
                  width: Int, accumulate: Bool) {
        if sparseProducts, let c = compressed {
            var op = c.transposed(ctx)   // rows: the stored columns; entries at stored rows
            narrow(&op, x, ldx, y, ldy, width, accumulate)
        } else {
            Gemm.gemm(transA: true, transB: false, m: cols, n: width, k: rows, a: current(ctx), lda: cols, b: x, ldb: ldx,
                      beta: accumulate ? 1 : 0, c: y, ldc: ldy)
        }
    }

    /// x[i][j] (+)= Σ_o ŵ[i, o]·y[o][j]: the transposed product (backward's), laid out as `multiply`'s.
    func multiplyTransposed(_ ctx: StepContext, _ y: UnsafePointer<Float>, ldy: Int, into x: UnsafeMutablePointer<Float>,
                            ldx: Int, width: Int, accumulate: Bool) {
        if sparseProducts, let c = compressed {
            var op = c.matrix(ctx)       // rows: the stored rows; entries at stored columns
            narrow(&op, y, ldy, x, ldx, width, accumulate)
        } else {
            Gemm.gemm(transA: true, transB: false, m: rows, n: width, k: cols, a: ctx.region(transposedDense), lda: rows,
                      b: y, ldb: ldy, beta: accumulate ? 1 : 0, c: x, ldc: ldx)
        }
    }

    /// The narrow kernel over 16 columns at a time.
    private func narrow(_ op: inout sp_matrix, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>,
                        _ ldc: Int, _ width: Int, _ accumulate: Bool) {
        var q = 0
        while q < width {
            let w = min(16, width - q)
            sp_spmm_narrow(&op, b + q, Int64(ldb), Int32(w), c + q, Int64(ldc), accumulate ? SP_ACCUMULATE : 0)
            q += w
        }
    }

    /// The ŵ the last forward computed (backward's).
    func current(_ ctx: StepContext) -> UnsafePointer<Float> {
        UnsafePointer(transform.isIdentity ? ctx.param(weight) : ctx.region(effective))
    }

    private var leafStride: Int { weightCount + ownCounts.reduce(0, +) }

    /// Where the layer writes group g's ∂L/∂ŵ (a [rows, cols] matrix).
    func leaf(_ ctx: StepContext, group g: Int) -> UnsafeMutablePointer<Float> {
        ctx.region(leaves) + g * leafStride
    }

    /// The groups' ∂L/∂ŵ through the kind one by one, then added by the tree into the gradients.
    private func sumLeaves(_ ctx: StepContext, _ groups: SampleGroups) {
        let w = UnsafePointer(ctx.param(weight)), stride = leafStride, all = ctx.region(leaves)
        for g in 0..<groups.local {
            let leaf = all + g * stride
            transform.backward(w, grad: leaf, count: weightCount, ctx)
            var at = weightCount
            for (p, n) in zip(transform.parameters, ownCounts) { (leaf + at).update(from: ctx.grad(p), count: n); at += n }
        }
        groups.sum(all, stride: stride, count: stride, into: all)
        ctx.grad(weight).update(from: all, count: weightCount)
        var at = weightCount
        for (p, n) in zip(transform.parameters, ownCounts) { ctx.grad(p).update(from: all + at, count: n); at += n }
    }

    /// The positions the kind keeps (its mask, or ŵ ≠ 0), in order: the same on every replica.
    private func listKept(_ ctx: StepContext) {
        let list = ctx.region(kept), w = ctx.region(effective)
        var n = 0
        if let mask = transform.keepMask(ctx) {
            for i in 0..<weightCount where mask[i] != 0 { list[n] = Int32(i); n += 1 }
        } else {
            for i in 0..<weightCount where w[i] != 0 { list[n] = Int32(i); n += 1 }
        }
        keptCount = n
    }

    /// `ctx.grad(weight)` holds ∂L/∂ŵ (or the leaves do, with groups): maps it onto the stored weight
    /// (and the kind's own parameters) and announces them to the all-reduce.
    func finishBackward(_ ctx: StepContext) {
        if let g = groups { sumLeaves(ctx, g) } else { transform.backward(ctx.param(weight), grad: ctx.grad(weight), count: weightCount, ctx) }
        guard let sync = ctx.collectives else { return }
        if keptCount >= 0 && transform.gradientRule == .keptOnly && sync.wantsKeptPositions {
            sync.gradientReady(weight, kept: UnsafePointer(ctx.region(kept)), count: keptCount)
        } else {
            sync.gradientReady(weight)
        }
        for p in transform.parameters { sync.gradientReady(p) }
    }

    /// Values drawn from N(0, std²) for the stored weight (EdgeML's cell: 0.1·randn), under the key's stream.
    func initializeNormal(_ store: ParameterStore, seed: UInt64, std: Double) {
        var rng = RNG(seed: seed, stream: streamID(weightKey))
        rng.fillNormal(store.values.base + weight.offset, count: weightCount, std: std)
        transform.initialize(store)
    }
}
