// PyTorch's Adam (betas 0.9, 0.999, eps 1e-8, no weight decay — the
// reference passes only lr), with its exact arithmetic:
//   m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²
//   p −= lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + eps)

import Foundation

public final class Adam: Optimizer {
    public let beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8
    public let exp: FloatBuffer, expSq: FloatBuffer
    public var steps = 0
    private let trainable: [(offset: Int, count: Int)]

    public var stateBuffers: [(name: String, buffer: FloatBuffer)] { [("exp_avg", exp), ("exp_avg_sq", expSq)] }

    public init(table: ParameterTable, frozen: Set<String> = []) {
        exp = FloatBuffer(count: table.count)
        expSq = FloatBuffer(count: table.count)
        trainable = table.entries.filter { !frozen.contains($0.key) }.map { ($0.offset, $0.count) }
    }

    public func step(values: FloatBuffer, grads: FloatBuffer, lr: Float, pool: ThreadPool) {
        steps += 1
        let t = Double(steps)
        let stepSize = Float(Double(lr) / (1 - pow(Double(beta1), t)))
        let correction2 = Float((1 - pow(Double(beta2), t)).squareRoot())
        for s in trainable {
            let args = (p: values.base + s.offset, g: grads.base + s.offset, m: exp.base + s.offset,
                        v: expSq.base + s.offset, b1: beta1, b2: beta2, eps: eps, stepSize: stepSize, c2: correction2)
            pool.parallelRanges(s.count, args) { a, r, _ in
                for i in r {
                    let g = a.g[i]
                    a.m[i] = a.b1 * a.m[i] + (1 - a.b1) * g
                    a.v[i] = a.b2 * a.v[i] + (1 - a.b2) * g * g
                    a.p[i] -= a.stepSize * a.m[i] / (a.v[i].squareRoot() / a.c2 + a.eps)
                }
            }
        }
    }
}
