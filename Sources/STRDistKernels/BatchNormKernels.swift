// BatchNorm2d on CNHW activations: channel c is one contiguous run of
// M = N·H·W values. Training mode normalises with the batch mean and biased
// variance and updates the running statistics with the unbiased variance
// (PyTorch). An optional ReLU is fused into the same passes, forward and
// backward (its mask is read from the output). A residual join after the
// norm can be fused the same way: given the shortcut, the norm writes
// relu(norm(x) + shortcut), and its backward reads the join's output and
// gradient and writes the shortcut's gradient too (`ShortcutGradient`). The statistics and
// the gradient sums are separate steps so synchronized BN can all-reduce them;
// without it, `trainingForward` and `trainingBackward` run all passes of a
// channel back to back, while the channel is still in cache. x can be bf16 (a
// bf16 conv's output, `ActivationElement`: the same arithmetic on its exact
// fp32 values), and ∂X (`dxBF16`) and the norm's own output (`yBF16`) can be
// written in bf16 for a conv whose bf16 products read them in place.

import Foundation
import CBFloat16

public enum BatchNormKernels {
    /// The residual join fused after a norm, backward: the shortcut's gradient, written (or added) with
    /// the masked output gradient the norm's own backward uses.
    public struct ShortcutGradient {
        public var pointer: UnsafeMutablePointer<Float>
        public var accumulate: Bool
        public init(_ pointer: UnsafeMutablePointer<Float>, accumulate: Bool) {
            self.pointer = pointer; self.accumulate = accumulate
        }
    }

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
                                 pool: ThreadPool) {
        let args = (x: x, y: y, bf16: yBF16, m: m, mean: mean, inv: varianceToInvstd, eps: eps, gamma: gamma, beta: beta,
                    relu: relu, r: residual)
        pool.parallelRanges(channels, args) { a, range, _ in
            for c in range {
                let invstd = 1 / (a.inv[c] + a.eps).squareRoot()
                a.inv[c] = invstd
                let scale = invstd * (a.gamma?[c] ?? 1)
                let shift = (a.beta?[c] ?? 0) - a.mean[c] * scale
                storeOutput(a.x + c * a.m, a.y, at: c * a.m, bf16: a.bf16, a.m, scale, shift, a.relu, a.r.map { $0 + c * a.m })
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
                                       yBF16: Bool = false, pool: ThreadPool) {
        let args = (x: x, y: y, bf16: yBF16, m: m, mean: mean, inv: invstd, variance: variance, eps: eps, gamma: gamma,
                    beta: beta, relu: relu, r: residual)
        pool.parallelRanges(channels, args) { a, range, _ in
            for c in range {
                trainingForwardChannel(c, a.x, m: a.m, mean: a.mean, invstd: a.inv, variance: a.variance, eps: a.eps,
                                       gamma: a.gamma, beta: a.beta, relu: a.relu, residual: a.r, y: a.y, yBF16: a.bf16)
            }
        }
    }

    /// Channel c of `trainingForward` (x, y and the residual are the whole tensors).
    @inline(__always)
    public static func trainingForwardChannel<X: ActivationElement>(_ c: Int, _ x: UnsafePointer<X>, m: Int, mean: UnsafeMutablePointer<Float>,
                                              invstd: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>,
                                              eps: Float, gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>?,
                                              relu: Bool, residual: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>,
                                              yBF16: Bool = false) {
        let xc = x + c * m
        let mu = Vec.sum(xc, m) / Float(m)
        let v = Vec.sumSquaredDeviations(xc, m, mean: mu) / Float(m)
        let inv = 1 / (v + eps).squareRoot()
        mean[c] = mu; variance[c] = v; invstd[c] = inv
        let scale = inv * (gamma?[c] ?? 1)
        storeOutput(xc, y, at: c * m, bf16: yBF16, m, scale, (beta?[c] ?? 0) - mu * scale, relu, residual.map { $0 + c * m })
    }

    /// gradientSums + inputGradient channel by channel (dx nil: the sums alone). `dxBF16`: dx is written
    /// rounded to bf16 (`channelInputGradient(bf16:)`), for a bf16 product to read in place.
    public static func trainingBackward<X: ActivationElement>(x: UnsafePointer<X>, y: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                        channels: Int, m: Int, mean: UnsafePointer<Float>, invstd: UnsafePointer<Float>,
                                        gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>? = nil, relu: Bool,
                                        maskFromInput: Bool = false, sumDy: UnsafeMutablePointer<Float>,
                                        sumDyXhat: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>?,
                                        dxBF16: Bool = false, accumulate: Bool, shortcut: ShortcutGradient? = nil,
                                        pool: ThreadPool) {
        let args = (x: x, y: y, dy: dy, dx: dx, bf16: dxBF16, m: m, mean: mean, invstd: invstd, gamma: gamma, beta: beta,
                    relu: relu, fromX: maskFromInput, s1: sumDy, s2: sumDyXhat, acc: accumulate, sc: shortcut)
        pool.parallelRanges(channels, args) { a, range, _ in
            for c in range {
                trainingBackwardChannel(c, x: a.x, y: a.y, dy: a.dy, m: a.m, mean: a.mean, invstd: a.invstd, gamma: a.gamma,
                                        beta: a.beta, relu: a.relu, maskFromInput: a.fromX, sumDy: a.s1, sumDyXhat: a.s2,
                                        dx: a.dx, dxBF16: a.bf16, accumulate: a.acc, shortcut: a.sc)
            }
        }
    }

    /// Channel c of `trainingBackward` (x, y, dy, dx and the shortcut's gradient are the whole tensors).
    @inline(__always)
    public static func trainingBackwardChannel<X: ActivationElement>(_ c: Int, x: UnsafePointer<X>, y: UnsafePointer<Float>,
                                               dy: UnsafePointer<Float>, m: Int, mean: UnsafePointer<Float>,
                                               invstd: UnsafePointer<Float>, gamma: UnsafePointer<Float>?,
                                               beta: UnsafePointer<Float>? = nil, relu: Bool, maskFromInput: Bool = false,
                                               sumDy: UnsafeMutablePointer<Float>, sumDyXhat: UnsafeMutablePointer<Float>,
                                               dx: UnsafeMutablePointer<Float>?, dxBF16: Bool = false, accumulate: Bool,
                                               shortcut: ShortcutGradient?) {
        let at = c * m, inv = invstd[c]
        let mask = ReluMask(relu, fromInput: maskFromInput, c, mean: mean, invstd: invstd, gamma: gamma, beta: beta)
        let (t1, t2) = channelSums(x + at, y + at, dy + at, m, mean[c], mask)
        sumDy[c] = t1
        sumDyXhat[c] = t2 * inv
        if let sc = shortcut { maskedGradient(y + at, dy + at, sc.pointer + at, m, sc.accumulate) }
        guard let dx else { return }
        let k = inputGradientCoefficients(gamma: gamma?[c] ?? 1, invstd: inv, mean: mean[c],
                                          sumDy: sumDy[c], sumDyXhat: sumDyXhat[c], count: Float(m))
        storeInputGradient(x + at, y + at, dy + at, dx, at: at, bf16: dxBF16, m, k, mask, accumulate)
    }

    /// A fused ReLU's mask in backward: none; y ≤ 0 read from the output; or the output recomputed from the input
    /// — relu(x·scale + shift) with the forward's scale and shift, in its arithmetic: the same mask, y not read.
    public enum ReluMask {
        case none, output, input(scale: Float, shift: Float)

        /// Channel c's mask: the input's with the forward's coefficients (mean, invstd, γ, β) when `fromInput`.
        @inline(__always)
        public init(_ relu: Bool, fromInput: Bool, _ c: Int, mean: UnsafePointer<Float>, invstd: UnsafePointer<Float>,
                    gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>?) {
            guard relu else { self = .none; return }
            guard fromInput else { self = .output; return }
            let scale = invstd[c] * (gamma?[c] ?? 1)
            self = .input(scale: scale, shift: (beta?[c] ?? 0) - mean[c] * scale)
        }

        /// d with the masked lanes of 16 values from i zeroed.
        @inline(__always)
        func apply<X: ActivationElement>(_ d: Vec.V, _ x: UnsafePointer<X>, _ y: UnsafePointer<Float>, _ i: Int) -> Vec.V {
            let zero = Vec.V(repeating: 0)
            switch self {
            case .none: return d
            case .output: return d.replacing(with: zero, where: Vec.load(y + i) .<= zero)
            case .input(let s, let b):
                let out = pointwiseMax(X.load(x + i) * Vec.V(repeating: s) + Vec.V(repeating: b), zero)
                return d.replacing(with: zero, where: out .<= zero)
            }
        }

        /// d, or 0 where value i is masked.
        @inline(__always)
        func apply<X: ActivationElement>(_ d: Float, _ x: UnsafePointer<X>, _ y: UnsafePointer<Float>, _ i: Int) -> Float {
            switch self {
            case .none: return d
            case .output: return y[i] <= 0 ? 0 : d
            case .input(let s, let b): return max(0, X.value(x, i) * s + b) <= 0 ? 0 : d
            }
        }
    }

    /// channelInputGradient into element `at` of dx, or (`bf16`) into bf16 element `at` of the same buffer.
    @inline(__always)
    static func storeInputGradient<X: ActivationElement>(_ x: UnsafePointer<X>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                   _ dx: UnsafeMutablePointer<Float>, at: Int, bf16: Bool, _ m: Int,
                                   _ k: (Float, Float, Float), _ mask: ReluMask, _ accumulate: Bool) {
        guard bf16 else { return channelInputGradient(x, y, dy, dx + at, m, k, mask, accumulate) }
        precondition(!accumulate, "a bf16 input gradient is written, never added to")
        dx.withMemoryRebound(to: UInt16.self, capacity: at + m) { channelInputGradient(x, y, dy, bf16: $0 + at, m, k, mask) }
    }

    /// Evaluation: y = relu?((x − running_mean)/√(running_var + eps)·γ + β).
    public static func forwardEval<X: ActivationElement>(_ x: UnsafePointer<X>, channels: Int, m: Int,
                                   runningMean: UnsafePointer<Float>, runningVar: UnsafePointer<Float>, eps: Float,
                                   gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>?, relu: Bool,
                                   residual: UnsafePointer<Float>? = nil, y: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let args = (x: x, y: y, m: m, rm: runningMean, rv: runningVar, eps: eps, gamma: gamma, beta: beta, relu: relu,
                    r: residual)
        pool.parallelRanges(channels, args) { a, range, _ in
            for c in range {
                evalChannel(c, a.x, m: a.m, runningMean: a.rm, runningVar: a.rv, eps: a.eps, gamma: a.gamma, beta: a.beta,
                            relu: a.relu, residual: a.r, y: a.y)
            }
        }
    }

    /// Channel c of `forwardEval` (x, y and the residual are the whole tensors).
    @inline(__always)
    public static func evalChannel<X: ActivationElement>(_ c: Int, _ x: UnsafePointer<X>, m: Int, runningMean: UnsafePointer<Float>,
                                   runningVar: UnsafePointer<Float>, eps: Float, gamma: UnsafePointer<Float>?,
                                   beta: UnsafePointer<Float>?, relu: Bool, residual: UnsafePointer<Float>?,
                                   y: UnsafeMutablePointer<Float>) {
        let (scale, shift) = evalCoefficients(c, runningMean: runningMean, runningVar: runningVar, eps: eps,
                                              gamma: gamma, beta: beta)
        affine(x + c * m, y + c * m, m, scale, shift, relu, residual.map { $0 + c * m })
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

    /// affine into element `at` of y, or (`bf16`) into bf16 element `at` of the same buffer (a norm's own output, no
    /// join), rounded as bf16_round does — what the bf16 products of the conv reading it would round it to.
    @inline(__always)
    static func storeOutput<X: ActivationElement>(_ x: UnsafePointer<X>, _ y: UnsafeMutablePointer<Float>, at: Int, bf16: Bool,
                                                  _ m: Int, _ scale: Float, _ shift: Float, _ relu: Bool,
                                                  _ residual: UnsafePointer<Float>?) {
        guard bf16 else { return affine(x, y + at, m, scale, shift, relu, residual) }
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

    /// y = relu?(x·scale + shift), or with a residual r the join relu((x·scale + shift) + r).
    @inline(__always)
    public static func affine<X: ActivationElement>(_ x: UnsafePointer<X>, _ y: UnsafeMutablePointer<Float>, _ m: Int,
                       _ scale: Float, _ shift: Float, _ relu: Bool, _ residual: UnsafePointer<Float>? = nil) {
        let s = Vec.V(repeating: scale), b = Vec.V(repeating: shift), zero = Vec.V(repeating: 0)
        var i = 0
        if let r = residual {
            while i + 16 <= m { Vec.store(pointwiseMax(X.load(x + i) * s + b + Vec.load(r + i), zero), y + i); i += 16 }
            while i < m { y[i] = max(0, (X.value(x, i) * scale + shift) + r[i]); i += 1 }
        } else if relu {
            while i + 16 <= m { Vec.store(pointwiseMax(X.load(x + i) * s + b, zero), y + i); i += 16 }
            while i < m { y[i] = max(0, X.value(x, i) * scale + shift); i += 1 }
        } else {
            while i + 16 <= m { Vec.store(X.load(x + i) * s + b, y + i); i += 16 }
            while i < m { y[i] = X.value(x, i) * scale + shift; i += 1 }
        }
    }

    /// Per channel: sumDy = Σ dy', sumDyXhat = Σ dy'·x̂ with dy' = dy·1[y > 0] under the fused ReLU.
    public static func gradientSums<X: ActivationElement>(x: UnsafePointer<X>, y: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                    channels: Int, m: Int, mean: UnsafePointer<Float>, invstd: UnsafePointer<Float>,
                                    gamma: UnsafePointer<Float>? = nil, beta: UnsafePointer<Float>? = nil, relu: Bool,
                                    maskFromInput: Bool = false, sumDy: UnsafeMutablePointer<Float>,
                                    sumDyXhat: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let args = (x: x, y: y, dy: dy, m: m, mean: mean, invstd: invstd, gamma: gamma, beta: beta, relu: relu,
                    fromX: maskFromInput, s1: sumDy, s2: sumDyXhat)
        pool.parallelRanges(channels, args) { a, range, _ in
            for c in range {
                let mask = ReluMask(a.relu, fromInput: a.fromX, c, mean: a.mean, invstd: a.invstd, gamma: a.gamma, beta: a.beta)
                let (t1, t2) = channelSums(a.x + c * a.m, a.y + c * a.m, a.dy + c * a.m, a.m, a.mean[c], mask)
                a.s1[c] = t1
                a.s2[c] = t2 * a.invstd[c]
            }
        }
    }

    /// (Σ dy', Σ dy'·(x − mean)) over one channel.
    @inline(__always)
    public static func channelSums<X: ActivationElement>(_ x: UnsafePointer<X>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                            _ m: Int, _ mean: Float, _ mask: ReluMask) -> (Float, Float) {
        let mu = Vec.V(repeating: mean)
        var s1 = Vec.V(repeating: 0), s2 = Vec.V(repeating: 0)
        var i = 0
        while i + 16 <= m {
            let d = mask.apply(Vec.load(dy + i), x, y, i)
            s1 += d
            s2 = s2.addingProduct(d, X.load(x + i) - mu)
            i += 16
        }
        var t1 = s1.sum(), t2 = s2.sum()
        while i < m {
            let d = mask.apply(dy[i], x, y, i)
            t1 += d; t2 += d * (X.value(x, i) - mean); i += 1
        }
        return (t1, t2)
    }

    /// dx = γ·invstd/M·(M·dy' − ΣDy − x̂·ΣDyX̂), written or (accumulate) added.
    public static func inputGradient<X: ActivationElement>(x: UnsafePointer<X>, y: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                     channels: Int, m: Int, mean: UnsafePointer<Float>, invstd: UnsafePointer<Float>,
                                     gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>? = nil, relu: Bool,
                                     maskFromInput: Bool = false,
                                     sumDy: UnsafePointer<Float>, sumDyXhat: UnsafePointer<Float>, count: Int? = nil,
                                     dx: UnsafeMutablePointer<Float>?, dxBF16: Bool = false, accumulate: Bool,
                                     shortcut: ShortcutGradient? = nil, pool: ThreadPool) {
        // `count`: the M the sums run over (all replicas' for synchronized BN; default m).
        let args = (x: x, y: y, dy: dy, dx: dx, bf16: dxBF16, m: m, mean: mean, invstd: invstd, gamma: gamma, beta: beta,
                    relu: relu, fromX: maskFromInput, s1: sumDy, s2: sumDyXhat, acc: accumulate, total: Float(count ?? m),
                    sc: shortcut)
        pool.parallelRanges(channels, args) { a, range, _ in
            for c in range {
                if let sc = a.sc { maskedGradient(a.y + c * a.m, a.dy + c * a.m, sc.pointer + c * a.m, a.m, sc.accumulate) }
                guard let dx = a.dx else { continue }
                let k = inputGradientCoefficients(gamma: a.gamma?[c] ?? 1, invstd: a.invstd[c], mean: a.mean[c],
                                                  sumDy: a.s1[c], sumDyXhat: a.s2[c], count: a.total)
                let at = c * a.m
                let mask = ReluMask(a.relu, fromInput: a.fromX, c, mean: a.mean, invstd: a.invstd, gamma: a.gamma, beta: a.beta)
                storeInputGradient(a.x + at, a.y + at, a.dy + at, dx, at: at, bf16: a.bf16, a.m, k, mask, a.acc)
            }
        }
    }

    /// (a, b, s) of dx = a·dy' + b + s·x: with k = γ·invstd, a = k, b = −k·meanDy + k·meanDyX̂·invstd·mean,
    /// s = −k·meanDyX̂·invstd, the means over `count` values.
    @inline(__always)
    public static func inputGradientCoefficients(gamma: Float, invstd inv: Float, mean: Float, sumDy: Float, sumDyXhat: Float,
                                          count: Float) -> (Float, Float, Float) {
        let k = gamma * inv, meanDy = sumDy / count, meanDyXhat = sumDyXhat / count
        return (k, -k * meanDy + k * meanDyXhat * inv * mean, -k * meanDyXhat * inv)
    }

    /// d = dy·1[y > 0] over one channel, written or (accumulate) added: the join's gradient of the shortcut.
    @inline(__always)
    public static func maskedGradient(_ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                      _ d: UnsafeMutablePointer<Float>, _ m: Int, _ accumulate: Bool) {
        let zero = Vec.V(repeating: 0)
        var i = 0
        while i + 16 <= m {
            var g = Vec.load(dy + i)
            g.replace(with: zero, where: Vec.load(y + i) .<= zero)
            if accumulate { g += Vec.load(d + i) }
            Vec.store(g, d + i)
            i += 16
        }
        while i < m {
            let g = y[i] > 0 ? dy[i] : 0
            d[i] = accumulate ? d[i] + g : g
            i += 1
        }
    }

    /// dx = a·dy' + b + s·x over one channel.
    @inline(__always)
    public static func channelInputGradient<X: ActivationElement>(_ x: UnsafePointer<X>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                     _ dx: UnsafeMutablePointer<Float>, _ m: Int, _ k: (Float, Float, Float),
                                     _ mask: ReluMask, _ accumulate: Bool) {
        let a = Vec.V(repeating: k.0), b = Vec.V(repeating: k.1), sx = Vec.V(repeating: k.2)
        var i = 0
        while i + 16 <= m {
            let d = mask.apply(Vec.load(dy + i), x, y, i)
            var r = d * a + b + X.load(x + i) * sx
            if accumulate { r += Vec.load(dx + i) }
            Vec.store(r, dx + i)
            i += 16
        }
        while i < m {
            let d = mask.apply(dy[i], x, y, i)
            let r = k.0 * d + k.1 + k.2 * X.value(x, i)
            dx[i] = accumulate ? dx[i] + r : r
            i += 1
        }
    }

    /// The same, written rounded to bf16 (bf16_round's bits: what a bf16 product would round the fp32 dx to).
    @inline(__always)
    public static func channelInputGradient<X: ActivationElement>(_ x: UnsafePointer<X>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                            bf16 dx: UnsafeMutablePointer<UInt16>, _ m: Int, _ k: (Float, Float, Float),
                                            _ mask: ReluMask) {
        roundedThroughStack(dx, m) { i, n, t in channelInputGradient(x + i, y + i, dy + i, t, n, k, mask, false) }
    }
}
