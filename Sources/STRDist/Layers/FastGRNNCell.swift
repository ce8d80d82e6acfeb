// The FastGRNN cell (Kusupati et al. 2018), with EdgeML's FastGRNNCell
// parameters and names: W [input, hidden] (or W1 [input, wRank] and
// W2 [wRank, hidden]), U [hidden, hidden] (or U1, U2), bias_gate and
// bias_update [1, hidden], zeta and nu [1, 1] (ζ = σ(zeta), ν = σ(nu)):
//   pre = x_t·W + h_{t−1}·U, z = σ(pre + bias_gate), c = tanh(pre + bias_update),
//   h_t = z⊙h_{t−1} + (ζ(1 − z) + ν)⊙c,  h_0 = 0.
// The input is an image batch read as sequences (the "sequential MNIST"
// protocol): step t reads row t of every channel, so T = H and the input
// size is C·W. The output is h_T as [hidden, N, 1, 1].
//
// W and U are SparseMatrix weights of any sparse kind, counted and pruned
// like convs. The batch runs in its SampleGroups, a whole group per thread
// through every step (no barrier between steps). Memory is feature-major per
// group, [group, feature, T·size] (a row per feature, a column per step and
// sample; the states [group, hidden, (T + 1)·size]), every step's inputs,
// gates and states kept for backpropagation through time: a group's input
// product over all steps is one GEMM, each step adds its Uᵀ·h_{t−1} (size
// columns: U's `multiply`, on the sparse narrow kernel when the plan finds it
// faster), and backward's weight gradients are one GEMM per group over its
// steps and samples (a leaf the groups' tree adds). Every product has the
// same shape on any rank count and thread count, which keeps the results
// bit-identical across them.

import Foundation

public final class FastGRNNCell: Layer {
    public let name: String
    public let inputSize: Int, hidden: Int
    /// [W] or [W1, W2]; [U] or [U1, U2]: the products are left to right.
    public let w: [SparseMatrix], u: [SparseMatrix]
    public let biasGate: ParameterRef, biasUpdate: ParameterRef, zeta: ParameterRef, nu: ParameterRef
    /// EdgeML's initial values: W, U ~ 0.1·N(0, 1), biases 1, zeta 1, nu −4.
    public static let initialScale = 0.1, zetaInit: Float = 1, nuInit: Float = -4

    var input: ActRef!
    var output: ActRef!
    var inputGrad = GradUse.none
    var steps = 0, batch = 0
    var groups = SampleGroups(localBatch: 1, ranks: 1)
    /// Feature-major [group, feature, T·size] regions: inputs, gates (z, c), the low-rank intermediates
    /// x·W1 and h·U1, and backward's ∂pre, ∂(x·W1), ∂(h·U1); states h_0…h_T as [group, hidden, (T + 1)·size];
    /// ∂h as [group, hidden, size]; per group the small gradients' sums (bias_gate, bias_update, ζ, ν).
    var xs = WorkspaceRegion<Float>.none, zs = WorkspaceRegion<Float>.none, cs = WorkspaceRegion<Float>.none
    var hs = WorkspaceRegion<Float>.none, qs = WorkspaceRegion<Float>.none, ps = WorkspaceRegion<Float>.none
    var dPre = WorkspaceRegion<Float>.none, dh = WorkspaceRegion<Float>.none
    var dqs = WorkspaceRegion<Float>.none, dps = WorkspaceRegion<Float>.none
    var leaves = WorkspaceRegion<Float>.none
    /// Per group: backward's sums in 8 lanes each (FastGRNNKernels.laneCount), reduced into its leaf at the end.
    var lanes = WorkspaceRegion<Float>.none
    /// The profile's keys, with U's products dense and sparse (made once: a step builds no strings).
    let denseKey: String, sparseKey: String
    var profileKey: String { u[0].runsSparse ? sparseKey : denseKey }

    /// - Parameters:
    ///   - wKind, uKind: the sparse kinds of W's and U's factors.
    /// How U's step products run (`conv_algorithm`): auto (the plan), sparse, or dense (im2col, winograd).
    public let algorithm: ConvAlgorithm

