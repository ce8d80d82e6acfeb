// Times whole training steps (forward, loss, backward, optimizer) — or
// inference — on synthetic data after warm-up, as PyTorch users measure.

import Foundation

public struct StepBenchmarkResult: Codable {
    public var arch: String, conv: String, batch: Int, size: Int, threads: Int
    public var mode: String
    public var convAlgorithm = "auto"
    public var precision = "fp32"
    public var steps: Int
    public var stepSecondsMedian: Double
    public var stepSecondsMin: Double
    public var imagesPerSecond: Double
    public var openblasCore: String
    public var peakRssMb: Double
    /// Data-parallel runs (under mpirun): ranks, and per-step all-reduce time and the part not hidden behind backward.
    public var ranks = 1
    public var allreduceSecondsMedian = 0.0
    public var exposedSecondsMedian = 0.0
    /// MiB all-reduced per step (kept weights only, unless the dense all-reduce was asked for).
    public var allreduceMiB = 0.0
    /// Per-rank medians, fastest and slowest rank: compute (the step less its exposed communication),
    /// all-reduce, exposed communication; data wait is 0 here (synthetic batches).
    public var computeSeconds = [0.0, 0.0], allreduceSeconds = [0.0, 0.0], exposedSeconds = [0.0, 0.0]
    /// The last step's gradient buckets in queue order: when each was ready (fraction of the step's
    /// compute) and its MiB — what a scaling model overlaps with backward.
    public var bucketReady: [Double] = [], bucketMiB: [Double] = []

    enum CodingKeys: String, CodingKey {
        case arch, conv, batch, size, threads, mode, steps, convAlgorithm = "conv_algorithm", precision
        case stepSecondsMedian = "step_s_median", stepSecondsMin = "step_s_min"
        case imagesPerSecond = "images_per_s", openblasCore = "openblas_core", peakRssMb = "peak_rss_mb"
        case ranks, allreduceSecondsMedian = "allreduce_s_median", exposedSecondsMedian = "exposed_s_median"
        case allreduceMiB = "allreduce_mib", computeSeconds = "rank_compute_s", allreduceSeconds = "rank_allreduce_s"
        case exposedSeconds = "rank_exposed_s", bucketReady = "bucket_ready", bucketMiB = "bucket_mib"
    }
}

/// The sparsity a benchmark puts its model at before timing.
public enum SparsityChoice: Sendable {
    /// Every sparse-kind layer at this fraction.
    case uniform(Double)
    /// Per layer, from a budget table's column (rows are the convs in forward order).
    case budget(path: String, column: String?)

    public func targets(_ model: Model) throws -> [String: Double] {
        switch self {
        case .uniform(let p): return Dictionary(uniqueKeysWithValues: model.weighted.map { ($0.name, p) })
        case .budget(let path, let column):
            return try Budget.byLayer(try Budget.fromCSV(path, column: column), model: model, path: path)
        }
    }
}

public enum StepBenchmark {
    public static func run(arch: String, kind: SparseKind, batch: Int, size: Int, classes: Int = 1000, threads: Int,
                           steps: Int, eval: Bool, widthMultiplier: Double = 1, cifarStem: Bool = false,
                           stemStride: Int = 1, algorithm: ConvAlgorithm = .auto, profile: StepProfile? = nil,
                           comm: Communicator = .world, bucketMiB: Double = 25, sparsity: SparsityChoice? = nil,
                           keptOnlyAllreduce: Bool = true, precision: Precision = .fp32)
        throws -> StepBenchmarkResult {
        if let why = BFloat16.unsupported(precision) { throw ConfigError(why) }
        var o = ModelOptions()
        o.arch = arch; o.numClasses = classes; o.convKind = kind
        o.widthMultiplier = widthMultiplier; o.smallInputStem = cifarStem; o.stemStride = stemStride
        o.convAlgorithm = algorithm
        o.precision = precision
        o.pruneRate = kind == .dnw || kind == .gmp ? 0.9 : 0
        o.sInit = -3200
        o.inputWidth = size
        if Architecture.named(arch)?.readsSequences == true { o.inputChannels = 1 }   // one-channel rows, as trained
        let input = ActShape(channels: o.inputChannels, batch: batch, height: size, width: size)
        try MemoryPlan.check(o, input: input, threads: threads, optimizerCopies: eval ? 0 : 1, loaderBatches: 0,
                             ranksHere: comm.localSize, what: "\(arch) at \(size)×\(size), batch \(batch), \(threads) thread(s)")
        let model = try Model(o, threads: threads)
        let net = model.network
        net.plan(input, ranks: comm.size)
        net.initialize(seed: 1)
        model.pruning.setCurrent(o.pruneRate)
        if let sparsity { model.setSparsity(try sparsity.targets(model)) }
        var rng = RNG(seed: 2)
        rng.fillNormal(net.input, count: net.inputRef.shape.count, std: 1)
        for i in 0..<batch { net.labels[i] = Int32(rng.below(classes)) }
        let sgd = SGD(SGDSettings(), table: model.layout.parameters)
        // At a chosen sparsity the updates are made with rate 0, so every timed step runs at that
        // density (a step's work does not depend on the rate; with 0.01 STR layers drift by points per step).
        let lr: Float = sparsity == nil ? 0.01 : 0
        if comm.size > 1 && !eval { Replicas.broadcast(net.store, comm) }
        var settings = TrainingStep.SyncSettings()
        settings.bucketMiB = bucketMiB; settings.keptOnly = keptOnlyAllreduce
        let training = eval ? nil : TrainingStep(network: net, optimizer: sgd, comm: comm, smoothing: 0.1, sync: settings)
        let sync = training?.sync
        func step() throws {
            if eval {
                net.forward(training: false)
                return
            }
            try training?.run(lr: lr)
        }
        try step(); try step()
        net.context.profile = profile
        var times: [Double] = [], reduce: [Double] = [], exposed: [Double] = []
        for _ in 0..<steps {
            comm.barrier()
            sync?.resetTimes()
            times.append(try ConvBenchmark.seconds(step))
            profile?.endStep()
            reduce.append(sync?.communicationSeconds ?? 0); exposed.append(sync?.exposedSeconds ?? 0)
        }
        func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }
        let m = median(times)
        var r = StepBenchmarkResult(arch: arch, conv: kind.rawValue, batch: batch, size: size, threads: threads,
                                    mode: eval ? "eval" : "train", steps: steps, stepSecondsMedian: m,
                                    stepSecondsMin: times.min()!, imagesPerSecond: Double(batch * comm.size) / m,
                                    openblasCore: BLASInfo.coreName, peakRssMb: peakResidentMB())
        r.ranks = comm.size
        r.convAlgorithm = algorithm.rawValue
        r.precision = precision.rawValue
        r.allreduceSecondsMedian = median(reduce)
        r.exposedSecondsMedian = median(exposed)
        r.allreduceMiB = Double(sync?.floatsPerStep ?? 0) * 4 / 1_048_576
        r.bucketReady = sync?.bucketTimeline.map(\.ready) ?? []
        r.bucketMiB = sync?.bucketTimeline.map { Double($0.floats) * 4 / 1_048_576 } ?? []
        let mine = [m - median(exposed), median(reduce), median(exposed)]
        let low = comm.allreduceMax(mine, minimum: true), high = comm.allreduceMax(mine)
        r.computeSeconds = [low[0], high[0]]; r.allreduceSeconds = [low[1], high[1]]; r.exposedSeconds = [low[2], high[2]]
        return r
    }

    /// VmHWM from /proc/self/status, in MiB.
    public static func peakResidentMB() -> Double {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kb / 1024
    }
}
