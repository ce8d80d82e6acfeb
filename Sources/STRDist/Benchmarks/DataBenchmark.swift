// Input-pipeline throughput: `threads` workers each decode and transform
// samples of a source into their own buffer (the loader's per-sample work,
// without the network), after a warm-up; and, for context, plain full-size
// JPEG decoding of the same files.

import Dispatch
import Foundation

public enum DataBenchmark {
    public struct Result: Sendable {
        public var images: Int, seconds: Double, threads: Int
        public var imagesPerSecond: Double { Double(images) / seconds }
        public var perThread: Double { imagesPerSecond / Double(threads) }
    }

    /// Runs `samples` samples (cycling over the source) through `threads` workers.
    public static func transform(_ source: any SampleSource, train: Bool, samples: Int, threads: Int) throws -> Result {
        let plane = source.size * source.size
        let workers = (0..<threads).map { _ in source.makeWorker() }
        let buffers = (0..<threads).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: 3 * plane) }
        defer { for b in buffers { b.deallocate() } }
        let failure = Locked<Error?>(nil)
        func pass(_ count: Int, epoch: Int) {
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                var i = t
                while i < count {
                    do { _ = try workers[t].write(i % source.count, train: train, epoch: epoch, out: buffers[t], planeStride: plane) }
                    catch { failure.set(error); return }
                    i += threads
                }
            }
        }
        pass(min(samples, 4 * threads), epoch: 0)
        let start = DispatchTime.now().uptimeNanoseconds
        pass(samples, epoch: 1)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if let e = failure.value { throw e }
        return Result(images: samples, seconds: seconds, threads: threads)
    }

    /// Full-size decode only (no crop, no scaling) of the folder's first files, one thread.
    public static func decodeOnly(_ folder: ImageFolder, samples: Int) throws -> Result {
        let decoder = JPEGDecoder()
        var total = 0.0
        for i in 0..<samples {
            try decoder.load(folder.path(i % folder.count))
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try decoder.decode()
            total += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        return Result(images: samples, seconds: total, threads: 1)
    }
}
