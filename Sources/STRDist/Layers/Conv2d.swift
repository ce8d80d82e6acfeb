// Conv2d: OIHW weight `<name>.weight`, optional bias `<name>.bias`, any
// stride, padding, dilation and groups. Depthwise convs use the direct
// kernel, the rest im2col + GEMM (pointwise without im2col).
//
// Sparse kinds (STR, DNW, GMP) run the same path on an effective weight that
// the kind's WeightTransform computes once per forward into the workspace;
// its backward maps the effective weight's gradient onto the stored weight
// (and the kind's own parameters, such as STR's `<name>.sparseThreshold`).

public final class Conv2d: Layer, SparseWeighted {
    public let name: String
    public let inChannels: Int, outChannels: Int
    public let kernel: Int, stride: Int, padding: Int, dilation: Int, groups: Int
    public let weight: ParameterRef
    public let bias: ParameterRef?
    /// The sparse kind: how the effective weight is made from the stored one, and its gradient rule.
    public let transform: any WeightTransform
    public internal(set) var effective = WorkspaceRegion<Float>.none
    /// The parameter version the effective weight was computed for.
    private var effectiveVersion = -1
    /// PyTorch's default: kaiming_uniform(a=√5), i.e. U(±1/√fan_in) for weight and bias.
    public var initializer: WeightInit = .standard
    /// `conv_algorithm` for this layer; read when the layer is planned.
    public var algorithm = ConvAlgorithm.auto
    /// `precision` for this layer's products (dense ones where ConvPlanner.bf16Products says, the sparse
    /// kernels' always); read when the layer is planned.
    public var precision = Precision.fp32
    /// The effective weight in bf16 (both layouts), when the dense plan runs bf16 products.
    var bf16Weight = WorkspaceRegion<UInt16>.none
    /// The plan the last forward ran (ConvPlanner chooses), and the effective weight's density then.
    public internal(set) var execution = ConvPlan.im2col
    public internal(set) var density = 1.0
    /// The plan when the sparse kernels do not run (fixed when the layer is planned).
    public private(set) var densePlan = ConvPlan.im2col
    /// How the sparse kernels run this conv, when it can run them (then `compressed` is set too).
    var sparseLayout: SparseLayout?
    /// The compressed effective weight, when this conv can run sparse.
    var compressed: CompressedWeight?
    /// At inference on the sparse kernels: the BatchNorm (and ReLU, and residual join) computed in the
    /// store (ConvPlanner.planEpilogues).
    var epilogue: ConvEpilogue?
    /// A depthwise conv's BatchNorm, run channel by channel inside its kernel (DepthwiseNormFusion.plan).
    var channelNorm: BatchNorm2d?
    /// The BatchNorm that alone reads this conv's output: they exchange bf16 on the sparse kernels (BF16Handoff.plan).
    weak var bf16Norm: BatchNorm2d?
    /// The BatchNorm whose output this conv alone reads: written in bf16 when the sparse kernels read it (BF16Handoff.plan).
    weak var bf16Input: BatchNorm2d?
    /// Planned floats for the fold: per output channel its scale, then its bias.
    var foldRegion = WorkspaceRegion<Float>.none
    /// Whether this step's compressed weight lists the kept positions (for the kept-only all-reduce).
    var keptListed = false
    /// This step's weight when `prepareAhead` made it before the forward: for which parameter version (each training
    /// forward has its own), and the nanoseconds that took.
    var preparedAhead: (weight: UnsafeMutablePointer<Float>, version: Int, nanos: UInt64)?
    /// Whether this step's input is in bf16: set by `bf16Input` as it writes it, read by this step's forward and backward.
    var inputInBF16 = false

    private var input: ActRef!
    private var output: ActRef!
    /// This conv's output (nil before planning).
    var outputRef: ActRef? { output }
    private var inputGrad = GradUse.none
    public private(set) var geometry: ConvGeometry!

