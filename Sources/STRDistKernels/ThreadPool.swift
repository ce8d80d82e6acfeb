// A persistent pool of worker threads for the engine's parallel loops.
// `run` hands the same body to every thread (thread 0 is the caller) and
// returns when all are done; bodies take their inputs as arguments, never
// by capture, so a call allocates nothing. Work is split statically by
// thread index, so every reduction sums in the same order on every run:
// results depend on the thread count, never on timing.

import Foundation
import Synchronization

public final class ThreadPool {
    public let threads: Int
    private let shared: Shared

    /// - Parameter threads: number of threads including the caller (≥ 1).
    public init(threads: Int) {
        precondition(threads >= 1, "a thread pool needs at least one thread, got \(threads)")
        self.threads = threads
        shared = Shared()
        for t in 1..<threads {
            // Workers own the shared state, so they may outlive the pool while they shut down.
            let state = shared
            let worker = Thread { state.workerLoop(t) }
            worker.stackSize = 1 << 22
            worker.start()
        }
    }

    deinit { shared.stop() }

    /// Runs `body(args, t)` for every thread index t in 0..<threads concurrently.
    ///
    /// `body` must capture nothing: all it needs comes in `args`. A capturing
    /// closure would put its context on the heap at every call, and a step
    /// must not allocate (the allocation test holds every kernel to this).
    @inline(__always)
    public func run<Args>(_ args: Args, _ body: @escaping (Args, Int) -> Void) {
        if threads == 1 { body(args, 0); return }
        let job = Job(args: args, body: body)
        withUnsafePointer(to: job) { pointer in
            // Workers read the job through this pointer; `run` returns only after they are done.
            shared.dispatch(UnsafeRawPointer(pointer), Job<Args>.entry, workers: threads - 1)
        }
    }

    /// Splits 0..<count into `threads` contiguous ranges and runs `body(args, range, t)` on each
    /// non-empty one. `body` must capture nothing (see `run`).
    @inline(__always)
    public func parallelRanges<Args>(_ count: Int, _ args: Args, _ body: @escaping (Args, Range<Int>, Int) -> Void) {
        if count <= 0 { return }
        if threads == 1 || count == 1 { body(args, 0..<count, 0); return }
        let job = RangeJob(count: count, parts: threads, args: args, body: body)
        withUnsafePointer(to: job) { pointer in
            shared.dispatch(UnsafeRawPointer(pointer), RangeJob<Args>.entry, workers: threads - 1)
        }
    }

    /// The t-th of `parts` near-equal contiguous pieces of 0..<count.
    @inline(__always) public static func split(_ count: Int, parts: Int, index t: Int) -> Range<Int> {
        (count * t / parts)..<(count * (t + 1) / parts)
    }

    private struct Job<Args> {
        public let args: Args
        public let body: (Args, Int) -> Void
        public static func entry(_ raw: UnsafeRawPointer, _ t: Int) {
            let job = raw.assumingMemoryBound(to: Job<Args>.self)
            job.pointee.body(job.pointee.args, t)
        }
    }

    private struct RangeJob<Args> {
        public let count: Int, parts: Int
        public let args: Args
        public let body: (Args, Range<Int>, Int) -> Void
        public static func entry(_ raw: UnsafeRawPointer, _ t: Int) {
            let job = raw.assumingMemoryBound(to: RangeJob<Args>.self)
            let r = ThreadPool.split(job.pointee.count, parts: job.pointee.parts, index: t)
            if !r.isEmpty { job.pointee.body(job.pointee.args, r, t) }
        }
    }

