// BatchNorm2d's backward on CNHW activations (BatchNormKernels.swift has the
// forward and the layout): the per-channel gradient sums, then ∂X — with the
// fused ReLU's mask (read from the output, recomputed from the input, or read
// from the bits a residual join's forward kept: `ReluMask`), a residual
// join's shortcut gradient (`ShortcutGradient`), and ∂X written in bf16
// (`dxBF16`) for a conv whose bf16 products read it in place.
// `trainingBackward` runs a channel's passes back to back; synchronized
// BN calls `gradientSums` and `inputGradient` with an all-reduce between them.

import CVector

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
                                        positive: UnsafePointer<UInt16>? = nil, stream: Bool? = nil, pool: ThreadPool) {
        precondition(shortcut == nil || (relu && !maskFromInput), "a join's shortcut gradient takes the join's ReLU mask")
        let args = (x: x, y: y, dy: dy, dx: dx, bf16: dxBF16, m: m, mean: mean, invstd: invstd, gamma: gamma, beta: beta,
                    relu: relu, fromX: maskFromInput, s1: sumDy, s2: sumDyXhat, acc: accumulate, sc: shortcut,
                    bits: positive, streamed: streams(stream, channels * m, bf16: false))
        pool.parallelRanges(channels, args) { a, range, _ in
            for c in range {
                trainingBackwardChannel(c, x: a.x, y: a.y, dy: a.dy, m: a.m, mean: a.mean, invstd: a.invstd, gamma: a.gamma,
                                        beta: a.beta, relu: a.relu, maskFromInput: a.fromX, sumDy: a.s1, sumDyXhat: a.s2,
                                        dx: a.dx, dxBF16: a.bf16, accumulate: a.acc, shortcut: a.sc, positive: a.bits,
                                        streamed: a.streamed)
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
                                               shortcut: ShortcutGradient?, positive: UnsafePointer<UInt16>? = nil,
                                               streamed: Bool = false) {
        let at = c * m, inv = invstd[c]
        let mask = ReluMask(relu, fromInput: maskFromInput, c, m: m, mean: mean, invstd: invstd, gamma: gamma, beta: beta,
                            positive: positive)
        let (t1, t2) = channelSums(x + at, y + at, dy + at, m, mean[c], mask)
        sumDy[c] = t1
        sumDyXhat[c] = t2 * inv
        if let sc = shortcut { maskedGradient(x + at, y + at, dy + at, sc.pointer + at, m, mask, sc.accumulate, streamed: streamed) }
        guard let dx else { return }
        let k = inputGradientCoefficients(gamma: gamma?[c] ?? 1, invstd: inv, mean: mean[c],
                                          sumDy: sumDy[c], sumDyXhat: sumDyXhat[c], count: Float(m))
        storeInputGradient(x + at, y + at, dy + at, dx, at: at, bf16: dxBF16, m, k, mask, accumulate, streamed: streamed)
    }

    /// A fused ReLU's mask in backward: none; y ≤ 0 read from the output; the output recomputed from the input
    /// — relu(x·scale + shift) with the forward's scale and shift, in its arithmetic: the same mask, y not read; or
    /// a residual join's: the bits its forward kept (`positive`: set where y is not ≤ 0), a 32nd of y's bytes.
    public enum ReluMask {
        case none, output, input(scale: Float, shift: Float), bits(UnsafePointer<UInt16>)

        /// Channel c's mask: the input's with the forward's coefficients (mean, invstd, γ, β) when `fromInput`, or
        /// the join's bits when `positive` holds them (channel c's words at c·maskWords(m)).
        @inline(__always)
        public init(_ relu: Bool, fromInput: Bool, _ c: Int, m: Int, mean: UnsafePointer<Float>, invstd: UnsafePointer<Float>,
                    gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>?, positive: UnsafePointer<UInt16>? = nil) {
            guard relu else { self = .none; return }
            if let positive { self = .bits(positive + c * maskWords(m)); return }
            guard fromInput else { self = .output; return }
            let scale = invstd[c] * (gamma?[c] ?? 1)
            self = .input(scale: scale, shift: (beta?[c] ?? 0) - mean[c] * scale)
        }

        /// The mask of the values from i on (i a multiple of 16), for a loop over them that counts from 0.
        @inline(__always)
        func from(_ i: Int) -> ReluMask {
            guard case .bits(let words) = self else { return self }
            return .bits(words + i >> 4)
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
            case .bits(let words):
                // Values i..<i + 16: one word, or (a streamed store's loop starts off a 16-value boundary) the ends of
                // two, both inside the channel's words then.
                let w = i >> 4, shift = i & 15
                let word = shift == 0 ? UInt32(words[w]) : (UInt32(words[w]) | UInt32(words[w + 1]) << 16) >> UInt32(shift)
                return keep_lanes(d, UInt16(truncatingIfNeeded: word))
            }
        }

        /// d, or 0 where value i is masked.
        @inline(__always)
        func apply<X: ActivationElement>(_ d: Float, _ x: UnsafePointer<X>, _ y: UnsafePointer<Float>, _ i: Int) -> Float {
            switch self {
            case .none: return d
            case .output: return y[i] <= 0 ? 0 : d
            case .input(let s, let b): return max(0, X.value(x, i) * s + b) <= 0 ? 0 : d
            case .bits(let words): return (words[i >> 4] >> UInt16(i & 15)) & 1 == 0 ? 0 : d
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
                                    sumDyXhat: UnsafeMutablePointer<Float>, positive: UnsafePointer<UInt16>? = nil,
                                    pool: ThreadPool) {
        let args = (x: x, y: y, dy: dy, m: m, mean: mean, invstd: invstd, gamma: gamma, beta: beta, relu: relu,
                    fromX: maskFromInput, s1: sumDy, s2: sumDyXhat, bits: positive)
        pool.parallelRanges(channels, args) { a, range, _ in
            for c in range {
                let mask = ReluMask(a.relu, fromInput: a.fromX, c, m: a.m, mean: a.mean, invstd: a.invstd, gamma: a.gamma,
                                    beta: a.beta, positive: a.bits)
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
                                     shortcut: ShortcutGradient? = nil, positive: UnsafePointer<UInt16>? = nil,
                                     stream: Bool? = nil, pool: ThreadPool) {
        // `count`: the M the sums run over (all replicas' for synchronized BN; default m).
        precondition(shortcut == nil || (relu && !maskFromInput), "a join's shortcut gradient takes the join's ReLU mask")
        let args = (x: x, y: y, dy: dy, dx: dx, bf16: dxBF16, m: m, mean: mean, invstd: invstd, gamma: gamma, beta: beta,
                    relu: relu, fromX: maskFromInput, s1: sumDy, s2: sumDyXhat, acc: accumulate, total: Float(count ?? m),
                    sc: shortcut, bits: positive, streamed: streams(stream, channels * m, bf16: false))
        pool.parallelRanges(channels, args) { a, range, _ in
            for c in range {
                let at = c * a.m
                let mask = ReluMask(a.relu, fromInput: a.fromX, c, m: a.m, mean: a.mean, invstd: a.invstd, gamma: a.gamma,
                                    beta: a.beta, positive: a.bits)
                if let sc = a.sc {
                    maskedGradient(a.x + at, a.y + at, a.dy + at, sc.pointer + at, a.m, mask, sc.accumulate, streamed: a.streamed)
                }
                guard let dx = a.dx else { continue }
                let k = inputGradientCoefficients(gamma: a.gamma?[c] ?? 1, invstd: a.invstd[c], mean: a.mean[c],
                                                  sumDy: a.s1[c], sumDyXhat: a.s2[c], count: a.total)
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

    /// d = dy under the join's ReLU mask (y > 0: read from y, or from the forward's bits) over one channel,
    /// written (`streamed`: past the caches) or (accumulate) added: the join's gradient of the shortcut.
    @inline(__always)
    public static func maskedGradient<X: ActivationElement>(_ x: UnsafePointer<X>, _ y: UnsafePointer<Float>,
                                                            _ dy: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>,
                                                            _ m: Int, _ mask: ReluMask, _ accumulate: Bool,
                                                            streamed: Bool = false) {
        guard accumulate else {
            return Vec.fill(d, m, streamed: streamed, { mask.apply(Vec.load(dy + $0), x, y, $0) },
                            { mask.apply(dy[$0], x, y, $0) })
        }
        var i = 0
        while i + 16 <= m { Vec.store(mask.apply(Vec.load(dy + i), x, y, i) + Vec.load(d + i), d + i); i += 16 }
        while i < m { d[i] += mask.apply(dy[i], x, y, i); i += 1 }
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
        roundedThroughStack(dx, m) { i, n, t in channelInputGradient(x + i, y + i, dy + i, t, n, k, mask.from(i), false) }
    }
}
