// The residual join computed by the BatchNorm before it. A norm without ReLU
// whose output only a residual join reads, as the join's main operand, writes
// relu(norm(x) + shortcut) itself, in training and at inference, and in
// training keeps the join's ReLU mask as one bit per value; its backward reads
// those bits (not the join's output) and the gradient, and writes the
// shortcut's gradient beside its own input's. The join runs no pass of its own
// and the norm's output is never written: per element, forward 7 passes over
// activation memory become 5, backward 9 become 6 (and 7 → 4 that miss the
// cache, as the norm's passes over a channel run back to back), plus the bits.

enum ResidualFusion {
    /// The join `norm` can compute: the only reader of its output, taking it as the main operand, when the
    /// norm applies no ReLU of its own. The conv epilogue's rule too (ConvPlanner.planEpilogues).
    static func join(after norm: BatchNorm2d, _ planner: WorkspacePlanner) -> AddReLU? {
        let readers = planner.readers(of: norm.outputRef)
        guard !norm.fuseReLU, readers.count == 1, let j = readers.first as? AddReLU,
              j.main.value == norm.outputRef.value, j.shortcut.value != norm.outputRef.value else { return nil }
        return j
    }

    /// Hands each such join to its norm.
    static func plan(_ planner: WorkspacePlanner) {
        for case let norm as BatchNorm2d in planner.producers {
            guard let j = join(after: norm, planner) else { continue }
            norm.computeJoin(j, planner)
            j.fusedNorm = norm
        }
    }
}
