// The main job: config → data → model → trainer, with a start-up banner
// (OpenBLAS core, threads, model size) and an end-of-run summary (accuracy,
// sparsity overall and per layer).

import Foundation

public struct TrainingJob {
    public let config: Config
    public let comm: Communicator
    /// Rank 0's output; other ranks stay silent.
    public let print: (String) -> Void
    /// Where warnings go on every rank (standard error): `warn` is rank 0's, the data's are each rank's.
    public let warnings: @Sendable (String) -> Void

    public init(config: Config, comm: Communicator = .world,
                print: @escaping (String) -> Void = { Swift.print($0); fflush(stdout) },
                warnings: @escaping @Sendable (String) -> Void = Warnings.standardError) {
        self.config = config
        self.comm = comm
        self.print = comm.isRoot ? print : { _ in }
        self.warnings = warnings
    }

    /// A warning from rank 0 (the others stay silent).
    func warn(_ line: String) { if comm.isRoot { warnings(line) } }

    /// Engine threads per rank: the config's, or this rank's share of the cores it may use
    /// (its affinity mask, its cgroup quota, shared with the other ranks on this machine).
    public var threads: Int {
        config.threads > 0 ? config.threads : CoreBudget.share(localRanks: comm.localSize)
    }
    /// Images per rank per step: the global batch split evenly.
    public var rankBatch: Int { config.batchSize / comm.size }

    /// Builds everything and trains; returns the trainer for its history.
    @discardableResult
    public func run() throws -> Trainer {
        comm.stallTimeout = config.stallTimeout
        if let why = BFloat16.unsupported(config.precision) { throw ConfigError(why) }
        try SetupFingerprint.verify(SetupFingerprint.of(config), "config", comm)
        if config.multigpu != nil { print("=> --multigpu has no meaning here: ranks come from mpirun; ignoring it") }
        for line in config.warnings { warn(line) }
        let rank = comm.rank, ranks = comm.size, warnings = warnings
        let data = try TrainingData(config, warn: { line in warnings(ranks > 1 ? "rank \(rank): " + line : line) })
        let c = try config.resolved(world: comm.size, samples: data.train.count, classes: data.classes, print: print,
                                    warn: warn)
        return try TrainingJob(config: c, comm: comm, print: print, warnings: warnings).run(on: data)
    }

    func run(on data: TrainingData) throws -> Trainer {
        let workers = min(config.workers, CoreBudget.share(localRanks: comm.localSize))
        let size = config.inputSize
        let input = ActShape(channels: data.channels, batch: rankBatch, height: size, width: size)
        var options = config.modelOptions
        options.inputChannels = data.channels
        options.inputWidth = size
        try MemoryPlan.check(options, input: input, threads: threads,
                             optimizerCopies: config.optimizer == .adam ? 2 : 1,
                             loaderBatches: workers > 0 ? 2 * max(2, workers + 1) : 0, ranksHere: comm.localSize,
                             what: "\(config.arch) at width_mult \(config.widthMult), \(size)×\(size), \(rankBatch) images per rank and \(threads) thread(s)")
        let model = try Model(options, threads: threads)
        model.network.plan(input, ranks: comm.size)
        model.network.initialize(seed: UInt64(config.seed ?? 0))
        try SetupFingerprint.verify(SetupFingerprint.of(model.network.store), "model (its tensors' names and shapes; the data's class count decides num_classes when unset)", comm)
        let trainer = Trainer(config: config, model: model,
                              train: BatchLoader(source: data.train, batch: rankBatch, workers: workers),
                              validation: BatchLoader(source: data.validation, batch: rankBatch, workers: workers),
                              comm: comm, print: print)
        // Where training starts: fresh, pretrained weights and budgets, or a checkpoint to resume.
        try applyPretrained(model)
        try applyBudgetFile(model)
        let (resumed, resumeDir) = try resume(trainer)
        trainer.applyControllerDecay()
        let start = resumed?.epoch ?? (config.startEpoch ?? 0)
        let position = resumed.flatMap { $0.position }
        Replicas.broadcast(model.network.store, comm)
        if let r = resumed, r.worldSize == comm.size { Replicas.restoreBuffers(r.rankBuffers, model.network.store, comm) }
        model.network.parametersChanged()
        banner(model, data.train.count, data.validation.count, workers: workers)
        for note in data.notes { print("=> " + note) }
        if config.evaluate {
            // GMP's rate of the last epoch the checkpoint trained (DNW's is its target throughout).
            if resumed != nil { model.pruning.apply(epoch: max(0, start - 1)) }
            let v = try trainer.validate(start)
            print(String(format: "=> evaluate: val Acc@1 %.2f Acc@5 %.2f loss %.4f", v.top1, v.top5, v.loss))
            return trainer
        }
        if config.denseConvModel {
            if comm.isRoot { try writeDenseModel(model, in: try resumeDir ?? RunDirectory.create(config)) }
            return trainer
        }
        let reports = comm.isRoot ? try openReports(trainer, in: resumeDir, fresh: resumed == nil, start: start) : nil
        try train(trainer, from: start, position: position, reports: reports)
        if trainer.preempted { return trainer }
        summary(model, trainer)
        // A run resumed after its last epoch trained nothing: no second results row.
        if !trainer.history.isEmpty {
            try reports?.finish(last: trainer.history.last,
                                best: (trainer.bestTop1, trainer.bestTop5, trainer.bestTrainTop1, trainer.bestTrainTop5),
                                model.sparsityReport())
        }
        if let path = config.stepLog, comm.isRoot {
            // step, global loss, floats the step's all-reduce carried
            let text = zip(trainer.stepLosses, trainer.stepAllreduceFloats).enumerated()
                .map { "\($0.offset + 1) \($0.element.0) \($0.element.1)" }.joined(separator: "\n") + "\n"
            try AtomicFile.write(Data(text.utf8), to: path)
            let store = model.network.store
            try AtomicFile.write(Data(bytes: store.values.base, count: store.values.count * 4), to: path + ".params")
        }
        for log in data.badImages where log.total > 0 {
            print("=> \(log.distinct) bad image file(s) skipped \(log.total) time(s) in all")
        }
        return trainer
    }

