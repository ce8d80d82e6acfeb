// PyTorch's SGD, exactly: d = g + wd·p; buf = d on the first step, else
// buf = m·buf + d; d = d + m·buf (nesterov) or d = buf; p −= lr·d.
// Weight decay comes per parameter group (ParameterGroup); the momentum
// buffers share the parameter arena's layout, so a step is one pass over
// contiguous segments of equal settings.

public struct SGDSettings: Sendable {
    public var momentum: Float = 0.9
    public var nesterov = false
    public var weightDecay: Float = 0
    /// Decay of BatchNorm parameters (0 with `no_bn_decay`); nil: `weightDecay`.
    public var batchNormDecay: Float?
    /// Decay of STR thresholds (`st_decay`); nil: `weightDecay`.
    public var thresholdDecay: Float?
    public init() {}

    /// The decay thresholds get: `st_decay`, else `weight_decay`.
    public var thresholdDecayInEffect: Float { thresholdDecay ?? weightDecay }
}

public final class SGD {
    public let settings: SGDSettings
    public let momentumBuffer: FloatBuffer
    public var steps = 0
    /// The decay STR's thresholds get now: `st_decay` (else `weight_decay`) until a
    /// SparsityController steers it (`target_sparsity`).
    public var thresholdDecay: Float
    /// (offset, count, weight decay, frozen, thresholds) runs over the parameter arena; a threshold
    /// run takes `thresholdDecay` at each step.
    private let segments: [(offset: Int, count: Int, decay: Float, frozen: Bool, threshold: Bool)]

    /// - Parameter frozen: keys whose values must not change (`freeze_weights`).
    public init(_ settings: SGDSettings, table: ParameterTable, frozen: Set<String> = []) {
        self.settings = settings
        momentumBuffer = FloatBuffer(count: table.count)
        thresholdDecay = settings.thresholdDecayInEffect
        var runs: [(offset: Int, count: Int, decay: Float, frozen: Bool, threshold: Bool)] = []
        for e in table.entries {
            let decay: Float
            switch e.group {
            case .weight, .buffer: decay = settings.weightDecay
            case .batchNorm: decay = settings.batchNormDecay ?? settings.weightDecay
            case .threshold: decay = settings.thresholdDecayInEffect
            }
            let isFrozen = frozen.contains(e.key), isThreshold = e.group == .threshold
            let padded = (e.count + 15) / 16 * 16
            if let last = runs.last, last.decay == decay, last.frozen == isFrozen, last.threshold == isThreshold,
               last.offset + last.count == e.offset {
                runs[runs.count - 1].count += padded
            } else {
                runs.append((e.offset, padded, decay, isFrozen, isThreshold))
            }
        }
        segments = runs
    }

    public func step(values: FloatBuffer, grads: FloatBuffer, lr: Float, pool: ThreadPool) {
        let first = steps == 0, m = settings.momentum, nesterov = settings.nesterov
        let p = values.base, g = grads.base, buf = momentumBuffer.base
        for s in segments where !s.frozen {
            let wd = s.threshold ? thresholdDecay : s.decay
            let args = (p: p + s.offset, g: g + s.offset, buf: buf + s.offset, wd: wd, m: m, lr: lr,
                        first: first, nesterov: nesterov)
            pool.parallelRanges(s.count, args) { a, range, _ in
                let (p, g, buf, wd, m, lr) = (a.p, a.g, a.buf, a.wd, a.m, a.lr)
                for i in range {
                    var d = g[i] + wd * p[i]
                    if m != 0 {
                        buf[i] = a.first ? d : m * buf[i] + d
                        d = a.nesterov ? d + m * buf[i] : buf[i]
                    }
                    p[i] -= lr * d
                }
            }
        }
        steps += 1
    }
}
