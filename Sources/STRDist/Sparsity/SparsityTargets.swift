// Putting a model at chosen per-layer sparsities (benchmarks, the density
// sweep): a kind that sets its own sparsity does (STR picks its threshold s);
// a DNW or GMP layer gets that prune rate now (through PruningPlan); dense
// layers stay.

extension Model {
    /// Layer name → target sparsity in [0, 1); layers not named keep theirs. Returns how many were set.
    @discardableResult
    public func setSparsity(_ targets: [String: Double]) -> Int {
        let ctx = network.context!
        var current: [String: Double] = [:], set = 0
        for layer in weighted {
            guard let p = targets[layer.name] else { continue }
            let rate = min(max(p, 0), 0.9999)
            if layer.transform.impose(sparsity: rate, weight: ctx.param(layer.weight), count: layer.weightCount, ctx) {
                set += 1
            } else if layer.transform is any MagnitudePruned {
                current[layer.name] = rate
                set += 1
            }
        }
        pruning.setCurrent(current)
        network.parametersChanged()
        return set
    }
}
