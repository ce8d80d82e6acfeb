// A conv's sparse plan: the memory it reserves for a compressed effective
// weight, and, each time the effective weight changes, the choice between its
// dense plan (GEMM, Winograd, im2col or depthwise) and the sparse kernels,
// from the weight's current density (ConvPlanner decides, with hysteresis).
// `conv_algorithm: sparse` forces the sparse kernels, `im2col` the dense GEMM;
// depthwise and grouped convs always stay dense.

extension Conv2d {
    /// Whether this conv can run the sparse kernels at all.
    var sparseCapable: Bool {
        groups == 1 && (algorithm == .sparse || (algorithm == .auto && !transform.isIdentity))
    }

    /// Reserves the compressed weight and the sparse kernels' scratch (called from `plan`).
    func planSparse(_ g: ConvGeometry, _ planner: WorkspacePlanner) {
        let sparse = ConvPlanner.sparseLayout(g), layout = SparseConvKernels.addressing(g, sparse)
        guard sparseCapable, CompressedWeight.fits(rows: outChannels, cols: g.colRows, layout: layout) else {
            compressed = nil; sparseLayout = nil; execution = densePlan; return
        }
        let c = CompressedWeight(rows: outChannels, cols: g.colRows, layout: layout)
        let capacity = algorithm == .sparse ? g.weightCount
            : Int((Double(g.weightCount) * ConvPlanner.maxDensity).rounded(.up))
        c.plan(planner, capacity: capacity, transposed: true)
        let s = SparseConvKernels.scratch(g, sparse, capacity: capacity, threads: planner.threads)
        planner.scratch(perThread: s.perThread)
        planner.scratch(shared: s.shared)
        compressed = c
        sparseLayout = sparse
        execution = algorithm == .sparse ? .sparse(sparse) : densePlan
    }

    /// A resumed run's plan (the hysteresis state of the run that saved it: sparse or not); only where it can run.
    public func restorePlan(sparse: Bool) {
        if let layout = sparseLayout, algorithm == .auto { execution = sparse ? .sparse(layout) : densePlan }
    }

    /// The weight the dense path would run, after choosing the kernels for this step and compressing
    /// the weight when the sparse ones run. STR compresses its stored weight with its threshold
    /// directly; ŵ is then not computed (the sparse kernels do not read it).
    func prepareWeight(_ ctx: StepContext) -> UnsafeMutablePointer<Float> {
        keptListed = false
        guard let c = compressed else { return computeEffectiveWeight(ctx) }
        // A kept-only kind lists its kept positions even on the dense plan when the all-reduce wants them.
        let list = ctx.training && transform.gradientRule == .keptOnly && ctx.collectives?.wantsKeptPositions == true
        if let t = transform.compressionThreshold(ctx) {
            let stored = ctx.param(weight), kept = c.countKept(stored, mask: nil, threshold: t, ctx)
            let sparse = choose(c, kept: kept, ctx).isSparse
            if sparse || (list && kept <= c.capacity) { c.fill(stored, mask: nil, threshold: t, ctx); keptListed = true }
            return sparse ? ctx.region(effective) : computeEffectiveWeight(ctx)
        }
        let w = computeEffectiveWeight(ctx), mask = transform.keepMask(ctx), kept = c.countKept(w, mask: mask, ctx)
        if choose(c, kept: kept, ctx).isSparse || (list && kept <= c.capacity) { c.fill(w, mask: mask, ctx); keptListed = true }
        return w
    }

    /// Prepares this step's weight — and so chooses this step's plan (`execution`) — before the forward runs, for a
    /// layer ahead of this conv that must know the plan first (BF16Handoff: a norm writes this conv's input in bf16
    /// when the sparse kernels will read it so). Training steps only (the weights do not change until the update);
    /// the forward then takes the weight as prepared here.
    func prepareAhead(_ ctx: StepContext) {
        precondition(ctx.training, "\(name): a weight is prepared ahead of its forward only in training")
        if let ahead = preparedAhead, ahead.version == ctx.parameterVersion { return }
        let start = StepProfile.now()
        let w = prepareWeight(ctx)
        preparedAhead = (w, ctx.parameterVersion, StepProfile.now() - start)
    }

    /// After backward: the weight's gradient is final — with its kept positions when they were listed.
    func announceWeightGradient(_ sync: any StepCollectives, _ ctx: StepContext) {
        if keptListed && transform.gradientRule == .keptOnly && sync.wantsKeptPositions, let c = compressed {
            sync.gradientReady(weight, kept: UnsafePointer(c.entryIndex(ctx)), count: c.count)
        } else {
            sync.gradientReady(weight)
        }
    }

    /// The plan for a weight keeping `kept` entries (ConvPlanner, or forced by conv_algorithm).
    private func choose(_ c: CompressedWeight, kept: Int, _ ctx: StepContext) -> ConvPlan {
        density = Double(kept) / Double(weightCount)
        let layout = sparseLayout!
        let next = algorithm == .sparse ? .sparse(layout)
            : ConvPlanner.choose(geometry!, dense: densePlan, sparse: layout, density: density, current: execution,
                                 training: ctx.training, keptOnlyGradient: transform.gradientRule == .keptOnly)
        execution = next.isSparse && kept <= c.capacity ? next : densePlan
        return execution
    }
}
