// DenseConv: the identity transform — the conv runs its stored weight.

public final class DenseWeight: WeightTransform {
    public init() {}
    public var kind: SparseKind { .dense }
    public var gradientRule: GradientRule { .dense }
    public var isIdentity: Bool { true }
    public func forward(_ w: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int, _ ctx: StepContext) {
        out.update(from: w, count: count)
    }
    public func backward(_ w: UnsafePointer<Float>, grad: UnsafeMutablePointer<Float>, count: Int, _ ctx: StepContext) {}
}
