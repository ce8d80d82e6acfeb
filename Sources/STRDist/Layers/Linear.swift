// Linear: y = ŵ·x + b, PyTorch's nn.Linear (`<name>.weight` [out, in],
// `<name>.bias` [out]) on a [in, N, 1, 1] activation, with its weight of any
// sparse kind (a SparseMatrix). Channel-major activations make it one GEMM:
// [out, in] × [in, N] lands in [out, N]; backward is two more (∂W = ∂Y·Xᵀ,
// ∂X = Ŵᵀ·∂Y) and a row sum for the bias.
//
// With SampleGroups (a model that never mixes samples) every product runs
// per group, on the group's columns gathered side by side: products of the
// same shapes on any rank count, one weight-gradient leaf per group, the
// bias's group sums, all added by the groups' tree.

public final class Linear: Layer {
    public let name: String
    public let inFeatures: Int, outFeatures: Int
    public let matrix: SparseMatrix
    public let bias: ParameterRef?
    /// PyTorch's default: U(±1/√in) for weight and bias.
    public var initializer: WeightInit = .standard
    /// The profile's key (made once: a step builds no strings).
    private let profileKey: String

    private var input: ActRef!
    private var output: ActRef!
    private var inputGrad = GradUse.none
    private var groups: SampleGroups?
    /// One group's columns: its inputs (then their gradient) and its outputs (or their gradient).
    private var gathered = WorkspaceRegion<Float>.none
    /// Per group: the bias gradient's sums.
    private var biasLeaves = WorkspaceRegion<Float>.none

    public init(_ name: String, inFeatures: Int, outFeatures: Int, bias: Bool = true, kind: SparseKind = .dense,
                settings: TransformSettings = .init(), layout: ParameterLayout) {
        self.name = name
        self.inFeatures = inFeatures; self.outFeatures = outFeatures
        matrix = SparseMatrix(name: name, key: "\(name).weight", rows: outFeatures, cols: inFeatures, kind: kind,
                              settings: settings, layout: layout)
        self.bias = bias ? layout.parameter("\(name).bias", shape: [outFeatures], group: .weight) : nil
        profileKey = "linear \(inFeatures)->\(outFeatures)"
    }

    public var reportedMACs: Int { 0 }

    public func plan(_ input: ActRef, _ planner: WorkspacePlanner) -> ActRef {
        precondition(input.shape.channels == inFeatures && input.shape.plane == 1,
                     "\(name) expects [\(inFeatures), N, 1, 1] features, got \(input.shape)")
        self.input = input
        inputGrad = planner.use(input, by: self)
        groups = planner.groups
        matrix.plan(planner, groups: groups)
        if let g = groups {
            gathered = planner.region(g.size * (inFeatures + outFeatures))
            if bias != nil { biasLeaves = planner.region(g.local * outFeatures) }
        }
        output = planner.activation(ActShape(channels: outFeatures, batch: input.shape.batch, height: 1, width: 1))
        planner.produced(output, by: self)
        return output
    }

    public func forward(_ ctx: StepContext) {
        let start = ctx.profileStart()
        let n = input.shape.batch, w = matrix.prepare(ctx), x = ctx.value(input), y = ctx.value(output)
        if let groups {
            forwardInGroups(ctx, groups, w: w)
        } else {
            forwardWhole(ctx, w: w, x: x, y: y, n: n)
        }
        ctx.profiled(profileKey, backward: false, since: start, floats: (inFeatures + outFeatures) * n)
    }

    private func forwardWhole(_ ctx: StepContext, w: UnsafePointer<Float>, x: UnsafeMutablePointer<Float>,
                              y: UnsafeMutablePointer<Float>, n: Int) {
        if let b = bias {
            let bv = ctx.param(b)
            for o in 0..<outFeatures { (y + o * n).update(repeating: bv[o], count: n) }
        }
        Gemm.gemm(transA: false, transB: false, m: outFeatures, n: n, k: inFeatures, a: w, lda: inFeatures,
                  b: x, ldb: n, beta: bias == nil ? 0 : 1, c: y, ldc: n)
    }

    /// Columns of group g: `from` [rows, N] → `to` [rows, size].
    private func gather(_ from: UnsafePointer<Float>, rows: Int, _ g: Int, _ groups: SampleGroups, to: UnsafeMutablePointer<Float>) {
        let n = input.shape.batch, b = groups.size
        for r in 0..<rows { for j in 0..<b { to[r * b + j] = from[r * n + groups.sample(group: g, index: j)] } }
    }