    public init(_ name: String, inputSize: Int, hidden: Int, wRank: Int? = nil, uRank: Int? = nil,
                wKind: SparseKind, uKind: SparseKind, settings: TransformSettings, algorithm: ConvAlgorithm = .auto,
                layout: ParameterLayout) {
        self.name = name
        self.algorithm = algorithm
        self.inputSize = inputSize; self.hidden = hidden
        func matrix(_ n: String, _ rows: Int, _ cols: Int, _ kind: SparseKind) -> SparseMatrix {
            SparseMatrix(name: "\(name).\(n)", key: "\(name).\(n)", rows: rows, cols: cols, kind: kind, settings: settings, layout: layout)
        }
        w = wRank.map { [matrix("W1", inputSize, $0, wKind), matrix("W2", $0, hidden, wKind)] } ?? [matrix("W", inputSize, hidden, wKind)]
        u = uRank.map { [matrix("U1", hidden, $0, uKind), matrix("U2", $0, hidden, uKind)] } ?? [matrix("U", hidden, hidden, uKind)]
        biasGate = layout.parameter("\(name).bias_gate", shape: [1, hidden], group: .weight)
        biasUpdate = layout.parameter("\(name).bias_update", shape: [1, hidden], group: .weight)
        zeta = layout.parameter("\(name).zeta", shape: [1, 1], group: .weight)
        nu = layout.parameter("\(name).nu", shape: [1, 1], group: .weight)
        denseKey = "fastgrnn \(inputSize)->\(hidden)" + (wRank.map { " wRank \($0)" } ?? "") + (uRank.map { " uRank \($0)" } ?? "")
        sparseKey = denseKey + ", U sparse"
    }

    public var matrices: [SparseMatrix] { w + u }
    var wRank: Int? { w.count == 2 ? w[0].cols : nil }
    var uRank: Int? { u.count == 2 ? u[0].cols : nil }

    public func plan(_ input: ActRef, _ planner: WorkspacePlanner) -> ActRef {
        let s = input.shape
        precondition(s.channels * s.width == inputSize,
                     "\(name) reads rows of \(inputSize) values, got \(s.channels) channel(s) of width \(s.width)")
        self.input = input
        inputGrad = planner.use(input, by: self)
        steps = s.height; batch = s.batch
        groups = planner.groups ?? SampleGroups(localBatch: batch, ranks: 1)
        for m in matrices { m.usesPerSample = steps; m.plan(planner, groups: groups) }
        // U's step products are a group wide; the low-rank factors' stay dense (their products are small).
        if uRank == nil { u[0].planProducts(planner, width: groups.size, algorithm: algorithm) }
        let rows = steps * batch
        xs = planner.region(rows * inputSize)
        zs = planner.region(rows * hidden); cs = planner.region(rows * hidden)
        hs = planner.region((steps + 1) * batch * hidden)
        dPre = planner.region(rows * hidden); dh = planner.region(batch * hidden)
        qs = planner.region(rows * (wRank ?? 0)); dqs = planner.region(rows * (wRank ?? 0))
        ps = planner.region(rows * (uRank ?? 0)); dps = planner.region(rows * (uRank ?? 0))
        leaves = planner.region(groups.local * leafStride)
        lanes = planner.region(groups.local * FastGRNNKernels.laneCount(hidden: hidden))
        output = planner.activation(ActShape(channels: hidden, batch: batch, height: 1, width: 1))
        planner.produced(output, by: self)
        return output
    }

    /// A group's small gradients: bias_gate, bias_update, ζ, ν.
    var leafStride: Int { 2 * hidden + 2 }
    /// Columns of a group's step-major rows (T·size) and of its state rows ((T + 1)·size).
    var stepColumns: Int { steps * groups.size }
    var stateColumns: Int { (steps + 1) * groups.size }
    /// Group g's block of a [group, rows, T·size] region, and of the states.
    func block(_ r: WorkspaceRegion<Float>, _ ctx: StepContext, group g: Int, rows: Int) -> UnsafeMutablePointer<Float> {
        ctx.region(r) + g * rows * stepColumns
    }
    func states(_ ctx: StepContext, group g: Int) -> UnsafeMutablePointer<Float> { ctx.region(hs) + g * hidden * stateColumns }

    /// Squashed ζ and ν.
    func scalars(_ ctx: StepContext) -> (zeta: Float, nu: Float) {
        (Float(sigmoid(ctx.param(zeta).pointee)), Float(sigmoid(ctx.param(nu).pointee)))
    }

    public func forward(_ ctx: StepContext) {
        let start = ctx.profileStart()
        let w0 = w[0].prepare(ctx), w1 = w.count > 1 ? w[1].prepare(ctx) : w0
        let u0 = u[0].prepare(ctx), u1 = u.count > 1 ? u[1].prepare(ctx) : u0
        gatherSequences(ctx)
        let (zt, nt) = scalars(ctx)
        let args = (cell: self, ctx: ctx, w0: w0, w1: w1, u0: u0, u1: u1, zeta: zt, nu: nt)
        ctx.pool.parallelRanges(groups.local, args) { a, range, _ in for g in range { a.cell.forwardGroup(g, a) } }
        // h_T of every group to the [hidden, N] output.
        let y = ctx.value(output), n = batch, last = steps * groups.size
        for i in 0..<n {
            let (g, j) = groups.group(ofSample: i), h = UnsafePointer(states(ctx, group: g)) + last + j
            for o in 0..<hidden { y[o * n + i] = h[o * stateColumns] }
        }
        ctx.profiled(profileKey, backward: false, since: start, floats: steps * n * (inputSize + 4 * hidden))
    }

