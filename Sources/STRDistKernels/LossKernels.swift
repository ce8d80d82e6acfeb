// Softmax cross-entropy with label smoothing and top-k accuracy. Logits are
// class-major, [K, N] (the CNHW output of the 1×1 classifier conv), so
// sample i's logits sit at i, i + N, i + 2N, …
//
// loss_i = (1 − ε)·(−log p_{i,y}) + ε·mean_k(−log p_{i,k}); the batch loss is
// the mean over samples and dlogits is its gradient.

import Foundation

public enum LossKernels {
    /// Returns the mean loss over the first `samples` (default: all n) and writes
    /// ∂loss/∂logits into `dlogits` (nil skips it; slots past `samples` get 0), and each sample's loss
    /// into `perSample` when given (0 past `samples`). `gradientOver` divides ∂loss/∂logits by another count
    /// than `samples` (the global batch, when the ranks' gradients are summed unscaled).
    public static func crossEntropy(logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
                                    classes k: Int, batch n: Int, samples: Int? = nil, smoothing eps: Float,
                                    dlogits: UnsafeMutablePointer<Float>?, perSample: UnsafeMutablePointer<Double>? = nil,
                                    gradientOver: Int? = nil) -> Float {
        let used = samples ?? n, denominator = Double(gradientOver ?? used)
        var total = 0.0
        if let p = perSample, used < n { for i in used..<n { p[i] = 0 } }
        if let d = dlogits, used < n { for c in 0..<k { for i in used..<n { d[c * n + i] = 0 } } }
        for i in 0..<used {
            let y = Int(labels[i])
            precondition(y >= 0 && y < k, "label \(y) is outside 0..<\(k)")
            var mx = -Float.infinity
            for c in 0..<k { mx = max(mx, logits[c * n + i]) }
            var z = 0.0, sumLogits = 0.0
            for c in 0..<k {
                z += Foundation.exp(Double(logits[c * n + i] - mx))
                sumLogits += Double(logits[c * n + i])
            }
            let logZ = Double(mx) + Foundation.log(z)
            let nll = logZ - Double(logits[y * n + i])
            let smooth = logZ - sumLogits / Double(k)
            let loss = Double(1 - eps) * nll + Double(eps) * smooth
            total += loss
            perSample?[i] = loss
            guard let d = dlogits else { continue }
            for c in 0..<k {
                let p = Foundation.exp(Double(logits[c * n + i]) - logZ)
                let target = (c == y ? Double(1 - eps) : 0) + Double(eps) / Double(k)
                d[c * n + i] = Float((p - target) / denominator)
            }
        }
        return Float(total / Double(used))
    }

    /// Number of samples whose label is among the top `k` logits, for each k in `ks`.
    /// A tie with the label's logit counts against it, so accuracy is never overstated.
    public static func correctCounts(logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
                                     classes: Int, batch n: Int, samples: Int? = nil, topK: (Int, Int)) -> (Int, Int) {
        var c1 = 0, c2 = 0
        for i in 0..<(samples ?? n) {
            let y = Int(labels[i]), target = logits[y * n + i]
            var rank = 0
            for c in 0..<classes where c != y {
                let v = logits[c * n + i]
                if v > target || (v == target && c < y) { rank += 1 }
            }
            if rank < topK.0 { c1 += 1 }
            if rank < topK.1 { c2 += 1 }
        }
        return (c1, c2)
    }
}
