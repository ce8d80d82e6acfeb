// A layer whose weight runs through a sparse kind's WeightTransform: every
// conv, the linear layers, a recurrent cell's matrices. Sparsity accounting,
// budgets, prune rates, the dense export and the checkpoint's plans go
// through this and nothing else, so a new layer with a sparse weight is
// counted, pruned and saved like a conv.

public protocol SparseWeighted: AnyObject {
    /// The layer's name in budgets and reports ("layer1.0.conv1", "rnn.W").
    var name: String { get }
    /// The state_dict key of the stored weight ("layer1.0.conv1.weight", "rnn.W").
    var weightKey: String { get }
    /// The stored weight in the parameter arena.
    var weight: ParameterRef { get }
    var weightCount: Int { get }
    /// The sparse kind: how the effective weight is made from the stored one.
    var transform: any WeightTransform { get }
    /// How many times one sample uses each weight (a conv's output positions, a cell's time steps): the
    /// FLOP count's factor, once planned.
    var usesPerSample: Int { get }
    /// Whether the last step ran the sparse kernels (the checkpoint keeps it, so a resume plans the same).
    var runsSparse: Bool { get }
    /// A resumed run's plan: sparse or not, where the layer can choose.
    func restorePlan(sparse: Bool)
    /// Where the effective weight is planned (none for the dense kind).
    var effective: WorkspaceRegion<Float> { get }
}

extension SparseWeighted {
    public var kind: SparseKind { transform.kind }
    /// The current prune rate of a DNW or GMP layer (PruningPlan sets it), nil for other kinds.
    public var pruneRate: Float? { (transform as? any MagnitudePruned)?.pruneRate }
    public var runsSparse: Bool { false }
    public func restorePlan(sparse: Bool) {}

    /// The weight the layer computes with: the stored one, or its kind's transform of it (written to
    /// `effective`).
    @discardableResult
    public func computeEffectiveWeight(_ ctx: StepContext) -> UnsafeMutablePointer<Float> {
        let w = ctx.param(weight)
        if transform.isIdentity { return w }
        transform.forward(w, ctx.region(effective), count: weightCount, ctx)
        return ctx.region(effective)
    }

    /// Non-zeros of the effective weight now (STR: |w| > sigmoid(s) on the stored weight, nothing written).
    public func nonzeroWeights(_ ctx: StepContext) -> Int {
        let w: UnsafePointer<Float>, t: Float
        if let threshold = transform.compressionThreshold(ctx) {
            (w, t) = (UnsafePointer(ctx.param(weight)), threshold)
        } else {
            (w, t) = (UnsafePointer(computeEffectiveWeight(ctx)), 0)
        }
        var nonzero = 0
        for i in 0..<weightCount where abs(w[i]) > t { nonzero += 1 }
        return nonzero
    }
}
