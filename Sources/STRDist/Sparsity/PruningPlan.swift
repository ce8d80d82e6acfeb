// The one owner of DNW's and GMP's prune rates. Each magnitude-pruned layer
// has a target (the config's prune_rate, or its own from a budget: --use-budget
// or --budget-file); DNW layers sit at their target from the start, GMP layers
// follow the gradual schedule toward theirs, epoch by epoch (PruneSchedule).
// Nothing else writes a layer's rate.

public final class PruningPlan {
    public let schedule: PruneSchedule
    /// The magnitude-pruned layers, in forward order.
    public let layers: [(name: String, transform: any MagnitudePruned)]
    /// Per-layer final rates; a layer without one takes the schedule's target.
    public private(set) var targets: [String: Double] = [:]
    /// The epoch the rates were last set for.
    public private(set) var epoch = 0

    public init(schedule: PruneSchedule, layers weighted: [any SparseWeighted]) {
        self.schedule = schedule
        layers = weighted.compactMap { c in (c.transform as? any MagnitudePruned).map { (c.name, $0) } }
        apply(epoch: 0)
    }

    public func target(_ layer: String) -> Double { targets[layer] ?? schedule.target }

    /// Gives `layer` its own final rate (clamped below 1); returns false when the layer is not magnitude-pruned.
    @discardableResult
    public func setTarget(_ rate: Double, for layer: String) -> Bool {
        guard layers.contains(where: { $0.name == layer }) else { return false }
        targets[layer] = min(max(rate, 0), 0.9999)
        apply(epoch: epoch)
        return true
    }

    /// Every magnitude-pruned layer at exactly `rate` now, whatever its schedule (benchmarks).
    public func setCurrent(_ rate: Double) {
        setCurrent(Dictionary(uniqueKeysWithValues: layers.map { ($0.name, rate) }))
    }

    /// The named layers at exactly these rates now, and as their targets.
    public func setCurrent(_ rates: [String: Double]) {
        for (name, t) in layers {
            guard let r = rates[name] else { continue }
            targets[name] = min(max(r, 0), 0.9999)
            t.pruneRate = Float(targets[name]!)
        }
    }

    /// Sets each layer's current rate for `epoch`.
    public func apply(epoch: Int) {
        self.epoch = epoch
        for (name, t) in layers {
            var s = schedule
            s.target = target(name)
            t.pruneRate = Float(t.followsSchedule ? s.rate(epoch: epoch) : s.target)
        }
    }
}
