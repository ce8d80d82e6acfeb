// Times whole training steps (forward, loss, backward, optimizer) — or
// inference — on synthetic data after warm-up, as PyTorch users measure.

import Foundation

public struct StepBenchmarkResult: Codable {
    public var arch: String, conv: String, batch: Int, size: Int, threads: Int
    public var mode: String
    public var steps: Int
    public var stepSecondsMedian: Double
    public var stepSecondsMin: Double
    public var imagesPerSecond: Double
    public var openblasCore: String
    public var peakRssMb: Double

    enum CodingKeys: String, CodingKey {
        case arch, conv, batch, size, threads, mode, steps
        case stepSecondsMedian = "step_s_median", stepSecondsMin = "step_s_min"
        case imagesPerSecond = "images_per_s", openblasCore = "openblas_core", peakRssMb = "peak_rss_mb"
    }
}

public enum StepBenchmark {
    public static func run(arch: String, kind: SparseKind, batch: Int, size: Int, classes: Int = 1000, threads: Int,
                           steps: Int, eval: Bool, widthMultiplier: Double = 1, cifarStem: Bool = false,
                           stemStride: Int = 1)
        throws -> StepBenchmarkResult {
        var o = ModelOptions()
        o.arch = arch; o.numClasses = classes; o.convKind = kind
        o.widthMultiplier = widthMultiplier; o.smallInputStem = cifarStem; o.stemStride = stemStride
        o.pruneRate = kind == .dnw || kind == .gmp ? 0.9 : 0
        o.sInit = -3200
        let model = try Model(o, threads: threads)
        let net = model.network
        net.plan(ActShape(channels: 3, batch: batch, height: size, width: size))
        net.initialize(seed: 1)
        if kind == .gmp { for c in model.convs { c.pruneRate = 0.9 } }
        var rng = RNG(seed: 2)
        rng.fillNormal(net.input, count: net.inputRef.shape.count, std: 1)
        for i in 0..<batch { net.labels[i] = Int32(rng.below(classes)) }
        let sgd = SGD(SGDSettings(), table: model.layout.parameters)
        func step() {
            if eval {
                net.forward(training: false)
                return
            }
            net.forward(training: true)
            _ = net.loss(smoothing: 0.1)
            net.backward()
            sgd.step(values: net.store.values, grads: net.store.grads, lr: 0.01, pool: net.pool)
        }
        step(); step()
        var times: [Double] = []
        for _ in 0..<steps { times.append(ConvBenchmark.seconds(step)) }
        times.sort()
        let median = times[times.count / 2]
        return StepBenchmarkResult(arch: arch, conv: kind.rawValue, batch: batch, size: size, threads: threads,
                                   mode: eval ? "eval" : "train", steps: steps, stepSecondsMedian: median,
                                   stepSecondsMin: times[0], imagesPerSecond: Double(batch) / median,
                                   openblasCore: BLASInfo.coreName, peakRssMb: peakResidentMB())
    }

    /// VmHWM from /proc/self/status, in MiB.
    public static func peakResidentMB() -> Double {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kb / 1024
    }
}