    /// - Parameters:
    ///   - name: the state_dict prefix, e.g. "layer1.0.conv1".
    public init(_ name: String, inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int = 1,
                padding: Int = 0, dilation: Int = 1, groups: Int = 1, bias: Bool = false,
                kind: SparseKind = .dense, settings: TransformSettings = .init(), layout: ParameterLayout) {
        precondition(inChannels % groups == 0 && outChannels % groups == 0,
                     "\(name): channels \(inChannels)→\(outChannels) are not divisible by groups \(groups)")
        self.name = name
        self.inChannels = inChannels; self.outChannels = outChannels
        self.kernel = kernelSize; self.stride = stride; self.padding = padding
        self.dilation = dilation; self.groups = groups
        weight = layout.parameter("\(name).weight", shape: [outChannels, inChannels / groups, kernelSize, kernelSize],
                                       group: .weight)
        self.bias = bias ? layout.parameter("\(name).bias", shape: [outChannels], group: .weight) : nil
        transform = kind.makeTransform(name: name, layout: layout, settings: settings)
    }

    public var weightCount: Int { outChannels * (inChannels / groups) * kernel * kernel }
    public var weightKey: String { "\(name).weight" }
    /// Output positions per image.
    public var usesPerSample: Int { geometry!.outPlane }
    public var runsSparse: Bool { execution.isSparse }

    public func plan(_ input: ActRef, _ planner: WorkspacePlanner) -> ActRef {
        precondition(input.shape.channels == inChannels,
                     "\(name) expects \(inChannels) input channels, got \(input.shape.channels)")
        var g = ConvGeometry(inChannels: inChannels, outChannels: outChannels, kernel: (kernel, kernel),
                             stride: (stride, stride), padding: (padding, padding), dilation: (dilation, dilation),
                             groups: groups, batch: input.shape.batch, inH: input.shape.height, inW: input.shape.width)
        g.inputGradient = input.grad != nil
        densePlan = ConvPlanner.densePlan(g, algorithm: algorithm)
        g.winograd = densePlan == .winograd
        g.bf16 = ConvPlanner.bf16Products(g, plan: densePlan, precision: precision)
        g.sparseBF16 = precision == .bf16
        execution = densePlan
        geometry = g
        self.input = input
        inputGrad = planner.use(input, by: self)
        planner.scratch(perThread: g.scratchPerThread)
        planner.scratch(shared: g.sharedScratch(threads: planner.threads))
        if g.bf16 {
            bf16Weight = planner.halfRegion(g.bf16WeightCount)
            planner.scratch(perThreadHalves: g.bf16ScratchPerThread)
        }
        precondition(planner.threads <= 64, "at most 64 threads per rank")
        if !transform.isIdentity {
            effective = planner.region(g.weightCount)
            transform.plan(count: g.weightCount, planner)
        }
        planSparse(g, planner)
        // The folded norm's per-channel scale and shift, for an inference epilogue.
        foldRegion = planner.region(2 * outChannels)
        output = planner.activation(ActShape(channels: outChannels, batch: g.batch, height: g.outH, width: g.outW))
        planner.produced(output, by: self)
        epilogue = nil
        channelNorm = nil
        bf16Norm = nil
        bf16Input = nil
        preparedAhead = nil
        inputInBF16 = false
        return output
    }

    /// The profile key: what kind of work this conv is.
    public var profileKey: String {
        let bf16 = (execution.isSparse ? geometry!.sparseBF16 : geometry!.bf16) ? " bf16" : ""
        let norm = channelNorm != nil ? "+bn" : ""
        return "conv \(kernel)x\(kernel)/\(stride) \(inChannels)->\(outChannels) @\(geometry!.inH) \(execution.name)\(norm)\(bf16)"
    }

    private func profiled(_ ctx: StepContext, backward: Bool, since start: UInt64) {
        let g = geometry!
        var bytes = backward ? ConvTraffic.backward(g, execution, accumulate: ctx.workspace.accumulates(inputGrad),
                                                    bf16Input: inputInBF16,
                                                    bf16OutputGradient: takesBF16OutputGradient(ctx))
                             : ConvTraffic.forward(g, execution, residual: !ctx.training && ranEpilogue && epilogue?.join != nil,
                                                   bf16Input: inputInBF16, bf16Output: writesBF16Output(ctx))
        if let norm = channelNorm, norm.runsInConv(ctx) {
            // The norm's passes over this conv's output (as BatchNorm2d counts them).
            let passes = backward ? (norm.fuseReLU ? 7 : 5) : ctx.training ? 4 : 2
            bytes += Double(4 * passes * g.outChannels * g.columns)
        }
        ctx.profile?.add(conv: name, key: profileKey, plan: execution, density: density, geometry: g,
                         backward: backward, since: start, bytes: bytes)
    }

