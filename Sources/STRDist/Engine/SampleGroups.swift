// The order a batch's gradient is summed in, the same on any number of
// ranks. A model whose layers never mix samples (FastGRNN: no BatchNorm)
// can be trained bit-identically on 1, 2, 4, … ranks at one global batch:
// its layers cut the batch into `total` groups by position — global
// position q is in group q mod total, which with DistributedSampler's
// strided shares puts rank r's local sample n in local group n mod local
// (global group r + world·(n mod local)) — run each group as products of
// the same shapes on every layout, and sum the groups' gradients by one
// binary tree over the global groups: level by level, group c adds group
// c + step for step = total/2, …, 1. Levels whose step is a multiple of
// the world size pair groups on one rank (`sum`); the rest pair ranks
// (`Communicator.allreduceTree`), so one rank and many add the same numbers
// in the same order.
//
// The groups also split a layer's work over threads (whole groups per
// thread), which makes its results independent of the thread count too.

public struct SampleGroups: Sendable, Equatable {
    /// Groups in the global batch (a power of two), on this rank, and samples per group.
    public let total: Int, local: Int, size: Int
    /// Whether the tree continues across ranks: the world is a power of two no larger than `total`.
    /// Otherwise the groups sum by the tree on each rank and MPI's all-reduce adds the ranks.
    public let acrossRanks: Bool

    /// At most this many groups: bit-identity on up to 16 ranks, and a group of a 128-sample batch is
    /// still 8 samples (a FastGRNN step's products 8 columns wide).
    public static let limit = 16

    /// The groups of a global batch of `localBatch · ranks` samples.
    public init(localBatch: Int, ranks: Int) {
        precondition(localBatch > 0 && ranks > 0)
        let global = Self.powerOfTwoFactor(localBatch * ranks)
        let total = min(Self.limit, global)
        if ranks & (ranks - 1) == 0 && ranks <= total {
            self.total = total; local = total / ranks; acrossRanks = true
        } else {
            local = min(Self.limit, Self.powerOfTwoFactor(localBatch)); self.total = local * ranks; acrossRanks = false
        }
        size = localBatch / local
    }

    /// The largest power of two that divides n.
    static func powerOfTwoFactor(_ n: Int) -> Int { n & -n }

    /// Local sample n's group and its place in the group.
    @inline(__always) public func group(ofSample n: Int) -> (group: Int, index: Int) { (n % local, n / local) }

    /// Local sample of group g's `index`-th member.
    @inline(__always) public func sample(group g: Int, index: Int) -> Int { g + index * local }

    /// Sums the `local` leaves (leaf g is `count` values at `leaves + g·stride`) by the tree into `out`;
    /// the leaves are overwritten with partial sums.
    public func sum<T: FloatingPoint>(_ leaves: UnsafeMutablePointer<T>, stride: Int, count: Int, into out: UnsafeMutablePointer<T>) {
        var step = local / 2
        while step >= 1 {
            for g in 0..<step {
                let a = leaves + g * stride, b = UnsafePointer(leaves + (g + step) * stride)
                if step == 1 { for i in 0..<count { out[i] = a[i] + b[i] } } else { for i in 0..<count { a[i] += b[i] } }
            }
            step /= 2
        }
        if local == 1 { out.update(from: leaves, count: count) }
    }
}
