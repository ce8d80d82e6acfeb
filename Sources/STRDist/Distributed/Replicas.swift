// Keeping replicas identical: rank 0's parameters and buffers to everyone
// (at start and after any load), BatchNorm running statistics averaged
// before validation and checkpoints (each rank saw its own batches), and a
// cheap checksum of the parameters compared across ranks.

public enum Replicas {
    /// Rank 0's parameters and buffers to every rank.
    public static func broadcast(_ store: ParameterStore, _ comm: Communicator) {
        comm.broadcast(store.values.base, count: store.values.count)
        comm.broadcast(store.bufferValues.base, count: store.bufferValues.count)
    }

    /// Running means/variances averaged over ranks (num_batches_tracked is equal everywhere).
    public static func averageBuffers(_ store: ParameterStore, _ comm: Communicator) {
        guard comm.size > 1 else { return }
        comm.allreduceSum(store.bufferValues.base, count: store.bufferValues.count)
        let s = 1 / Float(comm.size)
        for i in 0..<store.bufferValues.count { store.bufferValues.base[i] *= s }
    }

    /// Every rank's buffers (rank-major): without synchronized BatchNorm each rank's running
    /// statistics are its own until the epoch's average, so a checkpoint inside an epoch keeps them all.
    public static func gatherBuffers(_ store: ParameterStore, _ comm: Communicator) -> [Float] {
        comm.allgather(store.bufferValues.base, count: store.bufferValues.count)
    }

    /// This rank's row of `gatherBuffers`' result, back in place.
    public static func restoreBuffers(_ all: [Float], _ store: ParameterStore, _ comm: Communicator) {
        let n = store.bufferValues.count
        guard all.count == n * comm.size else { return }
        for i in 0..<n { store.bufferValues.base[i] = all[comm.rank * n + i] }
    }

    /// FNV-1a over the parameters' bit patterns.
    public static func checksum(_ store: ParameterStore) -> Int64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        let p = store.values.base
        for i in 0..<store.values.count { h = (h ^ UInt64(p[i].bitPattern)) &* 0x100_0000_01b3 }
        return Int64(bitPattern: h)
    }

    /// Aborts the job, naming the step, when any rank's parameters differ from the others'.
    public static func verifyIdentical(_ store: ParameterStore, _ comm: Communicator, step: Int) {
        guard comm.size > 1 else { return }
        let h = checksum(store)
        let lo = comm.allreduce(h, max: false), hi = comm.allreduce(h, max: true)
        if lo != hi {
            comm.abort("replicas diverged by step \(step): parameter checksums differ across ranks (a rank computed a different update; check that every rank runs the same build, config and data)")
        }
    }
}