    typealias StepArgs = (cell: FastGRNNCell, ctx: StepContext, w0: UnsafePointer<Float>, w1: UnsafePointer<Float>,
                          u0: UnsafePointer<Float>, u1: UnsafePointer<Float>, zeta: Float, nu: Float)

    /// Group g through every step: its input product (Wᵀ·x, or W2ᵀ·(W1ᵀ·x)) at once, then per step
    /// pre += Uᵀ·h_{t−1} (or U2ᵀ·(U1ᵀ·h_{t−1})), the gates and h_t.
    private func forwardGroup(_ g: Int, _ a: StepArgs) {
        let ctx = a.ctx, h = hidden, b = groups.size, tb = stepColumns, sb = stateColumns
        let x = block(xs, ctx, group: g, rows: inputSize), pre = block(zs, ctx, group: g, rows: h)
        if let r = wRank {
            let q = block(qs, ctx, group: g, rows: r)
            Gemm.gemm(transA: true, transB: false, m: r, n: tb, k: inputSize, a: a.w0, lda: r, b: x, ldb: tb, beta: 0, c: q, ldc: tb)
            Gemm.gemm(transA: true, transB: false, m: h, n: tb, k: r, a: a.w1, lda: h, b: q, ldb: tb, beta: 0, c: pre, ldc: tb)
        } else {
            Gemm.gemm(transA: true, transB: false, m: h, n: tb, k: inputSize, a: a.w0, lda: h, b: x, ldb: tb, beta: 0, c: pre, ldc: tb)
        }
        let hs = states(ctx, group: g), gates = block(cs, ctx, group: g, rows: h)
        for o in 0..<h { (hs + o * sb).update(repeating: 0, count: b) }
        for t in 0..<steps {
            let hPrev = UnsafePointer(hs + t * b), preT = pre + t * b
            if let r = uRank {
                let p = block(ps, ctx, group: g, rows: r) + t * b
                Gemm.gemm(transA: true, transB: false, m: r, n: b, k: h, a: a.u0, lda: r, b: hPrev, ldb: sb, beta: 0, c: p, ldc: tb)
                Gemm.gemm(transA: true, transB: false, m: h, n: b, k: r, a: a.u1, lda: h, b: p, ldb: tb, beta: 1, c: preT, ldc: tb)
            } else {
                u[0].multiply(ctx, hPrev, ldx: sb, into: preT, ldy: tb, width: b, accumulate: true)
            }
            FastGRNNKernels.forward(z: preT, c: gates + t * b, ldz: tb, h: hs + (t + 1) * b, hPrev: hPrev, ldh: sb,
                                    biasGate: ctx.param(biasGate), biasUpdate: ctx.param(biasUpdate),
                                    zeta: a.zeta, nu: a.nu, hidden: h, width: b)
        }
    }

    /// Where sample i's step-t input row starts in `xs` (its features then lie T·size apart).
    func inputColumn(sample i: Int, step t: Int) -> Int {
        let (g, j) = groups.group(ofSample: i)
        return g * inputSize * stepColumns + t * groups.size + j
    }

    /// The CNHW images to feature-major columns: xs[g, c·W + k, t·size + j] = x[c, i, t, k] for sample i = (g, j).
    private func gatherSequences(_ ctx: StepContext) {
        let s = input.shape, x = UnsafePointer(ctx.value(input)), xt = ctx.region(xs), tb = stepColumns
        for c in 0..<s.channels {
            for i in 0..<s.batch {
                for t in 0..<steps {
                    let to = xt + inputColumn(sample: i, step: t) + c * s.width * tb, from = x + ((c * s.batch + i) * steps + t) * s.width
                    for k in 0..<s.width { to[k * tb] = from[k] }
                }
            }
        }
    }

    public func initialize(_ store: ParameterStore, seed: UInt64) {
        for m in matrices { m.initializeNormal(store, seed: seed, std: Self.initialScale) }
        (store.values.base + biasGate.offset).update(repeating: 1, count: hidden)
        (store.values.base + biasUpdate.offset).update(repeating: 1, count: hidden)
        store.values.base[zeta.offset] = Self.zetaInit
        store.values.base[nu.offset] = Self.nuInit
    }
}
