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
// like convs. Memory is time-major: the inputs, gates and states of every
// step are kept for backpropagation through time, so the input product of
// all steps is one GEMM, each step adds its h_{t−1}·U (batch rows split over
// the threads), and backward's weight gradients are one GEMM each over all
// steps and samples.

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
    /// Time-major [T, N, ·] regions: inputs, gates (z, c), states h_0…h_T, the low-rank intermediates
    /// x·W1 and h·U1, and backward's ∂pre, ∂h, ∂(x·W1), ∂(h·U1); per-thread sums of the small gradients.
    var xs = WorkspaceRegion<Float>.none, zs = WorkspaceRegion<Float>.none, cs = WorkspaceRegion<Float>.none
    var hs = WorkspaceRegion<Float>.none, qs = WorkspaceRegion<Float>.none, ps = WorkspaceRegion<Float>.none
    var dPre = WorkspaceRegion<Float>.none, dh = WorkspaceRegion<Float>.none
    var dqs = WorkspaceRegion<Float>.none, dps = WorkspaceRegion<Float>.none
    var partials = WorkspaceRegion<Float>.none
    var threads = 1
    /// The profile's key (made once: a step builds no strings).
    let profileKey: String

    /// - Parameters:
    ///   - wKind, uKind: the sparse kinds of W's and U's factors.
    public init(_ name: String, inputSize: Int, hidden: Int, wRank: Int? = nil, uRank: Int? = nil,
                wKind: SparseKind, uKind: SparseKind, settings: TransformSettings, layout: ParameterLayout) {
        self.name = name
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
        profileKey = "fastgrnn \(inputSize)->\(hidden)" + (wRank.map { " wRank \($0)" } ?? "") + (uRank.map { " uRank \($0)" } ?? "")
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
        steps = s.height; batch = s.batch; threads = planner.threads
        for m in matrices { m.usesPerSample = steps; m.plan(planner) }
        let rows = steps * batch
        xs = planner.region(rows * inputSize)
        zs = planner.region(rows * hidden); cs = planner.region(rows * hidden)
        hs = planner.region((steps + 1) * batch * hidden)
        dPre = planner.region(rows * hidden); dh = planner.region(batch * hidden)
        qs = planner.region(rows * (wRank ?? 0)); dqs = planner.region(rows * (wRank ?? 0))
        ps = planner.region(rows * (uRank ?? 0)); dps = planner.region(rows * (uRank ?? 0))
        partials = planner.region(threads * (2 * hidden + 2))
        output = planner.activation(ActShape(channels: hidden, batch: batch, height: 1, width: 1))
        planner.produced(output, by: self)
        return output
    }

    /// Squashed ζ and ν.
    func scalars(_ ctx: StepContext) -> (zeta: Float, nu: Float) {
        (Float(sigmoid(ctx.param(zeta).pointee)), Float(sigmoid(ctx.param(nu).pointee)))
    }

    public func forward(_ ctx: StepContext) {
        let start = ctx.profileStart()
        let w0 = w[0].prepare(ctx), w1 = w.count > 1 ? w[1].prepare(ctx) : w0
        let u0 = u[0].prepare(ctx), u1 = u.count > 1 ? u[1].prepare(ctx) : u0
        let n = batch, h = hidden, rows = steps * batch
        gatherSequences(ctx)
        let x = ctx.region(xs), z = ctx.region(zs)
        // The input product of every step at once: pre = x·W, or (x·W1)·W2.
        if let r = wRank {
            Gemm.rows(pool: ctx.pool, m: rows, n: r, k: inputSize, a: x, lda: inputSize, b: w0, ldb: r, beta: 0, c: ctx.region(qs), ldc: r)
            Gemm.rows(pool: ctx.pool, m: rows, n: h, k: r, a: ctx.region(qs), lda: r, b: w1, ldb: h, beta: 0, c: z, ldc: h)
        } else {
            Gemm.rows(pool: ctx.pool, m: rows, n: h, k: inputSize, a: x, lda: inputSize, b: w0, ldb: h, beta: 0, c: z, ldc: h)
        }
        ctx.region(hs).update(repeating: 0, count: n * h)
        let (zt, nt) = scalars(ctx)
        let args = (cell: self, ctx: ctx, u0: u0, u1: u1, zeta: zt, nu: nt)
        for t in 0..<steps {
            ctx.pool.parallelRanges(n, (args, t)) { a, range, _ in a.0.cell.forwardStep(a.1, rows: range, a.0) }
        }
        // h_T, batch-major, to the [hidden, N] output.
        let last = UnsafePointer(ctx.region(hs) + steps * n * h), y = ctx.value(output)
        for i in 0..<n { for j in 0..<h { y[j * n + i] = last[i * h + j] } }
        ctx.profiled(profileKey, backward: false, since: start, floats: rows * (inputSize + 4 * h))
    }

    typealias StepArgs = (cell: FastGRNNCell, ctx: StepContext, u0: UnsafePointer<Float>, u1: UnsafePointer<Float>,
                                  zeta: Float, nu: Float)

    /// Step t for the batch rows `range`: pre += h_{t−1}·U (or (h_{t−1}·U1)·U2), then the gates and h_t.
    private func forwardStep(_ t: Int, rows range: Range<Int>, _ a: StepArgs) {
        let ctx = a.ctx, n = batch, h = hidden, lo = range.lowerBound, m = range.count
        let hPrev = ctx.region(hs) + (t * n + lo) * h, hNext = ctx.region(hs) + ((t + 1) * n + lo) * h
        let pre = ctx.region(zs) + (t * n + lo) * h
        if let r = uRank {
            let p = ctx.region(ps) + (t * n + lo) * r
            Gemm.gemm(transA: false, transB: false, m: m, n: r, k: h, a: hPrev, lda: h, b: a.u0, ldb: r, beta: 0, c: p, ldc: r)
            Gemm.gemm(transA: false, transB: false, m: m, n: h, k: r, a: p, lda: r, b: a.u1, ldb: h, beta: 1, c: pre, ldc: h)
        } else {
            Gemm.gemm(transA: false, transB: false, m: m, n: h, k: h, a: hPrev, lda: h, b: a.u0, ldb: h, beta: 1, c: pre, ldc: h)
        }
        FastGRNNKernels.forward(z: pre, c: ctx.region(cs) + (t * n + lo) * h, h: hNext, hPrev: hPrev,
                                biasGate: ctx.param(biasGate), biasUpdate: ctx.param(biasUpdate),
                                zeta: a.zeta, nu: a.nu, rows: m, hidden: h)
    }

    /// The CNHW images to time-major rows: xs[t, n, c·W + j] = x[c, n, t, j].
    private func gatherSequences(_ ctx: StepContext) {
        let s = input.shape, x = ctx.value(input), xt = ctx.region(xs)
        for c in 0..<s.channels {
            for i in 0..<s.batch {
                for t in 0..<steps {
                    (xt + (t * s.batch + i) * inputSize + c * s.width).update(from: x + ((c * s.batch + i) * steps + t) * s.width, count: s.width)
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
