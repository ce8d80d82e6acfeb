// The layer contract. A model is built once (layers register their
// parameters in the layout and keep the offsets), planned once per batch
// shape (layers take their input's ActRef, reserve their output and any
// saved data in the workspace, and keep those offsets), then run: forward
// and backward take only the step context, so a step moves no metadata and
// allocates nothing. Backward runs the layers in exact reverse plan order.

/// Parameter and buffer tables being filled while a model is built.
public final class ParameterLayout {
    public let parameters = ParameterTable()
    public let buffers = ParameterTable()
    public init() {}
}

/// What every forward and backward call gets: memory and threads.
public final class StepContext {
    public let workspace: Workspace
    public let store: ParameterStore
    public let pool: ThreadPool
    /// Training mode (batch statistics in BN) or evaluation.
    public var training = true
    /// Bumped whenever parameters may have changed (every training forward, or
    /// `Network.parametersChanged()`); sparse convs reuse their effective weight
    /// across evaluation batches while it stays the same.
    public var parameterVersion = 0
    /// Cross-replica operations for this step (gradient buckets, synchronized BN); nil on one process.
    public var collectives: (any StepCollectives)?
    /// Per-layer timings, when a benchmark asks for them.
    public var profile: StepProfile?

    public init(workspace: Workspace, store: ParameterStore, pool: ThreadPool) {
        self.workspace = workspace
        self.store = store
        self.pool = pool
    }

    @inline(__always) public func param(_ p: ParameterRef) -> UnsafeMutablePointer<Float> { store.values.base + p.offset }
    @inline(__always) public func grad(_ p: ParameterRef) -> UnsafeMutablePointer<Float> { store.grads.base + p.offset }
    @inline(__always) public func buffer(_ b: BufferRef) -> UnsafeMutablePointer<Float> { store.bufferValues.base + b.offset }
    @inline(__always) public func value(_ ref: ActRef) -> UnsafeMutablePointer<Float> { workspace.value(ref) }
    @inline(__always) public func region(_ r: WorkspaceRegion<Float>) -> UnsafeMutablePointer<Float> { workspace.pointer(r) }
    @inline(__always) public func region(_ r: WorkspaceRegion<Int32>) -> UnsafeMutablePointer<Int32> { workspace.pointer(r) }
}

/// What layers may ask of the other replicas during a step.
public protocol StepCollectives: AnyObject {
    /// The gradient of the parameter tensor `p` is final for this step.
    func gradientReady(_ p: ParameterRef)
    /// The same, for a tensor whose gradient is zero outside `count` kept positions (`kept`, relative to
    /// the tensor; identical on every replica): only those need to travel.
    func gradientReady(_ p: ParameterRef, kept: UnsafePointer<Int32>, count: Int)
    /// Whether layers should report kept positions (the all-reduce carries kept weights only).
    var wantsKeptPositions: Bool { get }
    /// In-place float sum over all replicas, ordered with the gradient buckets (synchronized BN).
    func allreduceSum(_ p: UnsafeMutablePointer<Float>, count: Int)
    var world: Int { get }
    var syncBatchNorm: Bool { get }
}

public protocol Layer: AnyObject {
    /// Reserves this layer's memory for `input`; returns its output.
    func plan(_ input: ActRef, _ planner: WorkspacePlanner) -> ActRef
    /// Reads the planned input, writes the planned output.
    func forward(_ ctx: StepContext)
    /// Reads the output gradient; writes parameter gradients and the input gradient (if any).
    func backward(_ ctx: StepContext)
    /// Sets initial parameter and buffer values.
    func initialize(_ store: ParameterStore, seed: UInt64)
    /// Multiply-adds per image that FLOP reports count for this layer once planned, besides convs (whose
    /// count follows their nonzero weights): the average pool's C·H·W; 0 for most layers.
    var reportedMACs: Int { get }
}

extension Layer {
    public func initialize(_ store: ParameterStore, seed: UInt64) {}
    public var reportedMACs: Int { 0 }
}

/// Layers applied one after another.
public final class Sequential: Layer {
    public let layers: [any Layer]

    public init(_ layers: [any Layer]) { self.layers = layers }

    public var reportedMACs: Int { layers.reduce(0) { $0 + $1.reportedMACs } }

    public func plan(_ input: ActRef, _ planner: WorkspacePlanner) -> ActRef {
        layers.reduce(input) { $1.plan($0, planner) }
    }

    public func forward(_ ctx: StepContext) { for layer in layers { layer.forward(ctx) } }

    public func backward(_ ctx: StepContext) {
        var i = layers.count - 1
        while i >= 0 { layers[i].backward(ctx); i -= 1 }
    }

    public func initialize(_ store: ParameterStore, seed: UInt64) {
        for layer in layers { layer.initialize(store, seed: seed) }
    }
}

/// A stable 64-bit hash of a key (FNV-1a), used as the RNG stream of that key's
/// initialisation so values do not depend on construction order.
public func streamID(_ key: String) -> UInt64 {
    FNV1a.of(key)
}