    public func forward(_ ctx: StepContext) {
        var start = ctx.profile == nil ? 0 : StepProfile.now()
        defer { if ctx.profile != nil { profiled(ctx, backward: false, since: start) } }
        let g = geometry!
        let reuse = !ctx.training && effectiveVersion == ctx.parameterVersion && (!transform.isIdentity || compressed != nil)
        let w: UnsafeMutablePointer<Float>
        if let ahead = preparedAhead, ctx.training, ahead.version == ctx.parameterVersion {
            // Prepared for this step before the layer ahead of this one ran: its time counts as this forward's.
            w = ahead.weight; start -= min(start, ahead.nanos)
        } else {
            w = reuse ? (transform.isIdentity ? ctx.param(weight) : ctx.region(effective)) : prepareWeight(ctx)
        }
        preparedAhead = nil
        precondition(!inputInBF16 || readsBF16Input(ctx), "\(name): a bf16 input for a plan that does not read one")
        if g.bf16 && !execution.isSparse && !reuse {
            ConvKernels.packWeight(w, g, into: packedWeight(ctx), transposed: ctx.training && g.inputGradient, pool: ctx.pool)
        }
        effectiveVersion = ctx.parameterVersion
        let x = ctx.value(input), y = ctx.value(output)
        let b = bias.map { UnsafePointer(ctx.param($0)) }
        if case .sparse(let layout) = execution, let c = compressed {
            if !ctx.training, let e = epilogue {
                // Inference: the BatchNorm folded in, with its ReLU or the residual join its output feeds;
                // this conv writes the epilogue's output and the norm (and join) skip their passes.
                if !reuse { fold(e.norm, c, ctx) }
                let shift = UnsafePointer(ctx.region(foldRegion) + outChannels)
                SparseConvKernels.forward(x: x, w: c.operand(ctx), bias: shift, residual: e.join.map { UnsafePointer(ctx.value($0.shortcut)) },
                                          relu: e.relu, y: ctx.value(e.output), g, layout, bf16: g.sparseBF16,
                                          pool: ctx.pool, scratch: scratch(ctx))
            } else {
                SparseConvKernels.forward(x: x, xBF16: inputInBF16, w: c.operand(ctx), bias: b, relu: false, y: y,
                                          yBF16: writesBF16Output(ctx), g, layout, bf16: g.sparseBF16, pool: ctx.pool,
                                          scratch: scratch(ctx))
            }
        } else if execution == .depthwise {
            let norm = channelNorm.flatMap { $0.runsInConv(ctx) ? $0.channelForward(ctx) : nil }
            DepthwiseKernels.forward(x: x, w: w, bias: b, y: y, g, pool: ctx.pool, scratch: scratch(ctx), norm: norm)
        } else {
            // Inference: the norm (and join) computed on each chunk, written where the norm's output goes.
            let affine = denseEpilogue(ctx)
            ConvKernels.forward(x: x, w: w, bias: b, y: affine == nil ? y : ctx.value(epilogue!.output), g, pool: ctx.pool,
                                scratch: scratch(ctx), bf16: g.bf16 ? packedWeight(ctx) : nil, epilogue: affine)
        }
    }

    /// The bf16 weight's two layouts (planned when the dense plan runs bf16 products).
    private func packedWeight(_ ctx: StepContext) -> BF16Weight {
        let rows = ctx.region(bf16Weight)
        return BF16Weight(rows: rows, transposed: rows + groups * (outChannels / groups) * geometry!.evenColRows)
    }

    /// Whether this step's forward writes the output in bf16 for `bf16Norm`: on the sparse kernels with bf16
    /// products, unless an inference epilogue writes the norm's output instead.
    func writesBF16Output(_ ctx: StepContext) -> Bool {
        guard BF16Handoff.outputs, bf16Norm != nil, geometry!.sparseBF16, execution.isSparse else { return false }
        return ctx.training || epilogue == nil
    }

    /// Whether this step's backward reads ∂Y in bf16, written so by `bf16Norm`: on the sparse kernels
    /// with bf16 products, a kept-only weight gradient (DNW's dense one reads fp32) and no bias gradient.
    func takesBF16OutputGradient(_ ctx: StepContext) -> Bool {
        guard BF16Handoff.gradients, bf16Norm != nil, ctx.training, geometry!.sparseBF16 else { return false }
        return execution.isSparse && transform.gradientRule == .keptOnly && bias == nil
    }

