// STR's soft threshold, forward and backward, in one pass over the weights.
//   w' = sign(w)·relu(|w| − g),            g = sigmoid(s)
//   ∂L/∂w = ∂L/∂w'·1[|w| > g]
//   ∂L/∂s = −Σ ∂L/∂w'·sign(w)·1[|w| > g] · g(1 − g)

import CSparse
import Foundation

/// sigmoid in Double: exact 0 for the reference's sInit of −3200.
@inline(__always) public func sigmoid(_ s: Float) -> Double { 1 / (1 + exp(-Double(s))) }

public enum STRTransform {
    public static func forward(_ w: UnsafePointer<Float>, threshold s: Float, _ out: UnsafeMutablePointer<Float>,
                               count: Int, pool: ThreadPool) {
        let g = Float(sigmoid(s))
        pool.parallelRanges(count, (w: w, out: out, g: g)) { a, r, _ in
            for i in r {
                let m = abs(a.w[i]) - a.g
                a.out[i] = m > 0 ? (a.w[i] < 0 ? -m : m) : 0
            }
        }
    }

    /// ∂L/∂s's sum runs in this many fixed pieces of the weights, whatever the thread count, so the
    /// gradient is the same on any number of threads.
    public static let pieces = 64

    /// Turns `grad` (∂L/∂w' on entry) into ∂L/∂w in place and returns ∂L/∂s; `partials` holds `pieces` sums.
    public static func backward(_ w: UnsafePointer<Float>, threshold s: Float, grad: UnsafeMutablePointer<Float>,
                                count: Int, pool: ThreadPool, partials: UnsafeMutablePointer<Double>) -> Float {
        let gd = sigmoid(s), g = Float(gd)
        pool.parallelRanges(pieces, (w: w, grad: grad, g: g, partials: partials, count: count)) { a, pieces, _ in
            for p in pieces {
                let r = ThreadPool.split(a.count, parts: STRTransform.pieces, index: p)
                a.partials[p] = r.isEmpty ? 0 : sp_threshold_backward(a.w + r.lowerBound, a.g, a.grad + r.lowerBound, Int64(r.count))
            }
        }
        var total = 0.0
        for p in 0..<pieces { total += partials[p] }
        return Float(-total * gd * (1 - gd))
    }
}
