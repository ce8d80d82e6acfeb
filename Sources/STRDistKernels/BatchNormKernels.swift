// BatchNorm2d on CNHW activations: channel c is one contiguous run of
// M = N·H·W values. Training mode normalises with the batch mean and biased
// variance and updates the running statistics with the unbiased variance
// (PyTorch). An optional ReLU is fused into the same passes, forward and
// backward (BatchNormKernels+Backward.swift: its mask read from the output, or
// recomputed from the input). A residual join after the norm can be fused the
// same way: given the shortcut, the norm writes relu(norm(x) + shortcut), and
// its backward reads the join's gradient and writes the shortcut's gradient
// too (`ShortcutGradient`); the join's ReLU mask comes from one bit per value
// its forward keeps (`positive`: a 32nd of the output's bytes), or from its
// output. Outputs that outgrow half the last-level cache are stored past it
// (`streams`). The statistics and the gradient sums are separate steps so
// synchronized BN can all-reduce them; without it, `trainingForward` and `trainingBackward` run all passes of a
// channel back to back, while the channel is still in cache. x can be bf16 (a
// bf16 conv's output, `ActivationElement`: the same arithmetic on its exact
// fp32 values), and ∂X (`dxBF16`) and the norm's own output (`yBF16`) can be
// written in bf16 for a conv whose bf16 products read them in place.

import Foundation
import CBFloat16
import CVector

public enum BatchNormKernels {
    /// mean[c] and biased var[c] of each channel.
    public static func moments<X: ActivationElement>(_ x: UnsafePointer<X>, channels: Int, m: Int,
                               mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>,
                               pool: ThreadPool) {
        pool.parallelRanges(channels, (x: x, m: m, mean: mean, variance: variance)) { a, range, _ in
            for c in range {
                let xc = a.x + c * a.m
                let mu = Vec.sum(xc, a.m) / Float(a.m)
                a.mean[c] = mu
                a.variance[c] = Vec.sumSquaredDeviations(xc, a.m, mean: mu) / Float(a.m)
            }
        }
    }

    /// Whether a pass writes its fp32 output of `floats` values past the caches: `stream` if given (tests), else
    /// when it outgrows half the last-level cache, as the sparse kernels decide (MachineCaches.streams). A bf16
    /// output is stored through the caches.
    static func streams(_ stream: Bool?, _ floats: Int, bf16: Bool) -> Bool {
        !bf16 && (stream ?? MachineCaches.streams(floats: floats))
    }

    /// Running statistics update: r = (1 − momentum)·r + momentum·stat, with the unbiased variance.
    public static func updateRunning(mean: UnsafePointer<Float>, variance: UnsafePointer<Float>, channels: Int,
                                     m: Int, momentum: Float, runningMean: UnsafeMutablePointer<Float>,
                                     runningVar: UnsafeMutablePointer<Float>) {
        let unbias = m > 1 ? Float(m) / Float(m - 1) : 1
        for c in 0..<channels {
            runningMean[c] = (1 - momentum) * runningMean[c] + momentum * mean[c]
            runningVar[c] = (1 - momentum) * runningVar[c] + momentum * variance[c] * unbias
        }
    }

    /// y = relu?((x − mean)·invstd·γ + β); γ, β nil for the non-affine kind.
    /// `variance` is turned into invstd = 1/√(var + eps) in place.
    public static func normalize<X: ActivationElement>(_ x: UnsafePointer<X>, channels: Int, m: Int,
                                 mean: UnsafePointer<Float>, varianceToInvstd: UnsafeMutablePointer<Float>, eps: Float,
                                 gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>?, relu: Bool,
                                 residual: UnsafePointer<Float>? = nil, y: UnsafeMutablePointer<Float>, yBF16: Bool = false,
                                 positive: UnsafeMutablePointer<UInt16>? = nil, stream: Bool? = nil, pool: ThreadPool) {
        let args = (x: x, y: y, bf16: yBF16, m: m, mean: mean, inv: varianceToInvstd, eps: eps, gamma: gamma, beta: beta,
                    relu: relu, r: residual, bits: positive, streamed: streams(stream, channels * m, bf16: yBF16))
        pool.parallelRanges(channels, args) { a, range, _ in
            for c in range {
                let invstd = 1 / (a.inv[c] + a.eps).squareRoot()
                a.inv[c] = invstd
                let scale = invstd * (a.gamma?[c] ?? 1)
                let shift = (a.beta?[c] ?? 0) - a.mean[c] * scale
                storeOutput(a.x + c * a.m, a.y, at: c * a.m, bf16: a.bf16, a.m, scale, shift, a.relu, a.r.map { $0 + c * a.m },
                            streamed: a.streamed, positive: a.bits.map { $0 + c * maskWords(a.m) })
            }
        }
    }

