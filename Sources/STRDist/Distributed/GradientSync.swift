// Gradient all-reduce overlapped with backward, as PyTorch DDP does it: the
// gradient arena is cut into buckets of whole tensors in reverse registration
// order (≈ the order backward finishes them), and a bucket is handed to a
// communication thread the moment its last tensor's gradient is final. That
// thread runs the collectives one after another, in the order the main thread
// queued them (identical on every rank, so collectives match), as MPI
// non-blocking all-reduces that the communicator waits for (its stall
// inspector ends the job if one makes no progress for `stall_timeout`), and
// scales each bucket by 1/world.
// Synchronized BN's small all-reduces go through the same queue, so MPI is
// only ever called from one thread at a time.
//
// Kept weights only: an STR or GMP conv's weight gradient is exactly zero
// outside its mask, and the mask is the same on every replica, so such a
// tensor can travel as its kept positions alone. The communication thread
// gathers a bucket's kept entries (and its other tensors whole) into a staging
// buffer, all-reduces that, and scatters it back; the zeros stay zeros. With
// two ranks every element's sum is a + b either way, so the result is
// bit-identical to the dense all-reduce.
//
// In the groups' tree order (a model summed in SampleGroups over a
// power-of-two world) a bucket is added by Communicator.allreduceTree instead
// of MPI's all-reduce, so the ranks' sums continue the tree their groups began
// and the run is bit-identical to one rank's; the loss's gradient is then
// already divided by the global batch, and the sums are not scaled.

import CMPI
import Foundation

// unchecked: the main thread and the communication thread hand buckets over under `cond`; a
// bucket's memory belongs to one of them at a time (the main thread waits for it before touching it again).
public final class GradientSync: StepCollectives, @unchecked Sendable {
    public let comm: Communicator
    public let syncBatchNorm: Bool
    public var world: Int { comm.size }

    struct Bucket { var lo: Int, hi: Int, tensors: Int }
    let buckets: [Bucket]
    private let bucketOf: [Int: Int]        // tensor offset → bucket
    private let grads: UnsafeMutablePointer<Float>
    private var pending: [Int]
    private var queued: [Bool]

    // Queue of operations, guarded by `cond`.
    private struct Op { var p: UnsafeMutablePointer<Float>, count: Int, bucket: Int, order = 0 }
    private var ops: [Op]
    private var head = 0, tail = 0, completed = 0
    private var stopping = false
    private let cond = NSCondition()
    public private(set) var step = 0

    // Per-step timing (seconds), read after `finishBackward`.
    public private(set) var communicationSeconds = 0.0
    public private(set) var exposedSeconds = 0.0
    private var communicationAccumulator = 0.0   // written by the comm thread under `cond`

    /// Whether kept-only tensors travel compacted (`allreduce_kept_only`).
    public let wantsKeptPositions: Bool
    /// Per tensor (registration order): offset and count; per step: its kept positions, when reported.
    private let tensorOffset: [Int], tensorCount: [Int]
    private let tensorOf: [Int: Int]
    /// Written by the main thread before a bucket is queued, read by the communication thread after.
    private let keptPositions: UnsafeMutablePointer<UnsafePointer<Int32>?>, keptCount: UnsafeMutablePointer<Int>
    /// Each bucket's tensors, in offset order.
    private let bucketTensors: [[Int]]
    private let staging: UnsafeMutablePointer<Float>
    /// Whether buckets are added by the groups' tree, and its receive buffer.
    public let treeOrder: Bool
    private let treeScratch: UnsafeMutablePointer<Float>
    /// Floats all-reduced in the last step (gradients and synchronized-BN sums).
    public private(set) var floatsPerStep = 0
    private var floatsAccumulator = 0
    /// The last step's timeline, for scaling models: when each bucket was queued, as a fraction of the
    /// step's compute (from beginStep to the end of backward), and the floats it carried, in queue order.
    public private(set) var bucketTimeline: [(ready: Double, floats: Int)] = []
    private var stepStart: UInt64 = 0
    private let queuedAt: UnsafeMutablePointer<UInt64>, queuedFloats: UnsafeMutablePointer<Int>
    private var queuedCount = 0