    /// The state the caller and the workers share. A hand-off is two atomics: the caller publishes a job
    /// by bumping `generation`, the workers report by counting `pending` down. Each side spins a short
    /// while (`spinNanoseconds`) before it sleeps on a condition variable: a step dispatches thousands of
    /// small parallel loops, and waking a sleeping thread through the kernel costs tens of microseconds
    /// each time. The `sleepers` and `callerSleeps` counts (read after the atomic they guard, both
    /// sequentially consistent) make sure a side that went to sleep is woken under the mutex.
    // unchecked: shared between the pool's threads under the atomics and the mutex described above.
    private final class Shared: @unchecked Sendable {
        public let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        public let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        public let done = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        public let generation = Atomic<Int>(0)
        public let pending = Atomic<Int>(0)
        public let sleepers = Atomic<Int>(0)
        public let callerSleeps = Atomic<Bool>(false)
        public let stopping = Atomic<Bool>(false)
        /// The current job (on the caller's stack) and how to call it, written before `generation` moves.
        public var job: UnsafeRawPointer?
        public var entry: ((UnsafeRawPointer, Int) -> Void)?

        public init() {
            pthread_mutex_init(mutex, nil)
            pthread_cond_init(wake, nil)
            pthread_cond_init(done, nil)
        }

        deinit {
            pthread_mutex_destroy(mutex); pthread_cond_destroy(wake); pthread_cond_destroy(done)
            mutex.deallocate(); wake.deallocate(); done.deallocate()
        }

        public func stop() {
            stopping.store(true, ordering: .sequentiallyConsistent)
            generation.add(1, ordering: .sequentiallyConsistent)
            pthread_mutex_lock(mutex)
            pthread_cond_broadcast(wake)
            pthread_mutex_unlock(mutex)
        }

        public func dispatch(_ job: UnsafeRawPointer, _ entry: @escaping (UnsafeRawPointer, Int) -> Void, workers: Int) {
            self.job = job
            self.entry = entry
            pending.store(workers, ordering: .relaxed)
            generation.add(1, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(mutex)
                pthread_cond_broadcast(wake)
                pthread_mutex_unlock(mutex)
            }
            entry(job, 0)
            if !Self.spin(until: { self.pending.load(ordering: .acquiring) == 0 }) {
                pthread_mutex_lock(mutex)
                callerSleeps.store(true, ordering: .sequentiallyConsistent)
                while pending.load(ordering: .sequentiallyConsistent) > 0 { pthread_cond_wait(done, mutex) }
                callerSleeps.store(false, ordering: .relaxed)
                pthread_mutex_unlock(mutex)
            }
            self.job = nil
            self.entry = nil
        }

        public func workerLoop(_ t: Int) {
            var seen = 0
            while true {
                if !Self.spin(until: { self.generation.load(ordering: .acquiring) != seen }) {
                    pthread_mutex_lock(mutex)
                    sleepers.add(1, ordering: .sequentiallyConsistent)
                    while generation.load(ordering: .sequentiallyConsistent) == seen { pthread_cond_wait(wake, mutex) }
                    sleepers.subtract(1, ordering: .relaxed)
                    pthread_mutex_unlock(mutex)
                }
                seen = generation.load(ordering: .acquiring)
                if stopping.load(ordering: .acquiring) { break }
                job.map { current in entry!(current, t) }
                if pending.subtract(1, ordering: .acquiringAndReleasing).newValue == 0
                    && callerSleeps.load(ordering: .sequentiallyConsistent) {
                    pthread_mutex_lock(mutex)
                    pthread_cond_signal(done)
                    pthread_mutex_unlock(mutex)
                }
            }
        }

        /// How long a side polls before it sleeps: longer than the gap between two parallel loops of a
        /// step, short enough that idle threads leave the cores to other processes (oversubscribed ranks).
        static let spinNanoseconds: UInt64 = 100_000

        /// Polls `ready` for up to `spinNanoseconds`; false when it never became true.
        @inline(__always) static func spin(until ready: () -> Bool) -> Bool {
            if ready() { return true }
            let deadline = DispatchTime.now().uptimeNanoseconds + spinNanoseconds
            while true {
                for _ in 0..<64 where ready() { return true }
                if DispatchTime.now().uptimeNanoseconds > deadline { return ready() }
            }
        }
    }
}