    /// moments + normalize channel by channel: mean, invstd and the biased variance (for the
    /// running statistics) out, y written (`yBF16`: rounded to bf16, as `storeOutput`).
    public static func trainingForward<X: ActivationElement>(_ x: UnsafePointer<X>, channels: Int, m: Int,
                                       mean: UnsafeMutablePointer<Float>, invstd: UnsafeMutablePointer<Float>,
                                       variance: UnsafeMutablePointer<Float>, eps: Float,
                                       gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>?, relu: Bool,
                                       residual: UnsafePointer<Float>? = nil, y: UnsafeMutablePointer<Float>,
                                       yBF16: Bool = false, positive: UnsafeMutablePointer<UInt16>? = nil, stream: Bool? = nil,
                                       pool: ThreadPool) {
        let args = (x: x, y: y, bf16: yBF16, m: m, mean: mean, inv: invstd, variance: variance, eps: eps, gamma: gamma,
                    beta: beta, relu: relu, r: residual, bits: positive, streamed: streams(stream, channels * m, bf16: yBF16))
        pool.parallelRanges(channels, args) { a, range, _ in
            for c in range {
                trainingForwardChannel(c, a.x, m: a.m, mean: a.mean, invstd: a.inv, variance: a.variance, eps: a.eps,
                                       gamma: a.gamma, beta: a.beta, relu: a.relu, residual: a.r, y: a.y, yBF16: a.bf16,
                                       positive: a.bits, streamed: a.streamed)
            }
        }
    }

    /// Channel c of `trainingForward` (x, y and the residual are the whole tensors).
    @inline(__always)
    public static func trainingForwardChannel<X: ActivationElement>(_ c: Int, _ x: UnsafePointer<X>, m: Int, mean: UnsafeMutablePointer<Float>,
                                              invstd: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>,
                                              eps: Float, gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>?,
                                              relu: Bool, residual: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>,
                                              yBF16: Bool = false, positive: UnsafeMutablePointer<UInt16>? = nil,
                                              streamed: Bool = false) {
        let xc = x + c * m
        let mu = Vec.sum(xc, m) / Float(m)
        let v = Vec.sumSquaredDeviations(xc, m, mean: mu) / Float(m)
        let inv = 1 / (v + eps).squareRoot()
        mean[c] = mu; variance[c] = v; invstd[c] = inv
        let scale = inv * (gamma?[c] ?? 1)
        let shift = (beta?[c] ?? 0) - mu * scale
        storeOutput(xc, y, at: c * m, bf16: yBF16, m, scale, shift, relu, residual.map { $0 + c * m }, streamed: streamed,
                    positive: positive.map { $0 + c * maskWords(m) })
    }

    /// UInt16 words of one channel's join mask (`positive`): a bit per value, each channel from a word's start.
    @inline(__always) public static func maskWords(_ m: Int) -> Int { (m + 15) / 16 }

    /// Bits [i, i + 16) of `words` ORed with `lanes` (i need not be a multiple of 16; the words beyond the
    /// value's are inside the channel's, which holds value i + 15).
    @inline(__always)
    static func orBits(_ words: UnsafeMutablePointer<UInt16>, _ i: Int, _ lanes: UInt16) {
        let w = i >> 4, shift = UInt16(i & 15)
        words[w] |= lanes << shift
        if shift != 0 { words[w + 1] |= lanes >> (16 - shift) }
    }

    /// Evaluation: y = relu?((x − running_mean)/√(running_var + eps)·γ + β).
    public static func forwardEval<X: ActivationElement>(_ x: UnsafePointer<X>, channels: Int, m: Int,
                                   runningMean: UnsafePointer<Float>, runningVar: UnsafePointer<Float>, eps: Float,
                                   gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>?, relu: Bool,
                                   residual: UnsafePointer<Float>? = nil, y: UnsafeMutablePointer<Float>, stream: Bool? = nil,
                                   pool: ThreadPool) {
        let args = (x: x, y: y, m: m, rm: runningMean, rv: runningVar, eps: eps, gamma: gamma, beta: beta, relu: relu,
                    r: residual, streamed: streams(stream, channels * m, bf16: false))
        pool.parallelRanges(channels, args) { a, range, _ in
            for c in range {
                evalChannel(c, a.x, m: a.m, runningMean: a.rm, runningVar: a.rv, eps: a.eps, gamma: a.gamma, beta: a.beta,
                            relu: a.relu, residual: a.r, y: a.y, streamed: a.streamed)
            }
        }
    }

    /// Channel c of `forwardEval` (x, y and the residual are the whole tensors).
    @inline(__always)
    public static func evalChannel<X: ActivationElement>(_ c: Int, _ x: UnsafePointer<X>, m: Int, runningMean: UnsafePointer<Float>,
                                   runningVar: UnsafePointer<Float>, eps: Float, gamma: UnsafePointer<Float>?,
                                   beta: UnsafePointer<Float>?, relu: Bool, residual: UnsafePointer<Float>?,
                                   y: UnsafeMutablePointer<Float>, streamed: Bool = false) {
        let (scale, shift) = evalCoefficients(c, runningMean: runningMean, runningVar: runningVar, eps: eps,
                                              gamma: gamma, beta: beta)
        affine(x + c * m, y + c * m, m, scale, shift, relu, residual.map { $0 + c * m }, streamed: streamed)
    }

