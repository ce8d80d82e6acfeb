// The main job: config → data → model → trainer, with a start-up banner
// (OpenBLAS core, threads, model size) and an end-of-run summary (accuracy,
// sparsity overall and per layer).

import Foundation

public struct TrainingJob {
    public let config: Config
    public let print: (String) -> Void

    public init(config: Config, print: @escaping (String) -> Void = { Swift.print($0); fflush(stdout) }) {
        self.config = config
        self.print = print
    }

    public var threads: Int { config.threads > 0 ? config.threads : ProcessInfo.processInfo.activeProcessorCount }

    /// Builds everything and trains; returns the trainer for its history.
    @discardableResult
    public func run() throws -> Trainer {
        if config.multigpu != nil { print("=> --multigpu has no meaning here: ranks come from mpirun; ignoring it") }
        guard config.set == "FashionMNIST" else {
            throw DataError("set '\(config.set)' is not available in this build yet (use set: FashionMNIST)")
        }
        let trainSet = try ImageDataset.fashionMNIST(directory: config.data, train: true).prefix(config.trainSubset)
        let valSet = try ImageDataset.fashionMNIST(directory: config.data, train: false)
        guard config.imageSize >= max(trainSet.height, trainSet.width) else {
            throw ConfigError("config key 'image_size' must be at least \(max(trainSet.height, trainSet.width)) for \(config.set)'s \(trainSet.height)×\(trainSet.width) images, got \(config.imageSize)")
        }
        guard trainSet.count >= config.batchSize else {
            throw ConfigError("config key 'batch_size' (\(config.batchSize)) is larger than the \(trainSet.count) training samples")
        }
        let model = try Model(config.modelOptions, threads: threads)
        model.network.plan(ActShape(channels: 3, batch: config.batchSize, height: config.imageSize, width: config.imageSize))
        model.network.initialize(seed: UInt64(config.seed ?? 0))
        let seed = config.seed ?? 0
        let trainer = Trainer(config: config, model: model,
                              train: SmallImageSource(SmallImageBatcher(dataset: trainSet, size: config.imageSize), seed: seed),
                              validation: SmallImageSource(SmallImageBatcher(dataset: valSet, size: config.imageSize), seed: seed),
                              print: print)
        banner(model, trainSet.count, valSet.count)
        for epoch in (config.startEpoch ?? 0)..<config.epochs {
            let r = trainer.runEpoch(epoch)
            let s = model.sparsityReport()
            print(String(format: "=> epoch %d: lr %.5f  train Acc@1 %.2f  val Acc@1 %.2f (best %.2f)  sparsity %.2f%%  %.1f s",
                         r.epoch, r.lr, r.trainTop1, r.valTop1, trainer.bestTop1, s.total, r.seconds))
        }
        summary(model, trainer)
        return trainer
    }

    func banner(_ model: Model, _ trainCount: Int, _ valCount: Int) {
        let ws = model.network.context.workspace.bytes
        print("=> strdist: \(config.arch) \(config.convType) on \(config.set) (\(trainCount) train, \(valCount) val), " +
              "batch \(config.batchSize), \(threads) thread(s), OpenBLAS core \(BLASInfo.coreName)" +
              (ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"].map { " (forced by OPENBLAS_CORETYPE=\($0))" } ?? ""))
        print("=> \(model.layout.parameters.scalarCount) parameters, workspace \(ws >> 20) MiB")
    }

    func summary(_ model: Model, _ trainer: Trainer) {
        let s = model.sparsityReport()
        let sparse = s.layers.filter { $0.kind != .dense }
        let range = sparse.isEmpty ? "" : String(format: ", per-layer %.1f%%–%.1f%%",
                                                 sparse.map(\.sparsity).min()!, sparse.map(\.sparsity).max()!)
        print(String(format: "=> done: best val Acc@1 %.2f Acc@5 %.2f; overall sparsity %.2f%%%@; FLOPs %.1f%% of dense",
                     trainer.bestTop1, trainer.bestTop5, s.total, range, 100 * Double(s.flops) / Double(s.denseFlops)))
        for l in s.layers {
            let t = l.threshold.map { String(format: "  threshold %.5f", $0) } ?? ""
            print("   " + l.name.padding(toLength: 28, withPad: " ", startingAt: 0) + " " + l.kind.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0) + String(format: " %9d params  sparsity %6.2f%%", l.numel, l.sparsity) + t)
        }
    }
}