    /// Whether this step's forward and backward can read the input in bf16 (`bf16Input` decides so, and sets
    /// `inputInBF16`): a training step on the sparse kernels (pointwise or shifted layouts, bf16 products) with a
    /// kept-only weight gradient (DNW's dense one reads fp32). Known once this step's weight is prepared (the norm
    /// calls `prepareAhead` first: the plan can move between the dense and sparse kernels from step to step).
    func readsBF16Input(_ ctx: StepContext) -> Bool {
        guard BF16Handoff.inputs, bf16Input != nil, ctx.training, geometry!.sparseBF16,
              case .sparse(let layout) = execution, layout != .columns else { return false }
        return transform.gradientRule == .keptOnly
    }

    public func backward(_ ctx: StepContext) {
        let start = ctx.profile == nil ? 0 : StepProfile.now()
        defer { if ctx.profile != nil { profiled(ctx, backward: true, since: start) } }
        let g = geometry!
        let x = ctx.value(input), w = transform.isIdentity ? ctx.param(weight) : ctx.region(effective)
        let dy = ctx.workspace.grad(output)!, dx = ctx.workspace.grad(input)
        let acc = ctx.workspace.accumulates(inputGrad)
        let dw = ctx.grad(weight), db = bias.map { ctx.grad($0) }
        let keptOnly = transform.gradientRule == .keptOnly
        if case .sparse(let layout) = execution, let c = compressed {
            SparseConvKernels.backward(x: x, xBF16: inputInBF16, w: c.operand(ctx), dy: dy,
                                       dyBF16: takesBF16OutputGradient(ctx), dx: dx,
                                       accumulate: acc, dw: dw, keptOnly: keptOnly,
                                       denseWeight: w, dbias: db, g, layout, bf16: g.sparseBF16, pool: ctx.pool,
                                       scratch: scratch(ctx))
        } else if execution == .depthwise {
            let norm = channelNorm.flatMap { $0.runsInConv(ctx) ? $0 : nil }
            DepthwiseKernels.backward(x: x, w: w, dy: dy, dx: dx, accumulate: acc, dw: dw, dbias: db, g, pool: ctx.pool,
                                      scratch: scratch(ctx), norm: norm?.channelBackward(ctx))
            norm?.finishChannelBackward(ctx)
        } else {
            ConvKernels.backward(x: x, w: w, dy: dy, dx: dx, accumulate: acc, dw: dw, dbias: db, g,
                                 pool: ctx.pool, scratch: scratch(ctx), bf16: g.bf16 ? packedWeight(ctx) : nil)
        }
        // dw holds ∂L/∂ŵ; map it onto the stored weight. On the sparse plan a kept-only kind's dw is
        // already zero where pruned, and its own gradients come from the kept entries (their sums lead the scratch).
        if execution.isSparse && keptOnly, let c = compressed {
            transform.keptBackward(ctx.param(weight), index: UnsafePointer(c.entryIndex(ctx)),
                                   gradients: ctx.workspace.shared, count: c.count, ctx)
        } else {
            transform.backward(ctx.param(weight), grad: dw, count: weightCount, ctx)
        }
        if let sync = ctx.collectives {
            announceWeightGradient(sync, ctx)
            if let b = bias { sync.gradientReady(b) }
            for p in transform.parameters { sync.gradientReady(p) }
        }
    }

    @inline(__always) func scratch(_ ctx: StepContext) -> ConvScratch {
        ConvScratch(base: ctx.workspace.scratch(thread: 0), stride: ctx.workspace.scratchPerThread,
                    partials: ctx.workspace.shared, halves: ctx.workspace.halfScratch,
                    halfStride: ctx.workspace.halfScratchPerThread)
    }

    public func initialize(_ store: ParameterStore, seed: UInt64) {
        let fanIn = (inChannels / groups) * kernel * kernel
        let fanOut = (outChannels / groups) * kernel * kernel
        var rng = RNG(seed: seed, stream: streamID("\(name).weight"))
        initializer.fill(store.values.base + weight.offset, count: weightCount, fanIn: fanIn, fanOut: fanOut, rng: &rng)
        if let bias = bias {
            let bound = 1 / Double(fanIn).squareRoot()
            rng.fillUniform(store.values.base + bias.offset, count: outChannels, low: -bound, high: bound)
        }
        transform.initialize(store)
    }
}
