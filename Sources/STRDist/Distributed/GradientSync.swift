// Gradient all-reduce overlapped with backward, as PyTorch DDP does it: the
// gradient arena is cut into buckets of whole tensors in reverse registration
// order (≈ the order backward finishes them), and a bucket is handed to a
// communication thread the moment its last tensor's gradient is final. That
// thread runs the collectives one after another, in the order the main thread
// queued them (identical on every rank, so collectives match), as MPI
// non-blocking all-reduces polled gently, scales each bucket by 1/world, and
// aborts the job if one makes no progress for `stallTimeout` seconds.
// Synchronized BN's small all-reduces go through the same queue, so MPI is
// only ever called from one thread at a time.

import CMPI
import Foundation

public final class GradientSync: StepCollectives, @unchecked Sendable {
    public let comm: Communicator
    public let syncBatchNorm: Bool
    public var world: Int { comm.size }
    public let stallTimeout: Double

    struct Bucket { var lo: Int, hi: Int, tensors: Int }
    let buckets: [Bucket]
    private let bucketOf: [Int: Int]        // tensor offset → bucket
    private let grads: UnsafeMutablePointer<Float>
    private var pending: [Int]
    private var queued: [Bool]

    // Queue of operations, guarded by `cond`.
    private struct Op { var p: UnsafeMutablePointer<Float>, count: Int, bucket: Int }
    private var ops: [Op]
    private var head = 0, tail = 0, completed = 0
    private var stopping = false
    private let cond = NSCondition()
    public private(set) var step = 0

    // Per-step timing (seconds), read after `finishBackward`.
    public private(set) var communicationSeconds = 0.0
    public private(set) var exposedSeconds = 0.0
    private var communicationAccumulator = 0.0   // written by the comm thread under `cond`

    public init(comm: Communicator, parameters: ParameterTable, grads: UnsafeMutablePointer<Float>,
                bucketMiB: Double, syncBatchNorm: Bool, stallTimeout: Double) {
        self.comm = comm; self.grads = grads; self.syncBatchNorm = syncBatchNorm; self.stallTimeout = stallTimeout
        let limit = max(1, Int(bucketMiB * 1_048_576 / 4))
        var list: [Bucket] = [], map: [Int: Int] = [:]
        var current: Bucket?
        for e in parameters.entries.reversed() {
            if current == nil { current = Bucket(lo: e.offset, hi: e.offset + e.count, tensors: 0) }
            current!.lo = min(current!.lo, e.offset); current!.hi = max(current!.hi, e.offset + e.count)
            current!.tensors += 1
            map[e.offset] = list.count
            if current!.hi - current!.lo >= limit { list.append(current!); current = nil }
        }
        if let c = current { list.append(c) }
        buckets = list; bucketOf = map
        pending = list.map(\.tensors); queued = Array(repeating: false, count: list.count)
        ops = Array(repeating: Op(p: grads, count: 0, bucket: -1), count: list.count + 4 * parameters.entries.count + 8)
        if comm.size > 1 {
            let thread = Thread { [self] in run() }
            thread.name = "strdist-comm"
            thread.start()
        }
    }

    deinit { cond.lock(); stopping = true; cond.broadcast(); cond.unlock() }

    /// Resets the per-step state; call before forward.
    public func beginStep() {
        step += 1
        for i in 0..<buckets.count { pending[i] = buckets[i].tensors; queued[i] = false }
        cond.lock(); head = 0; tail = 0; completed = 0; communicationAccumulator = 0; cond.unlock()
    }

    public func gradientReady(_ offset: Int) {
        guard let b = bucketOf[offset] else { return }
        pending[b] -= 1
        if pending[b] == 0 { enqueueBucket(b) }
    }

    private func enqueueBucket(_ b: Int) {
        guard !queued[b] else { return }
        queued[b] = true
        _ = enqueue(Op(p: grads + buckets[b].lo, count: buckets[b].hi - buckets[b].lo, bucket: b))
    }

    @discardableResult private func enqueue(_ op: Op) -> Int {
        cond.lock()
        precondition(tail < ops.count, "gradient sync queue overflow")
        ops[tail] = op; tail += 1
        let ticket = tail
        cond.broadcast(); cond.unlock()
        return ticket
    }

    public func allreduceSum(_ p: UnsafeMutablePointer<Float>, count: Int) {
        guard world > 1 else { return }
        let start = DispatchTime.now().uptimeNanoseconds
        let ticket: Int = enqueue(Op(p: p, count: count, bucket: -1))
        cond.lock(); while completed < ticket { cond.wait() }; cond.unlock()
        exposedSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// Queues any bucket not yet queued (a tensor whose gradient nobody announced), waits for
    /// every all-reduce, and records the step's communication and exposed times.
    public func finishBackward() {
        guard world > 1 else { return }
        for b in 0..<buckets.count { enqueueBucket(b) }
        let start = DispatchTime.now().uptimeNanoseconds
        cond.lock()
        while completed < tail { cond.wait() }
        communicationSeconds = communicationAccumulator
        cond.unlock()
        exposedSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// Call after reading the step's times.
    public func resetTimes() { exposedSeconds = 0; communicationSeconds = 0 }

    private func run() {
        let scale = 1 / Float(world)
        cond.lock()
        while true {
            while !stopping && head == tail { cond.wait() }
            if stopping { break }
            let op = ops[head]; head += 1
            let step = self.step
            cond.unlock()
            let start = DispatchTime.now().uptimeNanoseconds
            var request = comm.startAllreduce(op.p, count: op.count)
            var spins = 0
            while !comm.test(&request) {
                spins += 1
                if spins > 64 { usleep(50) }
                if spins & 1023 == 0 {
                    let waited = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                    if waited > stallTimeout {
                        let what = op.bucket >= 0 ? "all-reduce of gradient bucket \(op.bucket + 1)/\(buckets.count) (\(op.count) floats)"
                                                  : "synchronized-BN all-reduce (\(op.count) floats)"
                        comm.abort("\(what) at step \(step) made no progress for \(Int(waited)) s (stall_timeout): another rank is stuck or gone")
                    }
                }
            }
            if op.bucket >= 0 { for i in 0..<op.count { op.p[i] *= scale } }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            cond.lock()
            communicationAccumulator += seconds
            completed += 1
            cond.broadcast()
        }
        cond.unlock()
    }
}
