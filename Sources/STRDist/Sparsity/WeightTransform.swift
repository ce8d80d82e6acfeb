// The seam between a conv and its sparse kind. A kind is a weight
// transform: each step it computes the effective weight ŵ = T(w) the conv
// runs with, and in backward maps ∂L/∂ŵ back onto w (and onto the
// parameters the kind owns, such as STR's threshold). Its gradient rule says
// where ∂L/∂w can be nonzero — everywhere (dense, DNW's straight-through) or
// only where ŵ is kept (STR, GMP) — which is what lets a sparse plan compute
// the weight gradient at the kept positions only and skip the rest.
//
// A kind is one type conforming to WeightTransform plus its registered
// `SparseKind` value; nothing else in the engine switches on kinds.

/// Where a kind's weight gradient may be nonzero.
public enum GradientRule: Sendable {
    /// ∂L/∂w = ∂L/∂ŵ everywhere (dense, DNW).
    case dense
    /// ∂L/∂w = ∂L/∂ŵ · 1[kept] (STR, GMP): only the kept positions' gradient is needed.
    case keptOnly
}

/// What a transform may take from the model options when it is made.
public struct TransformSettings: Sendable {
    /// STR's initial s (`sInit_value`).
    public var sInit: Float = 0
    public init(sInit: Float = 0) { self.sInit = sInit }
}

public protocol WeightTransform: AnyObject {
    var kind: SparseKind { get }
    var gradientRule: GradientRule { get }
    /// True for the dense kind: the conv runs its stored weight and plans no effective weight.
    var isIdentity: Bool { get }
    /// Parameters the transform owns (offsets), whose gradients are final after `backward`.
    var parameters: [ParameterRef] { get }
    /// Names of the tensors the kind added for this conv (STR's `<name>.sparseThreshold`): checkpoints
    /// keep them, the dense export drops them.
    var ownTensors: [String] { get }
    /// Reserves what the transform keeps in the workspace for a weight of `count` floats.
    func plan(count: Int, _ planner: WorkspacePlanner)
    /// ŵ = T(w), written to `out`.
    func forward(_ w: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int, _ ctx: StepContext)
    /// `grad` holds ∂L/∂ŵ on entry and ∂L/∂w on return; the transform's own parameter gradients are written.
    func backward(_ w: UnsafePointer<Float>, grad: UnsafeMutablePointer<Float>, count: Int, _ ctx: StepContext)
    /// 1 where the last forward kept a weight, 0 where it pruned one; nil when kept means ŵ ≠ 0.
    func keepMask(_ ctx: StepContext) -> UnsafePointer<Float>?
    /// A soft threshold the sparse kernels may compress the *stored* weight with (entries sign(w)·(|w| − t)
    /// where |w| > t) instead of computing ŵ first — STR's sigmoid(s); nil for the other kinds.
    func compressionThreshold(_ ctx: StepContext) -> Float?
    /// `backward` for a kept-only kind on the sparse plan: ∂L/∂w is already ∂L/∂ŵ at the kept positions
    /// (`gradients[e]` of entry e at dense position `index[e]`) and zero elsewhere; only the kind's own
    /// parameter gradients are left to write.
    func keptBackward(_ w: UnsafePointer<Float>, index: UnsafePointer<Int32>, gradients: UnsafePointer<Float>,
                      count: Int, _ ctx: StepContext)
    /// The threshold a report shows (STR's sigmoid(s)), or nil.
    func reportedThreshold(_ ctx: StepContext) -> Double?
    /// Initial values of the transform's own parameters.
    func initialize(_ store: ParameterStore)
    /// Puts the layer at `sparsity` now when the kind sets its own sparsity (STR picks s; the magnitude
    /// kinds take a prune rate from PruningPlan instead): whether it did.
    func impose(sparsity: Double, weight: UnsafePointer<Float>, count: Int, _ ctx: StepContext) -> Bool
}

extension WeightTransform {
    public var isIdentity: Bool { false }
    public var parameters: [ParameterRef] { [] }
    public var ownTensors: [String] { [] }
    public func impose(sparsity: Double, weight: UnsafePointer<Float>, count: Int, _ ctx: StepContext) -> Bool { false }
    public func plan(count: Int, _ planner: WorkspacePlanner) {}
    public func keepMask(_ ctx: StepContext) -> UnsafePointer<Float>? { nil }
    public func compressionThreshold(_ ctx: StepContext) -> Float? { nil }
    public func keptBackward(_ w: UnsafePointer<Float>, index: UnsafePointer<Int32>, gradients: UnsafePointer<Float>,
                             count: Int, _ ctx: StepContext) {}
    public func reportedThreshold(_ ctx: StepContext) -> Double? { nil }
    public func initialize(_ store: ParameterStore) {}
}

/// Kinds whose pruned count comes from a prune rate (DNW, GMP); PruningPlan alone sets it.
public protocol MagnitudePruned: WeightTransform {
    /// The fraction of the layer zeroed now (floor(rate·numel) weights).
    var pruneRate: Float { get set }
    /// True when the rate follows GMP's schedule over epochs; false when it is the target from the start (DNW).
    var followsSchedule: Bool { get }
}
