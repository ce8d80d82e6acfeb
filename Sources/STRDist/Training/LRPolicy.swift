// Learning-rate policies of the reference (utils/schedulers.py), set once
// per epoch. Warmup (not for multistep): lr·(e + 1)/warmup_length for e < warmup_length.

import Foundation

public struct LRPolicy: Sendable {
    public var name: LRPolicyName
    public var lr: Double
    public var warmup: Int
    public var epochs: Int
    public var multistepAdjust = 30
    public var multistepGamma = 0.1

    public init(name: LRPolicyName, lr: Double, warmup: Int, epochs: Int) {
        self.name = name; self.lr = lr; self.warmup = warmup; self.epochs = epochs
    }

    public func rate(epoch e: Int) -> Double {
        if name == .multistep { return lr * pow(multistepGamma, Double(e / multistepAdjust)) }
        if e < warmup { return lr * Double(e + 1) / Double(warmup) }
        switch name {
        case .cosine: return 0.5 * (1 + cos(Double.pi * Double(e - warmup) / Double(epochs - warmup))) * lr
        case .efficientnet: return lr * pow(0.97, Double(e) / 2.4)
        case .constant, .multistep: return lr
        }
    }
}