    /// Channel c's evaluation as y = x·scale + shift: scale = γ/√(running_var + eps), shift = β − running_mean·scale
    /// (what a conv computing this norm in its store applies, for the same bits).
    @inline(__always)
    public static func evalCoefficients(_ c: Int, runningMean: UnsafePointer<Float>, runningVar: UnsafePointer<Float>,
                                        eps: Float, gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>?)
        -> (scale: Float, shift: Float) {
        let scale = (gamma?[c] ?? 1) / (runningVar[c] + eps).squareRoot()
        return (scale, (beta?[c] ?? 0) - runningMean[c] * scale)
    }

    /// affine into element `at` of y (`streamed`: past the caches), or (`bf16`) into bf16 element `at` of the same
    /// buffer (a norm's own output, no join), rounded as bf16_round does — what the bf16 products of the conv
    /// reading it would round it to.
    @inline(__always)
    static func storeOutput<X: ActivationElement>(_ x: UnsafePointer<X>, _ y: UnsafeMutablePointer<Float>, at: Int, bf16: Bool,
                                                  _ m: Int, _ scale: Float, _ shift: Float, _ relu: Bool,
                                                  _ residual: UnsafePointer<Float>?, streamed: Bool = false,
                                                  positive: UnsafeMutablePointer<UInt16>? = nil) {
        guard bf16 else { return affine(x, y + at, m, scale, shift, relu, residual, streamed: streamed, positive: positive) }
        precondition(residual == nil, "a bf16 output is a norm's own, not a join's")
        y.withMemoryRebound(to: UInt16.self, capacity: at + m) { affine(x, bf16: $0 + at, m, scale, shift, relu) }
    }

    /// affine (no residual) written rounded to bf16 (bf16_round's bits).
    @inline(__always)
    public static func affine<X: ActivationElement>(_ x: UnsafePointer<X>, bf16 y: UnsafeMutablePointer<UInt16>, _ m: Int,
                                                    _ scale: Float, _ shift: Float, _ relu: Bool) {
        roundedThroughStack(y, m) { i, n, t in affine(x + i, t, n, scale, shift, relu) }
    }

    /// `m` values written rounded to bf16 (bf16_round's bits) into `dst`: `fill(i, n, t)` computes values
    /// [i, i + n) into `t`, a buffer of 256 floats on the stack.
    @inline(__always)
    static func roundedThroughStack(_ dst: UnsafeMutablePointer<UInt16>, _ m: Int,
                                    _ fill: (Int, Int, UnsafeMutablePointer<Float>) -> Void) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 256) { buffer in
            let t = buffer.baseAddress!
            var i = 0
            while i < m {
                let n = min(256, m - i)
                fill(i, n, t)
                bf16_round(t, dst + i, Int64(n))
                i += n
            }
        }
    }

    /// y = relu?(x·scale + shift), or with a residual r the join relu((x·scale + shift) + r); `streamed`: stored
    /// past the caches (Vec.fill); `positive`: the join's mask kept too, bit i set where y[i] is not ≤ 0
    /// (maskWords(m) words, ReluMask.bits).
    @inline(__always)
    public static func affine<X: ActivationElement>(_ x: UnsafePointer<X>, _ y: UnsafeMutablePointer<Float>, _ m: Int,
                       _ scale: Float, _ shift: Float, _ relu: Bool, _ residual: UnsafePointer<Float>? = nil,
                       streamed: Bool = false, positive: UnsafeMutablePointer<UInt16>? = nil) {
        let s = Vec.V(repeating: scale), b = Vec.V(repeating: shift), zero = Vec.V(repeating: 0)
        if let r = residual, let words = positive {
            words.update(repeating: 0, count: maskWords(m))
            Vec.fill(y, m, streamed: streamed, { i in
                let v = pointwiseMax(X.load(x + i) * s + b + Vec.load(r + i), zero)
                orBits(words, i, relu_kept_lanes(v))
                return v
            }, { i in
                let v = max(0, (X.value(x, i) * scale + shift) + r[i])
                if !(v <= 0) { words[i >> 4] |= 1 << UInt16(i & 15) }
                return v
            })
        } else if let r = residual {
            Vec.fill(y, m, streamed: streamed, { pointwiseMax(X.load(x + $0) * s + b + Vec.load(r + $0), zero) },
                     { max(0, (X.value(x, $0) * scale + shift) + r[$0]) })
        } else if relu {
            Vec.fill(y, m, streamed: streamed, { pointwiseMax(X.load(x + $0) * s + b, zero) },
                     { max(0, X.value(x, $0) * scale + shift) })
        } else {
            Vec.fill(y, m, streamed: streamed, { X.load(x + $0) * s + b }, { X.value(x, $0) * scale + shift })
        }
    }
}
