// MPI all-reduce times at several message sizes (the α–β fit of a scaling
// study): each size is summed `repeats` times after a warm-up, barriers
// between, and the median kept; every rank takes part, rank 0 reports.
// Measured the way training all-reduces — non-blocking, polled as the
// gradient thread polls it — and, with `busy` threads spinning meanwhile,
// while the rank's cores are computing, as they are during backward.

import Foundation

public struct AllreduceTiming: Codable, Sendable {
    public var ranks: Int
    public var bytes: Int
    public var secondsMedian: Double

    enum CodingKeys: String, CodingKey { case ranks, bytes, secondsMedian = "s_median" }
}

public enum AllreduceBenchmark {
    public static func run(bytes sizes: [Int], repeats: Int, busy: Int = 0, comm: Communicator = .world) -> [AllreduceTiming] {
        let largest = (sizes.max() ?? 4) / 4
        let buffer = FloatBuffer(count: max(1, largest))
        for i in 0..<buffer.count { buffer[i] = Float(i % 7) }
        let load = Busy(threads: busy)
        defer { load.stop() }
        return sizes.map { bytes in
            let n = max(1, bytes / 4)
            comm.allreduceSum(buffer.base, count: n)
            var times: [Double] = []
            for _ in 0..<repeats {
                comm.barrier()
                load.running = true
                let start = DispatchTime.now().uptimeNanoseconds
                var (request, sequence) = comm.startAllreduce(buffer.base, count: n)
                comm.complete(&request, sequence: sequence, "benchmark all-reduce of \(n) floats", step: 0)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                load.running = false
            }
            // The slowest rank's time is the collective's.
            let worst = comm.allreduceMax(times)
            return AllreduceTiming(ranks: comm.size, bytes: n * 4, secondsMedian: worst.sorted()[worst.count / 2])
        }
    }
}

/// Threads that spin on arithmetic while `running` (a rank's compute, for measurements under load).
// unchecked: its one mutable state is the Locked flag the threads read.
final class Busy: @unchecked Sendable {
    private let flag = Locked<Int>(0)
    var running: Bool {
        get { flag.value & 1 == 1 }
        set { flag.set(newValue ? 1 : 0) }
    }

    init(threads: Int) {
        for _ in 0..<threads {
            let t = Thread { [flag] in
                var x = 1.0
                while true {
                    let v = flag.value
                    if v == 2 { return }
                    if v == 1 { for _ in 0..<10_000 { x = x * 1.0000001 + 1e-9 } } else { usleep(100) }
                    if x == 0 { print(x) }
                }
            }
            t.start()
        }
    }

    func stop() { flag.set(2) }
}
