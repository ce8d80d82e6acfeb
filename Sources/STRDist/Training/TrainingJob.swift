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
        let data = try TrainingData(config, warn: { line in Swift.print(line); fflush(stdout) })
        guard data.classes == config.numClasses else {
            throw ConfigError("config key 'num_classes' is \(config.numClasses) but \(config.set) at '\(config.data)' has \(data.classes) classes (set num_classes: \(data.classes))")
        }
        guard data.train.count >= config.batchSize else {
            throw ConfigError("config key 'batch_size' (\(config.batchSize)) is larger than the \(data.train.count) training samples")
        }
        let model = try Model(config.modelOptions, threads: threads)
        let size = config.inputSize
        model.network.plan(ActShape(channels: 3, batch: config.batchSize, height: size, width: size))
        model.network.initialize(seed: UInt64(config.seed ?? 0))
        let workers = min(config.workers, ProcessInfo.processInfo.activeProcessorCount)
        let trainer = Trainer(config: config, model: model,
                              train: BatchLoader(source: data.train, batch: config.batchSize, workers: workers),
                              validation: BatchLoader(source: data.validation, batch: config.batchSize, workers: workers),
                              print: print)
        banner(model, data.train.count, data.validation.count, workers: workers)
        for note in data.notes { print("=> " + note) }
        for epoch in (config.startEpoch ?? 0)..<config.epochs {
            let r = try trainer.runEpoch(epoch)
            let s = model.sparsityReport()
            print(String(format: "=> epoch %d: lr %.5f  train Acc@1 %.2f  val Acc@1 %.2f (best %.2f)  sparsity %.2f%%  %.1f s",
                         r.epoch, r.lr, r.trainTop1, r.valTop1, trainer.bestTop1, s.total, r.seconds))
        }
        summary(model, trainer)
        for log in data.badImages where log.total > 0 {
            print("=> \(log.distinct) bad image file(s) skipped \(log.total) time(s) in all")
        }
        return trainer
    }

    func banner(_ model: Model, _ trainCount: Int, _ valCount: Int, workers: Int) {
        let ws = model.network.context.workspace.bytes
        print("=> strdist: \(config.arch) \(config.convType) on \(config.set) (\(trainCount) train, \(valCount) val), " +
              "batch \(config.batchSize), \(threads) thread(s), \(workers) loader thread(s), OpenBLAS core \(BLASInfo.coreName)" +
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