    private func forwardInGroups(_ ctx: StepContext, _ groups: SampleGroups, w: UnsafePointer<Float>) {
        let n = input.shape.batch, b = groups.size, x = ctx.value(input), y = ctx.value(output)
        let xg = ctx.region(gathered), yg = xg + inFeatures * b
        for g in 0..<groups.local {
            gather(x, rows: inFeatures, g, groups, to: xg)
            if let bias { let bv = ctx.param(bias); for o in 0..<outFeatures { (yg + o * b).update(repeating: bv[o], count: b) } }
            Gemm.gemm(transA: false, transB: false, m: outFeatures, n: b, k: inFeatures, a: w, lda: inFeatures,
                      b: xg, ldb: b, beta: bias == nil ? 0 : 1, c: yg, ldc: b)
            for o in 0..<outFeatures { for j in 0..<b { y[o * n + groups.sample(group: g, index: j)] = yg[o * b + j] } }
        }
    }

    public func backward(_ ctx: StepContext) {
        let start = ctx.profileStart()
        let n = input.shape.batch, x = ctx.value(input), dy = ctx.workspace.grad(output)!
        let w = matrix.current(ctx)
        if let groups {
            backwardInGroups(ctx, groups, w: w)
        } else {
            backwardWhole(ctx, w: w, x: x, dy: dy, n: n)
        }
        matrix.finishBackward(ctx)
        if let b = bias { ctx.collectives?.gradientReady(b) }
        ctx.profiled(profileKey, backward: true, since: start, floats: (2 * inFeatures + outFeatures) * n)
    }

    private func backwardWhole(_ ctx: StepContext, w: UnsafePointer<Float>, x: UnsafeMutablePointer<Float>,
                               dy: UnsafeMutablePointer<Float>, n: Int) {
        Gemm.gemm(transA: false, transB: true, m: outFeatures, n: inFeatures, k: n, a: dy, lda: n, b: x, ldb: n,
                  beta: 0, c: ctx.grad(matrix.weight), ldc: inFeatures)
        if let dx = ctx.workspace.grad(input) {
            Gemm.gemm(transA: true, transB: false, m: inFeatures, n: n, k: outFeatures, a: w, lda: inFeatures,
                      b: dy, ldb: n, beta: ctx.workspace.accumulates(inputGrad) ? 1 : 0, c: dx, ldc: n)
        }
        if let b = bias {
            let db = ctx.grad(b)
            for o in 0..<outFeatures { db[o] = Vec.sum(dy + o * n, n) }
        }
    }

    /// Per group: the weight-gradient leaf ∂Y_g·X_gᵀ, the bias's sums, and ∂X_g = Ŵᵀ·∂Y_g.
    private func backwardInGroups(_ ctx: StepContext, _ groups: SampleGroups, w: UnsafePointer<Float>) {
        let n = input.shape.batch, b = groups.size, x = ctx.value(input), dy = ctx.workspace.grad(output)!
        let xg = ctx.region(gathered), dyg = xg + inFeatures * b
        let dx = ctx.workspace.grad(input), accumulate = ctx.workspace.accumulates(inputGrad)
        for g in 0..<groups.local {
            gather(x, rows: inFeatures, g, groups, to: xg)
            gather(dy, rows: outFeatures, g, groups, to: dyg)
            Gemm.gemm(transA: false, transB: true, m: outFeatures, n: inFeatures, k: b, a: dyg, lda: b, b: xg, ldb: b,
                      beta: 0, c: matrix.leaf(ctx, group: g), ldc: inFeatures)
            if bias != nil {
                let leaf = ctx.region(biasLeaves) + g * outFeatures
                for o in 0..<outFeatures { var s: Float = 0; for j in 0..<b { s += dyg[o * b + j] }; leaf[o] = s }
            }
            guard let dx else { continue }
            Gemm.gemm(transA: true, transB: false, m: inFeatures, n: b, k: outFeatures, a: w, lda: inFeatures,
                      b: dyg, ldb: b, beta: 0, c: xg, ldc: b)
            for k in 0..<inFeatures {
                for j in 0..<b {
                    let at = k * n + groups.sample(group: g, index: j)
                    dx[at] = accumulate ? dx[at] + xg[k * b + j] : xg[k * b + j]
                }
            }
        }
        if let bias { groups.sum(ctx.region(biasLeaves), stride: outFeatures, count: outFeatures, into: ctx.grad(bias)) }
    }

    public func initialize(_ store: ParameterStore, seed: UInt64) {
        var rng = RNG(seed: seed, stream: streamID(matrix.weightKey))
        initializer.fill(store.values.base + matrix.weight.offset, count: matrix.weightCount, fanIn: inFeatures,
                         fanOut: outFeatures, rng: &rng)
        if let b = bias {
            let bound = 1 / Double(inFeatures).squareRoot()
            rng.fillUniform(store.values.base + b.offset, count: outFeatures, low: -bound, high: bound)
        }
        matrix.transform.initialize(store)
    }
}
