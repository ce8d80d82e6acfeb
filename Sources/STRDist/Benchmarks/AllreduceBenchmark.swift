// MPI all-reduce times at several message sizes (the α–β fit of a scaling
// study): each size is summed `repeats` times after a warm-up, barriers
// between, and the median kept; every rank takes part, rank 0 reports.

import Foundation

public struct AllreduceTiming: Codable, Sendable {
    public var ranks: Int
    public var bytes: Int
    public var secondsMedian: Double

    enum CodingKeys: String, CodingKey { case ranks, bytes, secondsMedian = "s_median" }
}

public enum AllreduceBenchmark {
    public static func run(bytes sizes: [Int], repeats: Int, comm: Communicator = .world) -> [AllreduceTiming] {
        let largest = (sizes.max() ?? 4) / 4
        let buffer = FloatBuffer(count: max(1, largest))
        for i in 0..<buffer.count { buffer[i] = Float(i % 7) }
        return sizes.map { bytes in
            let n = max(1, bytes / 4)
            comm.allreduceSum(buffer.base, count: n)
            var times: [Double] = []
            for _ in 0..<repeats {
                comm.barrier()
                let start = DispatchTime.now().uptimeNanoseconds
                comm.allreduceSum(buffer.base, count: n)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            // The slowest rank's time is the collective's.
            let worst = comm.allreduceMax(times)
            return AllreduceTiming(ranks: comm.size, bytes: n * 4, secondsMedian: worst.sorted()[worst.count / 2])
        }
    }
}
