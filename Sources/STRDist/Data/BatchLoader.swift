// Prefetching batch loader: `workers` threads write samples into a ring of
// `depth` CNHW batch buffers (allocated once) while the trainer computes; the
// trainer takes batch b when all its slots are written. Work is handed out one
// sample at a time, in batch order, never more than `depth` batches ahead.
// With no workers, the caller's thread writes straight into the network input.
// Sample i's content depends on (seed, epoch, i) only, so batches are the same
// whatever the worker count or timing.

import Foundation

public final class BatchLoader {
    public let source: any SampleSource
    public let batch: Int
    public let workers: Int
    private let pipeline: Pipeline?
    private let inline: (any SampleWorker)?
    private var epoch = 0, train = false, indices: [Int] = [], batches = 0, taken = 0

    /// - Parameters:
    ///   - workers: loader threads; 0 decodes in the caller's thread.
    ///   - depth: batches prepared ahead (default: workers + 1, at least 2).
    public init(source: any SampleSource, batch: Int, workers: Int, depth: Int? = nil) {
        self.source = source; self.batch = batch; self.workers = max(0, workers)
        if workers > 0 {
            pipeline = Pipeline(source: source, batch: batch, workers: workers, depth: depth ?? max(2, workers + 1))
            inline = nil
        } else {
            pipeline = nil
            inline = source.makeWorker()
        }
    }

    deinit { pipeline?.shutdown() }

    /// Number of batches in the epoch started last.
    public var batchCount: Int { batches }

    /// Starts an epoch over `indices`: consecutive batch-sized slices; the last, short one is
    /// dropped when `dropLast`, else padded by repeating its last sample (not counted).
    public func start(epoch: Int, indices: [Int], train: Bool, dropLast: Bool) {
        self.epoch = epoch; self.train = train; self.indices = indices; taken = 0
        batches = dropLast ? indices.count / batch : (indices.count + batch - 1) / batch
        pipeline?.start(epoch: epoch, indices: indices, train: train, batches: batches)
    }

    /// Copies the next batch into the network's input and labels; returns how many of its samples are real.
    public func next(into network: Network) throws -> Int {
        precondition(network.batch == batch, "loader batch \(batch) differs from the network's \(network.batch)")
        return try next(input: network.input, labels: network.labels.baseAddress!)
    }

    /// Writes the next batch (CNHW, 3 × batch × size × size floats) and its labels.
    public func next(input: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>) throws -> Int {
        precondition(taken < batches, "no batches left in this epoch")
        let b = taken
        taken += 1
        let real = min(batch, indices.count - b * batch)
        if let inline {
            let plane = source.size * source.size
            for slot in 0..<batch {
                let i = indices[b * batch + min(slot, real - 1)]
                labels[slot] = try inline.write(i, train: train, epoch: epoch, out: input + slot * plane, planeStride: batch * plane)
            }
        } else {
            try pipeline!.take(b, input: input, labels: labels)
        }
        return real
    }
}

/// The threads and the ring of buffers behind a BatchLoader.
// unchecked: the worker threads and the consumer touch its state only under `cond` (marked below); each
// buffer is written by one worker and read by the consumer only after `cond` says it is done.
private final class Pipeline: @unchecked Sendable {
    let batch: Int, depth: Int, floats: Int, plane: Int
    let buffers: [UnsafeMutablePointer<Float>]
    let labels: [UnsafeMutablePointer<Int32>]
    let cond = NSCondition()
    // Guarded by cond:
    var indices: [Int] = []
    var epoch = 0, train = false, batches = 0
    var nextTask = 0, consumed = 0, generation = 0, busy = 0
    var written: [Int]
    var failure: Error?
    var stopping = false

    init(source: any SampleSource, batch: Int, workers: Int, depth: Int) {
        self.batch = batch; self.depth = depth
        plane = source.size * source.size
        floats = source.channels * batch * plane
        buffers = (0..<depth).map { [floats] _ in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: floats)
            p.initialize(repeating: 0, count: floats)
            return p
        }
        labels = (0..<depth).map { _ in
            let p = UnsafeMutablePointer<Int32>.allocate(capacity: batch); p.initialize(repeating: 0, count: batch); return p
        }
        written = Array(repeating: 0, count: depth)
        for w in 0..<workers {
            let worker = source.makeWorker()
            let thread = Thread { [self] in run(worker) }
            thread.name = "strdist-loader-\(w)"
            thread.start()
        }
    }

    deinit {
        for p in buffers { p.deallocate() }
        for p in labels { p.deallocate() }
    }

    func shutdown() { cond.lock(); stopping = true; cond.broadcast(); cond.unlock() }

    func start(epoch: Int, indices: [Int], train: Bool, batches: Int) {
        cond.lock()
        generation += 1
        while busy > 0 { cond.wait() }   // samples of the previous epoch still being written
        self.epoch = epoch; self.indices = indices; self.train = train; self.batches = batches
        nextTask = 0; consumed = 0; failure = nil
        for i in 0..<depth { written[i] = 0 }
        cond.broadcast()
        cond.unlock()
    }

    func take(_ b: Int, input: UnsafeMutablePointer<Float>, labels out: UnsafeMutablePointer<Int32>) throws {
        let ring = b % depth
        cond.lock()
        while written[ring] < batch && failure == nil { cond.wait() }
        if let failure { cond.unlock(); throw failure }
        cond.unlock()
        input.update(from: buffers[ring], count: floats)
        out.update(from: labels[ring], count: batch)
        cond.lock()
        written[ring] = 0
        consumed = b + 1
        cond.broadcast()
        cond.unlock()
    }

    private func run(_ worker: any SampleWorker) {
        cond.lock()
        while true {
            while !stopping && !(failure == nil && nextTask < batches * batch && nextTask / batch < consumed + depth) {
                cond.wait()
            }
            if stopping { break }
            let task = nextTask, gen = generation
            nextTask += 1; busy += 1
            let b = task / batch, slot = task % batch, ring = b % depth
            let real = min(batch, indices.count - b * batch)
            let index = indices[b * batch + min(slot, real - 1)]
            let (epoch, train) = (self.epoch, self.train)
            cond.unlock()
            var error: Error?
            do {
                labels[ring][slot] = try worker.write(index, train: train, epoch: epoch, out: buffers[ring] + slot * plane,
                                                      planeStride: batch * plane)
            } catch let e { error = e }
            cond.lock()
            busy -= 1
            if gen == generation {
                if let error, failure == nil { failure = error }
                written[ring] += 1
            }
            cond.broadcast()
        }
        cond.unlock()
    }
}
