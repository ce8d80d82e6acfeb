// A model ready to run: its layers, its arenas, a workspace planned for one
// batch shape, and the thread pool. The step is forward → loss → backward;
// the input is written (CNHW) into `input`, labels into `labels`.

public final class Network {
    public let root: any Layer
    public let store: ParameterStore
    public let pool: ThreadPool
    public private(set) var context: StepContext!
    public private(set) var inputRef: ActRef!
    public private(set) var outputRef: ActRef!
    public private(set) var labels: UnsafeMutableBufferPointer<Int32> = .init(start: nil, count: 0)

    /// - Parameters:
    ///   - root: the model; its parameters must already be registered in `layout`.
    ///   - threads: threads for every kernel (BLAS runs single-threaded inside them).
    public init(root: any Layer, layout: ParameterLayout, threads: Int) {
        BLASInfo.useSingleThread()
        self.root = root
        store = ParameterStore(parameters: layout.parameters, buffers: layout.buffers)
        pool = ThreadPool(threads: threads)
    }

    deinit { labels.deallocate(); sampleLosses.deallocate(); lossLeaves.deallocate() }

    /// Initialises every parameter and buffer from `seed`.
    public func initialize(seed: UInt64) { root.initialize(store, seed: seed) }

    /// Run after the layers are planned, with the planner's dataflow: the fusions a model plans
    /// (Model adds ResidualFusion, DepthwiseNormFusion and ConvPlanner.planEpilogues), so the engine does not reach
    /// up into planning.
    public var planPasses: [(WorkspacePlanner) -> Void] = []

    /// Whether no layer mixes samples, so the batch's gradient is summed in SampleGroups (Model sets it
    /// from the architecture).
    public var groupsSamples = false

    /// Plans all activation memory for inputs of `shape` (CNHW). `inputGradient`
    /// keeps ∂loss/∂input too (for gradient checks); `ranks` is the world the batch is this rank's share of.
    public func plan(_ shape: ActShape, inputGradient: Bool = false, ranks: Int = 1) {
        let groups = groupsSamples ? SampleGroups(localBatch: shape.batch, ranks: ranks) : nil
        let planner = WorkspacePlanner(threads: pool.threads, groups: groups)
        inputRef = planner.activation(shape, needsGrad: inputGradient)
        outputRef = root.plan(inputRef, planner)
        for pass_ in planPasses { pass_(planner) }
        precondition(outputRef.shape.plane == 1, "the model must end in a [classes, N, 1, 1] output, got \(outputRef.shape)")
        context = StepContext(workspace: Workspace(planner), store: store, pool: pool)
        context.groups = groups
        labels.deallocate()
        labels = .allocate(capacity: shape.batch)
        labels.initialize(repeating: 0)
        sampleLosses.deallocate(); lossLeaves.deallocate()
        sampleLosses = .allocate(capacity: groups == nil ? 0 : shape.batch)
        lossLeaves = .allocate(capacity: groups?.local ?? 0)
    }

    public var batch: Int { inputRef.shape.batch }
    public var classes: Int { outputRef.shape.channels }
    /// Where the CNHW input batch goes.
    public var input: UnsafeMutablePointer<Float> { context.value(inputRef) }
    /// Logits, class-major [classes, N].
    public var logits: UnsafeMutablePointer<Float> { context.value(outputRef) }
    public var inputGradient: UnsafeMutablePointer<Float>? { context.workspace.grad(inputRef) }

    public func forward(training: Bool) {
        context.training = training
        if training { context.parameterVersion &+= 1 }
        root.forward(context)
    }

    /// Call after changing parameter values outside a training step (loading a
    /// checkpoint, say), so evaluation recomputes the sparse convs' effective weights.
    public func parametersChanged() { context?.parameterVersion &+= 1 }

    /// Mean cross-entropy of the current logits against `labels` over the first
    /// `samples` (default: the whole batch); also seeds backward.
    /// With sample groups the mean is the groups' tree sum over `samples` (`lossSum` keeps the sum, for
    /// the ranks' tree). `gradientOver`: the count ∂loss/∂logits is divided by, when not `samples`.
    public func loss(smoothing: Float = 0, samples: Int? = nil, gradientOver: Int? = nil) -> Float {
        guard let groups = context.groups else {
            let mean = LossKernels.crossEntropy(logits: logits, labels: labels.baseAddress!, classes: classes, batch: batch,
                                                samples: samples, smoothing: smoothing, dlogits: context.workspace.grad(outputRef),
                                                gradientOver: gradientOver)
            lossSum = Double(mean) * Double(samples ?? batch)
            return mean
        }
        let each = sampleLosses.baseAddress!
        _ = LossKernels.crossEntropy(logits: logits, labels: labels.baseAddress!, classes: classes, batch: batch,
                                     samples: samples, smoothing: smoothing, dlogits: context.workspace.grad(outputRef),
                                     perSample: each, gradientOver: gradientOver)
        // Group g's leaf: its members in order; then the tree (leaf g at lossLeaves[g]).
        let leaves = lossLeaves.baseAddress!
        for g in 0..<groups.local {
            var s = 0.0
            for j in 0..<groups.size { s += each[groups.sample(group: g, index: j)] }
            leaves[g] = s
        }
        groups.sum(leaves, stride: 1, count: 1, into: leaves)
        lossSum = leaves[0]
        return Float(lossSum / Double(samples ?? batch))
    }

    /// The last `loss`'s sum over its samples (the mean's numerator), for the ranks' sum.
    public private(set) var lossSum = 0.0
    private var sampleLosses = UnsafeMutableBufferPointer<Double>(start: nil, count: 0)
    private var lossLeaves = UnsafeMutableBufferPointer<Double>(start: nil, count: 0)

    /// Top-1 and top-5 correct counts of the current logits over the first `samples`.
    public func correct(samples: Int? = nil) -> (top1: Int, top5: Int) {
        let c = LossKernels.correctCounts(logits: logits, labels: labels.baseAddress!, classes: classes, batch: batch,
                                          samples: samples, topK: (1, 5))
        return (c.0, c.1)
    }

    public func backward() { root.backward(context) }
}