    public init(comm: Communicator, parameters: ParameterTable, grads: UnsafeMutablePointer<Float>,
                bucketMiB: Double, syncBatchNorm: Bool, keptOnly: Bool = true, treeOrder: Bool = false) {
        self.comm = comm; self.grads = grads; self.syncBatchNorm = syncBatchNorm; self.treeOrder = treeOrder
        wantsKeptPositions = keptOnly && comm.size > 1
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
        let entries = parameters.entries
        tensorOffset = entries.map(\.offset); tensorCount = entries.map(\.count)
        tensorOf = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.offset, $0) })
        keptPositions = .allocate(capacity: max(1, entries.count))
        keptPositions.initialize(repeating: nil, count: max(1, entries.count))
        keptCount = .allocate(capacity: max(1, entries.count))
        keptCount.initialize(repeating: 0, count: max(1, entries.count))
        var members = Array(repeating: [Int](), count: list.count)
        for (t, e) in entries.enumerated() { members[map[e.offset]!].append(t) }
        bucketTensors = members.map { $0.sorted { entries[$0].offset < entries[$1].offset } }
        let largest = list.map { $0.hi - $0.lo }.max() ?? 0
        staging = .allocate(capacity: max(1, largest))
        treeScratch = .allocate(capacity: treeOrder ? max(1, largest) : 1)
        queuedAt = .allocate(capacity: max(1, list.count)); queuedFloats = .allocate(capacity: max(1, list.count))
        bucketTimeline.reserveCapacity(list.count)
        pending = list.map(\.tensors); queued = Array(repeating: false, count: list.count)
        ops = Array(repeating: Op(p: grads, count: 0, bucket: -1), count: list.count + 4 * parameters.entries.count + 8)
        if comm.size > 1 {
            let thread = Thread { [self] in run() }
            thread.name = "strdist-comm"
            thread.start()
        }
    }

    deinit {
        cond.lock(); stopping = true; cond.broadcast(); cond.unlock()
        staging.deallocate(); treeScratch.deallocate(); keptPositions.deallocate(); keptCount.deallocate()
        queuedAt.deallocate(); queuedFloats.deallocate()
    }

    /// Resets the per-step state; call before forward.
    public func beginStep() {
        step += 1
        stepStart = DispatchTime.now().uptimeNanoseconds
        queuedCount = 0
        for i in 0..<buckets.count { pending[i] = buckets[i].tensors; queued[i] = false }
        keptPositions.update(repeating: nil, count: tensorOffset.count)
        cond.lock(); head = 0; tail = 0; completed = 0; communicationAccumulator = 0; floatsAccumulator = 0; cond.unlock()
    }

    public func gradientReady(_ p: ParameterRef) {
        guard let b = bucketOf[p.offset] else { return }
        pending[b] -= 1
        if pending[b] == 0 { enqueueBucket(b) }
    }

    public func gradientReady(_ p: ParameterRef, kept: UnsafePointer<Int32>, count: Int) {
        if wantsKeptPositions, let t = tensorOf[p.offset] { keptPositions[t] = kept; keptCount[t] = count }
        gradientReady(p)
    }

    private func enqueueBucket(_ b: Int) {
        guard !queued[b] else { return }
        queued[b] = true
        queuedAt[queuedCount] = DispatchTime.now().uptimeNanoseconds; queuedCount += 1
        _ = enqueue(Op(p: grads + buckets[b].lo, count: buckets[b].hi - buckets[b].lo, bucket: b, order: queuedCount - 1))
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
        let compute = Double(max(1, start - stepStart))
        cond.lock()
        while completed < tail { cond.wait() }
        communicationSeconds = communicationAccumulator
        floatsPerStep = floatsAccumulator
        cond.unlock()
        bucketTimeline.removeAll(keepingCapacity: true)
        for i in 0..<queuedCount { bucketTimeline.append((Double(queuedAt[i] - stepStart) / compute, queuedFloats[i])) }
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
            let compacted = op.bucket >= 0 ? gather(op.bucket) : nil
            let p = compacted == nil ? op.p : staging, count = compacted ?? op.count
            if treeOrder && op.bucket >= 0 {
                comm.allreduceTree(p, count: count, scratch: treeScratch,
                                   "tree all-reduce of gradient bucket \(op.bucket + 1)/\(buckets.count) (\(count) floats)", step: step)
            } else {
                var (request, sequence) = comm.startAllreduce(p, count: count)
                comm.complete(&request, sequence: sequence, op.bucket >= 0
                                  ? "all-reduce of gradient bucket \(op.bucket + 1)/\(buckets.count) (\(count) floats)"
                                  : "synchronized-BN all-reduce (\(op.count) floats)", step: step)
            }
            if op.bucket >= 0 && !treeOrder { for i in 0..<count { p[i] *= scale } }   // the tree's are summed unscaled
            if compacted != nil { scatter(op.bucket) }
            if op.bucket >= 0 { queuedFloats[op.order] = count }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            cond.lock()
            communicationAccumulator += seconds
            floatsAccumulator += count
            completed += 1
            cond.broadcast()
        }
        cond.unlock()
    }

    /// Copies bucket b's kept entries and other tensors into `staging`; returns the count, or nil when
    /// no tensor of the bucket reported kept positions (the bucket is then all-reduced in place).
    private func gather(_ b: Int) -> Int? {
        guard wantsKeptPositions, bucketTensors[b].contains(where: { keptPositions[$0] != nil }) else { return nil }
        var n = 0
        for t in bucketTensors[b] {
            let g = grads + tensorOffset[t]
            if let kept = keptPositions[t] {
                for e in 0..<keptCount[t] { staging[n + e] = g[Int(kept[e])] }
                n += keptCount[t]
            } else {
                (staging + n).update(from: g, count: tensorCount[t])
                n += tensorCount[t]
            }
        }
        return n
    }

    /// The inverse of gather: summed values back to their places (pruned positions keep their zeros).
    private func scatter(_ b: Int) {
        var n = 0
        for t in bucketTensors[b] {
            let g = grads + tensorOffset[t]
            if let kept = keptPositions[t] {
                for e in 0..<keptCount[t] { g[Int(kept[e])] = staging[n + e] }
                n += keptCount[t]
            } else {
                g.update(from: staging + n, count: tensorCount[t])
                n += tensorCount[t]
            }
        }
    }
}
