// Linear: y = ŵ·x + b, PyTorch's nn.Linear (`<name>.weight` [out, in],
// `<name>.bias` [out]) on a [in, N, 1, 1] activation, with its weight of any
// sparse kind (a SparseMatrix). Channel-major activations make it one GEMM:
// [out, in] × [in, N] lands in [out, N]; backward is two more (∂W = ∂Y·Xᵀ,
// ∂X = Ŵᵀ·∂Y) and a row sum for the bias.

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
        matrix.plan(planner)
        output = planner.activation(ActShape(channels: outFeatures, batch: input.shape.batch, height: 1, width: 1))
        planner.produced(output, by: self)
        return output
    }

    public func forward(_ ctx: StepContext) {
        let start = ctx.profileStart()
        let n = input.shape.batch, w = matrix.prepare(ctx), x = ctx.value(input), y = ctx.value(output)
        if let b = bias {
            let bv = ctx.param(b)
            for o in 0..<outFeatures { (y + o * n).update(repeating: bv[o], count: n) }
        }
        Gemm.gemm(transA: false, transB: false, m: outFeatures, n: n, k: inFeatures, a: w, lda: inFeatures,
                  b: x, ldb: n, beta: bias == nil ? 0 : 1, c: y, ldc: n)
        ctx.profiled(profileKey, backward: false, since: start, floats: (inFeatures + outFeatures) * n)
    }

    public func backward(_ ctx: StepContext) {
        let start = ctx.profileStart()
        let n = input.shape.batch, x = ctx.value(input), dy = ctx.workspace.grad(output)!
        let w = matrix.current(ctx)
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
        matrix.finishBackward(ctx)
        if let b = bias { ctx.collectives?.gradientReady(b) }
        ctx.profiled(profileKey, backward: true, since: start, floats: (2 * inFeatures + outFeatures) * n)
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
