// A BatchNorm run one channel at a time inside the kernel that produces or
// consumes that channel whole, while the channel is still in cache: the
// depthwise conv computes its norm's statistics and output right after each
// channel's planes, and in backward the norm's gradient of a channel right
// before that channel's planes. The per-channel bodies are BatchNormKernels'
// own, so the results are the same bits as the separate passes.

public struct ChannelNorm {
    public enum Statistics {
        /// Training: the batch's mean, invstd and biased variance written per channel.
        case batch(mean: UnsafeMutablePointer<Float>, invstd: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>)
        /// Evaluation: the running statistics read.
        case running(mean: UnsafePointer<Float>, variance: UnsafePointer<Float>)
    }
    public var statistics: Statistics
    public var eps: Float
    public var gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>?
    public var relu: Bool
    /// The norm's output (CNHW; channel c at c·m).
    public var y: UnsafeMutablePointer<Float>

    public init(statistics: Statistics, eps: Float, gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>?, relu: Bool,
                y: UnsafeMutablePointer<Float>) {
        self.statistics = statistics; self.eps = eps; self.gamma = gamma; self.beta = beta; self.relu = relu; self.y = y
    }

    /// Normalises channel c of x (the whole input tensor, m values per channel).
    @inline(__always) public func forward(channel c: Int, _ x: UnsafePointer<Float>, m: Int) {
        switch statistics {
        case let .batch(mean, invstd, variance):
            BatchNormKernels.trainingForwardChannel(c, x, m: m, mean: mean, invstd: invstd, variance: variance, eps: eps,
                                                    gamma: gamma, beta: beta, relu: relu, residual: nil, y: y)
        case let .running(mean, variance):
            BatchNormKernels.evalChannel(c, x, m: m, runningMean: mean, runningVar: variance, eps: eps, gamma: gamma,
                                         beta: beta, relu: relu, residual: nil, y: y)
        }
    }
}

/// The backward of a ChannelNorm, one channel at a time: ∂ of the norm's input written (its only reader is
/// the norm), and the gradient sums that give γ's and β's gradients.
public struct ChannelNormBackward {
    public var x: UnsafePointer<Float>, y: UnsafePointer<Float>, dy: UnsafePointer<Float>
    public var mean: UnsafePointer<Float>, invstd: UnsafePointer<Float>, gamma: UnsafePointer<Float>?
    public var relu: Bool
    public var sumDy: UnsafeMutablePointer<Float>, sumDyXhat: UnsafeMutablePointer<Float>
    public var dx: UnsafeMutablePointer<Float>

    public init(x: UnsafePointer<Float>, y: UnsafePointer<Float>, dy: UnsafePointer<Float>, mean: UnsafePointer<Float>,
                invstd: UnsafePointer<Float>, gamma: UnsafePointer<Float>?, relu: Bool,
                sumDy: UnsafeMutablePointer<Float>, sumDyXhat: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>) {
        self.x = x; self.y = y; self.dy = dy; self.mean = mean; self.invstd = invstd; self.gamma = gamma; self.relu = relu
        self.sumDy = sumDy; self.sumDyXhat = sumDyXhat; self.dx = dx
    }

    @inline(__always) public func backward(channel c: Int, m: Int) {
        BatchNormKernels.trainingBackwardChannel(c, x: x, y: y, dy: dy, m: m, mean: mean, invstd: invstd, gamma: gamma,
                                                 relu: relu, sumDy: sumDy, sumDyXhat: sumDyXhat, dx: dx, accumulate: false,
                                                 shortcut: nil)
    }
}
