// Putting a model at chosen per-layer sparsities (benchmarks, the density
// sweep): an STR layer gets the threshold s whose sigmoid sits between the
// magnitudes that leave that fraction of its weights at or below it; a DNW or
// GMP layer gets that prune rate now (through PruningPlan); dense layers stay.

import Foundation

extension Model {
    /// Layer name → target sparsity in [0, 1); layers not named keep theirs. Returns how many were set.
    @discardableResult
    public func setSparsity(_ targets: [String: Double]) -> Int {
        let ctx = network.context!
        var current: [String: Double] = [:], set = 0
        for conv in convs {
            guard let p = targets[conv.name] else { continue }
            let rate = min(max(p, 0), 0.9999)
            if let str = conv.transform as? STRWeight {
                ctx.param(str.threshold).pointee = Self.threshold(ctx.param(conv.weight), count: conv.weightCount, sparsity: rate)
                set += 1
            } else if conv.transform is any MagnitudePruned {
                current[conv.name] = rate
                set += 1
            }
        }
        pruning.setCurrent(current)
        network.parametersChanged()
        return set
    }

    /// s with sigmoid(s) halfway between the magnitudes either side of the cut that prunes
    /// `sparsity` of the weights (−3200, nothing pruned, for 0).
    static func threshold(_ w: UnsafePointer<Float>, count: Int, sparsity: Double) -> Float {
        let pruned = Int(sparsity * Double(count))
        guard pruned > 0 else { return -3200 }
        let m = (0..<count).map { abs(w[$0]) }.sorted()
        let g = pruned >= count ? Double(m[count - 1]) * 1.01 : (Double(m[pruned - 1]) + Double(m[pruned])) / 2
        let clamped = min(max(g, 1e-30), 1 - 1e-7)
        return Float(log(clamped / (1 - clamped)))
    }
}
