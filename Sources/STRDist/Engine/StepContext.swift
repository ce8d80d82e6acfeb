// What every layer's forward and backward get: the step's memory (the
// workspace and the parameter store, addressed by typed handles), the thread
// pool, the mode, and the cross-replica operations of this step.

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
    /// The batch's sample groups when the model sums its gradient in them (Network.plan).
    public internal(set) var groups: SampleGroups?
    /// Per-layer timings, when a benchmark asks for them.
    public var profile: StepProfile?

    public init(workspace: Workspace, store: ParameterStore, pool: ThreadPool) {
        self.workspace = workspace
        self.store = store
        self.pool = pool
    }

    /// A clock reading when a profile is attached (0 otherwise), for `profiled`.
    @inline(__always) public func profileStart() -> UInt64 { profile == nil ? 0 : StepProfile.now() }

    /// Adds the time since `start` to the profile under `key`, with the activation floats the work's passes
    /// swept (StepProfile's `act MB`).
    @inline(__always) public func profiled(_ key: String, backward: Bool, since start: UInt64, floats: Int) {
        profile?.add(key, backward: backward, since: start, bytes: Double(4 * floats))
    }

    @inline(__always) public func param(_ p: ParameterRef) -> UnsafeMutablePointer<Float> { store.values.base + p.offset }
    @inline(__always) public func grad(_ p: ParameterRef) -> UnsafeMutablePointer<Float> { store.grads.base + p.offset }
    @inline(__always) public func buffer(_ b: BufferRef) -> UnsafeMutablePointer<Float> { store.bufferValues.base + b.offset }
    @inline(__always) public func value(_ ref: ActRef) -> UnsafeMutablePointer<Float> { workspace.value(ref) }
    @inline(__always) public func region(_ r: WorkspaceRegion<Float>) -> UnsafeMutablePointer<Float> { workspace.pointer(r) }
    @inline(__always) public func region(_ r: WorkspaceRegion<Int32>) -> UnsafeMutablePointer<Int32> { workspace.pointer(r) }
    @inline(__always) public func region(_ r: WorkspaceRegion<UInt16>) -> UnsafeMutablePointer<UInt16> { workspace.pointer(r) }
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
