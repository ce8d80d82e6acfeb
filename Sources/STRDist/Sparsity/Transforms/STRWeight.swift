// STRConv: ŵ = sign(w)·relu(|w| − sigmoid(s)), one learned s per layer stored
// as `<layer>.sparseThreshold` [1, 1]; the gradient reaches kept weights only,
// and s gets −Σ_kept ∂L/∂ŵ·sign(w)·g(1 − g) (STRTransform has the kernels). On the
// sparse plan the stored weight is compressed with g directly and s's gradient
// comes from the kept entries alone.

import CSparse
import Foundation

public final class STRWeight: WeightTransform {
    /// Offset of s in the parameter arena.
    public let threshold: ParameterRef
    /// [threshold], made once: backward announces it to the all-reduce every step, and an array
    /// literal there would allocate.
    public let parameters: [ParameterRef]
    public let sInit: Float
    /// The threshold gradient's sums over fixed pieces of the weights (added in order: the same on any
    /// thread count).
    private let partials = UnsafeMutablePointer<Double>.allocate(capacity: STRTransform.pieces)

    /// The suffix of s's tensor name, `<layer>.sparseThreshold`.
    public static let thresholdSuffix = ".sparseThreshold"
    private let thresholdName: String

    public init(name: String, layout: ParameterLayout, sInit: Float) {
        thresholdName = name + Self.thresholdSuffix
        threshold = layout.parameter(thresholdName, shape: [1, 1], group: .threshold)
        parameters = [threshold]
        self.sInit = sInit
    }

    deinit { partials.deallocate() }

    public var kind: SparseKind { .str }
    public var gradientRule: GradientRule { .keptOnly }
    public var ownTensors: [String] { [thresholdName] }

    public func forward(_ w: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int, _ ctx: StepContext) {
        STRTransform.forward(w, threshold: ctx.param(threshold).pointee, out, count: count, pool: ctx.pool)
    }

    public func backward(_ w: UnsafePointer<Float>, grad: UnsafeMutablePointer<Float>, count: Int, _ ctx: StepContext) {
        ctx.grad(threshold).pointee = STRTransform.backward(w, threshold: ctx.param(threshold).pointee, grad: grad,
                                                            count: count, pool: ctx.pool, partials: partials)
    }

    // Kept exactly where ŵ ≠ 0 (the default keepMask): |w| > g makes |w| − g > 0 in floating point too.

    /// The stored weight compresses with g = sigmoid(s) (the same Float STRTransform.forward uses).
    public func compressionThreshold(_ ctx: StepContext) -> Float? { Float(sigmoid(ctx.param(threshold).pointee)) }

    /// ∂L/∂s = −Σ_kept sign(w)·∂L/∂ŵ · g(1 − g), from the kept entries alone (fixed pieces, added in order).
    public func keptBackward(_ w: UnsafePointer<Float>, index: UnsafePointer<Int32>, gradients: UnsafePointer<Float>,
                             count: Int, _ ctx: StepContext) {
        let gd = sigmoid(ctx.param(threshold).pointee), pieces = STRTransform.pieces
        ctx.pool.parallelRanges(pieces, (w: w, index: index, g: gradients, partials: partials, count: count)) { a, range, _ in
            for p in range {
                let r = ThreadPool.split(a.count, parts: STRTransform.pieces, index: p)
                a.partials[p] = sp_signed_sum(a.w, a.index, a.g, Int64(r.lowerBound), Int64(r.upperBound))
            }
        }
        var total = 0.0
        for p in 0..<pieces { total += partials[p] }
        ctx.grad(threshold).pointee = Float(-total * gd * (1 - gd))
    }

    /// sigmoid(s), the threshold the reference reports.
    public func reportedThreshold(_ ctx: StepContext) -> Double? { sigmoid(ctx.param(threshold).pointee) }

    public func initialize(_ store: ParameterStore) { store.values.base[threshold.offset] = sInit }

    /// s with sigmoid(s) halfway between the magnitudes either side of the cut that prunes `sparsity`.
    public func impose(sparsity: Double, weight: UnsafePointer<Float>, count: Int, _ ctx: StepContext) -> Bool {
        ctx.param(threshold).pointee = Self.threshold(weight, count: count, sparsity: sparsity)
        return true
    }

    /// s with sigmoid(s) halfway between the magnitudes either side of the cut that prunes
    /// `sparsity` of the weights (−3200, nothing pruned, for 0).
    static func threshold(_ w: UnsafePointer<Float>, count: Int, sparsity: Double) -> Float {
        let pruned = Int(sparsity * Double(count))
        guard pruned > 0 else { return -3200 }
        let m = (0..<count).map { abs(w[$0]) }.sorted()
        let g = pruned >= count ? Double(m[count - 1]) * 1.01 : (Double(m[pruned - 1]) + Double(m[pruned])) / 2
        let clamped = min(max(g, 1e-30), 1 - 1e-7)
        return Float(log(clamped / (1 - clamped)))
    }
}
