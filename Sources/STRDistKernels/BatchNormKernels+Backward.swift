// BatchNorm2d's backward on CNHW activations (BatchNormKernels.swift has the
// forward and the layout): the per-channel gradient sums, then ∂X — with the
// fused ReLU's mask (read from the output, or recomputed from the input:
// `ReluMask`), a residual join's shortcut gradient (`ShortcutGradient`), and
// ∂X written in bf16 (`dxBF16`) for a conv whose bf16 products read it in
// place. `trainingBackward` runs a channel's passes back to back; synchronized
// BN calls `gradientSums` and `inputGradient` with an all-reduce between them.

extension BatchNormKernels {
    /// The residual join fused after a norm, backward: the shortcut's gradient, written (or added) with
    /// the masked output gradient the norm's own backward uses.
    public struct ShortcutGradient {
        public var pointer: UnsafeMutablePointer<Float>
        public var accumulate: Bool
        public init(_ pointer: UnsafeMutablePointer<Float>, accumulate: Bool) {
            self.pointer = pointer; self.accumulate = accumulate
        }
    }

    /// gradientSums + inputGradient channel by channel (dx nil: the sums alone). `dxBF16`: dx is written
    /// rounded to bf16 (`channelInputGradient(bf16:)`), for a bf16 product to read in place.
    public static func trainingBackward<X: ActivationElement>(x: UnsafePointer<X>, y: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                        channels: Int, m: Int, mean: UnsafePointer<Float>, invstd: UnsafePointer<Float>,
                                        gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>? = nil, relu: Bool,
                                        maskFromInput: Bool = false, sumDy: UnsafeMutablePointer<Float>,
                                        sumDyXhat: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>?,
                                        dxBF16: Bool = false, accumulate: Bool, shortcut: ShortcutGradient? = nil,
                                        stream: Bool? = nil, pool: ThreadPool) {
        let args = (x: x, y: y, dy: dy, dx: dx, bf16: dxBF16, m: m, mean: mean, invstd: invstd, gamma: gamma, beta: beta,
                    relu: relu, fromX: maskFromInput, s1: sumDy, s2: sumDyXhat, acc: accumulate, sc: shortcut,
                    streamed: streams(stream, channels * m, bf16: false))
        pool.parallelRanges(channels, args) { a, range, _ in
            for c in range {
                trainingBackwardChannel(c, x: a.x, y: a.y, dy: a.dy, m: a.m, mean: a.mean, invstd: a.invstd, gamma: a.gamma,
                                        beta: a.beta, relu: a.relu, maskFromInput: a.fromX, sumDy: a.s1, sumDyXhat: a.s2,
                                        dx: a.dx, dxBF16: a.bf16, accumulate: a.acc, shortcut: a.sc, streamed: a.streamed)
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
                                               shortcut: ShortcutGradient?, streamed: Bool = false) {
        let at = c * m, inv = invstd[c]
        let mask = ReluMask(relu, fromInput: maskFromInput, c, mean: mean, invstd: invstd, gamma: gamma, beta: beta)
        let (t1, t2) = channelSums(x + at, y + at, dy + at, m, mean[c], mask)
        sumDy[c] = t1
        sumDyXhat[c] = t2 * inv
        if let sc = shortcut { maskedGradient(y + at, dy + at, sc.pointer + at, m, sc.accumulate, streamed: streamed) }
        guard let dx else { return }
        let k = inputGradientCoefficients(gamma: gamma?[c] ?? 1, invstd: inv, mean: mean[c],
                                          sumDy: sumDy[c], sumDyXhat: sumDyXhat[c], count: Float(m))
        storeInputGradient(x + at, y + at, dy + at, dx, at: at, bf16: dxBF16, m, k, mask, accumulate, streamed: streamed)
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

    /// channelInputGradient into element `at` of dx (`streamed`: past the caches where written, not added to), or
    /// (`bf16`) into bf16 element `at` of the same buffer.
    @inline(__always)
    static func storeInputGradient<X: ActivationElement>(_ x: UnsafePointer<X>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                   _ dx: UnsafeMutablePointer<Float>, at: Int, bf16: Bool, _ m: Int,
                                   _ k: (Float, Float, Float), _ mask: ReluMask, _ accumulate: Bool, streamed: Bool = false) {
        guard bf16 else { return channelInputGradient(x, y, dy, dx + at, m, k, mask, accumulate, streamed: streamed) }
        precondition(!accumulate, "a bf16 input gradient is written, never added to")
        dx.withMemoryRebound(to: UInt16.self, capacity: at + m) { channelInputGradient(x, y, dy, bf16: $0 + at, m, k, mask) }
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
                                     shortcut: ShortcutGradient? = nil, stream: Bool? = nil, pool: ThreadPool) {
        // `count`: the M the sums run over (all replicas' for synchronized BN; default m).
        let args = (x: x, y: y, dy: dy, dx: dx, bf16: dxBF16, m: m, mean: mean, invstd: invstd, gamma: gamma, beta: beta,
                    relu: relu, fromX: maskFromInput, s1: sumDy, s2: sumDyXhat, acc: accumulate, total: Float(count ?? m),
                    sc: shortcut, streamed: streams(stream, channels * m, bf16: false))
        pool.parallelRanges(channels, args) { a, range, _ in
            for c in range {
                if let sc = a.sc {
                    maskedGradient(a.y + c * a.m, a.dy + c * a.m, sc.pointer + c * a.m, a.m, sc.accumulate, streamed: a.streamed)
                }
                guard let dx = a.dx else { continue }
                let k = inputGradientCoefficients(gamma: a.gamma?[c] ?? 1, invstd: a.invstd[c], mean: a.mean[c],
                                                  sumDy: a.s1[c], sumDyXhat: a.s2[c], count: a.total)
                let at = c * a.m
                let mask = ReluMask(a.relu, fromInput: a.fromX, c, mean: a.mean, invstd: a.invstd, gamma: a.gamma, beta: a.beta)
                storeInputGradient(a.x + at, a.y + at, a.dy + at, dx, at: at, bf16: a.bf16, a.m, k, mask, a.acc,
                                   streamed: a.streamed)
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

    /// d = dy·1[y > 0] over one channel, written (`streamed`: past the caches) or (accumulate) added: the join's
    /// gradient of the shortcut.
    @inline(__always)
    public static func maskedGradient(_ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                      _ d: UnsafeMutablePointer<Float>, _ m: Int, _ accumulate: Bool, streamed: Bool = false) {
        let zero = Vec.V(repeating: 0)
        guard accumulate else {
            return Vec.fill(d, m, streamed: streamed, { Vec.load(dy + $0).replacing(with: zero, where: Vec.load(y + $0) .<= zero) },
                            { y[$0] > 0 ? dy[$0] : 0 })
        }
        var i = 0
        while i + 16 <= m {
            var g = Vec.load(dy + i)
            g.replace(with: zero, where: Vec.load(y + i) .<= zero)
            Vec.store(g + Vec.load(d + i), d + i)
            i += 16
        }
        while i < m { d[i] += y[i] > 0 ? dy[i] : 0; i += 1 }
    }

    /// dx = a·dy' + b + s·x over one channel, written (`streamed`: past the caches) or (accumulate) added.
    @inline(__always)
    public static func channelInputGradient<X: ActivationElement>(_ x: UnsafePointer<X>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                     _ dx: UnsafeMutablePointer<Float>, _ m: Int, _ k: (Float, Float, Float),
                                     _ mask: ReluMask, _ accumulate: Bool, streamed: Bool = false) {
        let a = Vec.V(repeating: k.0), b = Vec.V(repeating: k.1), sx = Vec.V(repeating: k.2)
        guard accumulate else {
            return Vec.fill(dx, m, streamed: streamed, { mask.apply(Vec.load(dy + $0), x, y, $0) * a + b + X.load(x + $0) * sx },
                            { k.0 * mask.apply(dy[$0], x, y, $0) + k.1 + k.2 * X.value(x, $0) })
        }
        var i = 0
        while i + 16 <= m {
            let d = mask.apply(Vec.load(dy + i), x, y, i)
            Vec.store(d * a + b + X.load(x + i) * sx + Vec.load(dx + i), dx + i)
            i += 16
        }
        while i < m {
            let d = mask.apply(dy[i], x, y, i)
            dx[i] += k.0 * d + k.1 + k.2 * X.value(x, i)
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
