// GMP's gradual pruning schedule (Zhu & Gupta), as the reference computes it
// once per epoch: for init ≤ e ≤ final,
//   cur = p − p·(1 − (e − init)/(final − init + 1))³
// 0 before `init_prune_epoch`; after `final_prune_epoch` the last value stays.

public struct PruneSchedule: Equatable, Sendable {
    public var target: Double
    public var initEpoch: Int
    public var finalEpoch: Int

    public init(target: Double, initEpoch: Int, finalEpoch: Int) {
        self.target = target; self.initEpoch = initEpoch; self.finalEpoch = finalEpoch
    }

    public func rate(epoch e: Int) -> Double {
        if e < initEpoch { return 0 }
        let clamped = min(e, finalEpoch)
        let progress = Double(clamped - initEpoch) / Double(finalEpoch - initEpoch + 1)
        let remaining = 1 - progress
        return target - target * remaining * remaining * remaining
    }
}