    /// Epochs `start..<epochs` (the first from `position` when a preempted epoch resumes); rank 0
    /// reports and checkpoints after each. A preemption request ends the loop at the next step
    /// boundary with a checkpoint of where it stopped (`trainer.preempted`).
    func train(_ trainer: Trainer, from start: Int, position: EpochPosition?, reports: RunReports?) throws {
        if start >= config.epochs { print("=> nothing to train: start epoch \(start) ≥ epochs \(config.epochs)") }
        for epoch in start..<max(start, config.epochs) {
            let previousBest = trainer.bestTop1
            guard let r = try trainer.runEpoch(epoch, resume: epoch == start ? position : nil) else {
                try checkpointPreempted(trainer, reports)
                return
            }
            let s = trainer.model.sparsityReport()
            print(String(format: "=> epoch %d: lr %.5f  train Acc@1 %.2f  val Acc@1 %.2f (best %.2f)  sparsity %.2f%%  %.1f s",
                         r.epoch, r.lr, r.trainTop1, r.valTop1, trainer.bestTop1, s.total, r.seconds))
            if let c = trainer.sparsityController {
                print(String(format: "=> target sparsity: set point %.2f%%, sparsity %.2f%%, st_decay %.4g",
                             100 * c.last.setPoint, 100 * c.last.sparsity, Double(c.decay)))
            }
            if comm.size > 1 {
                let t = trainer.lastCommunication
                print(String(format: "=> per step: compute %.3f s, all-reduce %.3f s, exposed %.3f s (%.1f%% of the step); %d validation samples over %d ranks",
                             t.compute, t.total, t.exposed, 100 * t.exposed / max(1e-9, t.compute + t.exposed),
                             trainer.validatedSamples, comm.size))
            }
            if let reports {
                try reports.epoch(r, s, controller: trainer.sparsityController)
                let ckpt = reports.dir.checkpoints
                try save(ckpt + "/latest", trainer, epoch: epoch + 1)
                if r.valTop1 > previousBest || epoch == 0 { try save(ckpt + "/model_best", trainer, epoch: epoch + 1) }
                if config.saveEvery > 0 && epoch % config.saveEvery == 0 { try save(ckpt + "/epoch_\(epoch)", trainer, epoch: epoch + 1) }
            }
            if trainer.stopRequested && epoch + 1 < config.epochs {
                trainer.stoppedBetweenEpochs = true
                print("=> stopping on a preemption request (\(Preemption.origin)) after epoch \(epoch): checkpointed; --resume auto continues")
                comm.barrier()
                return
            }
        }
    }

    /// Rank 0 saves `latest` with the position inside the epoch; every rank waits for it.
    func checkpointPreempted(_ trainer: Trainer, _ reports: RunReports?) throws {
        guard let p = trainer.stoppedAt else { return }
        let buffers = comm.size > 1 ? Replicas.gatherBuffers(trainer.model.network.store, comm) : []
        if let reports { try save(reports.dir.checkpoints + "/latest", trainer, epoch: p.epoch, position: p, rankBuffers: buffers) }
        print("=> stopping on a preemption request (\(Preemption.origin)) at epoch \(p.epoch), batch \(p.batch): checkpointed; --resume auto continues")
        comm.barrier()
    }

    func banner(_ model: Model, _ trainCount: Int, _ valCount: Int, workers: Int) {
        let ws = model.network.context.workspace.bytes
        print("=> strdist: \(config.arch) \(config.convType) on \(config.set) (\(trainCount) train, \(valCount) val), " +
              "batch \(config.batchSize)" + (comm.size > 1 ? " (\(rankBatch) on each of \(comm.size) ranks\(config.syncBn ? ", synchronized BN" : ""))" : "") +
              ", \(threads) thread(s)\(comm.size > 1 ? " per rank" : ""), \(workers) loader thread(s), \(MachineSummary.blas)")
        print("=> \(model.layout.parameters.scalarCount) parameters, workspace \(ws >> 20) MiB")
        if comm.size > 1 { print("=> rank 0 of \(comm.size) on \(Self.hostname) writes the run outputs") }
        if let g = model.network.context.groups, g.local < threads {
            print("=> \(rankBatch) samples per rank make \(g.local) sample group(s): the \(config.arch) layers run on at most \(g.local) of \(threads) threads (a batch per rank with a larger power-of-two factor, up to \(SampleGroups.limit), uses more)")
        }
        if let g = model.network.context.groups, comm.size > 1 {
            print(g.acrossRanks
                  ? "=> the gradient is summed in \(g.total) sample groups of \(g.size) by one tree: bit-identical to 1, 2, 4, … ranks at this global batch (up to \(g.total))"
                  : "=> \(comm.size) ranks add their sample groups by MPI's all-reduce: within rounding of 1 rank, not bit-identical (that needs a power-of-two number of ranks, at most \(SampleGroups.limit) and at most the largest power of two dividing the global batch)")
        }
    }

    /// This machine's name, as gethostname gives it (no DNS lookup).
    static var hostname: String {
        var name = [CChar](repeating: 0, count: 256)
        return gethostname(&name, name.count) == 0 ? String(cString: name) : "?"
    }

    func summary(_ model: Model, _ trainer: Trainer) {
        let s = model.sparsityReport()
        let sparse = s.layers.filter { $0.kind.countsTowardSparsity }
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
