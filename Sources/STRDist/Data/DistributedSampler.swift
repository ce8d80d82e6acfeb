// Which samples each rank sees in an epoch, as torch's DistributedSampler:
// a permutation seeded by (seed + epoch) when shuffling, padded by wrapping
// around to a multiple of the world size, rank r taking r, r + W, r + 2W, …
// Without shuffling (validation) the order is 0, 1, 2, … and no padding is
// added: ranks take a strided share and every sample is counted once.

public struct DistributedSampler: Sendable {
    public let count: Int, rank: Int, world: Int, seed: Int, shuffle: Bool

    public init(count: Int, rank: Int = 0, world: Int = 1, seed: Int = 0, shuffle: Bool) {
        precondition(world >= 1 && rank >= 0 && rank < world, "rank \(rank) is outside a world of \(world)")
        self.count = count; self.rank = rank; self.world = world; self.seed = seed; self.shuffle = shuffle
    }

    /// This rank's indices for `epoch`.
    public func indices(epoch: Int) -> [Int] {
        var order = Array(0..<count)
        guard shuffle else { return Array(stride(from: rank, to: count, by: world)) }
        var rng = RNG(seed: UInt64(bitPattern: Int64(seed + epoch)), stream: 0x5A3D_1E5)
        order.shuffle(using: &rng)
        let total = (count + world - 1) / world * world
        var i = 0
        while order.count < total { order.append(order[i % count]); i += 1 }
        return Array(stride(from: rank, to: total, by: world).map { order[$0] })
    }
}
