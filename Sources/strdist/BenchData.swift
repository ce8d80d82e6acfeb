// `strdist bench-data`: input-pipeline throughput on a JPEG tree.
import ArgumentParser
import Foundation
import STRDist

struct BenchData: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-data",
        abstract: "Images/s of decode + transform (RandomResizedCrop + flip + normalise, or the val transform).")

    @Option(help: "Data folder holding train/ and val/.") var data: String
    @Option(help: "train or val.") var split = "train"
    @Option(help: "Output side.") var size = 224
    @Option(help: "Worker threads.") var workers = 1
    @Option(help: "Images timed.") var samples = 400
    @Option(name: .customLong("max-scale"), help: "Largest DCT-domain downscale (1 disables it).") var maxScale = 8
    @Flag(help: "One JSON line.") var json = false

    func run() throws {
        do {
            let folder = try ImageFolder.load(data + "/" + split)
            let source = ImageFolderSamples(folder, size: size, seed: 0, maxScale: maxScale)
            let r = try DataBenchmark.transform(source, train: split == "train", samples: samples, threads: workers)
            let d = try DataBenchmark.decodeOnly(folder, samples: min(samples, 200))
            if json {
                print(String(format: "{\"split\":\"%@\",\"size\":%d,\"workers\":%d,\"max_scale\":%d,\"images\":%d,\"images_per_s\":%.1f,\"images_per_s_per_worker\":%.1f,\"decode_only_per_s\":%.1f}",
                             split, size, workers, maxScale, r.images, r.imagesPerSecond, r.perThread, d.imagesPerSecond))
            } else {
                print(String(format: "%@ %@ → %d×%d, %d worker(s), DCT scaling up to 1/%d: %.0f images/s (%.0f per worker); full-size decode alone %.0f images/s on one thread",
                             split, data, size, size, workers, maxScale, r.imagesPerSecond, r.perThread, d.imagesPerSecond))
            }
        } catch { fail(error) }
    }
}
