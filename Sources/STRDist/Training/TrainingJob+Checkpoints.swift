// How a run starts and what it saves: `--pretrained` weights (and with
// `--use-budget` their per-layer densities as DNW/GMP prune rates, with
// `--ignore-pretrained-weights` the densities alone), `--budget-file`,
// `--resume PATH|auto`, and the checkpoints each epoch. Every rank reads
// what it needs; rank 0 alone writes.

import Foundation

extension TrainingJob {
    func applyPretrained(_ model: Model) throws {
        guard let path = config.pretrained else {
            if config.useBudget { throw ConfigError("--use-budget takes its budget from --pretrained (an STR model): give --pretrained PATH") }
            return
        }
        let (tensors, _) = try Checkpoint.readModel(path)
        if config.useBudget {
            let n = Budget.apply(try Budget.fromSTR(tensors, what: path), to: model)
            print("=> --use-budget: \(n) DNW/GMP layer(s) take the per-layer sparsity of '\(path)'")
        }
        if config.ignorePretrainedWeights {
            print("=> --ignore-pretrained-weights: weights stay freshly initialised")
            return
        }
        let (loaded, ignored) = try Checkpoint.loadMatching(tensors, into: model.network.store, what: path)
        guard loaded > 0 else {
            throw ConfigError("--pretrained '\(path)' has no tensor that fits \(config.arch) (keys like 'conv1.weight' expected; a PyTorch .pth needs scripts/convert_pth.py first)")
        }
        for key in ignored.prefix(20) { print("=> IGNORE: \(key)") }
        if ignored.count > 20 { print("=> IGNORE: … and \(ignored.count - 20) more") }
        print("=> loaded \(loaded) tensors from '\(path)'")
    }

    func applyBudgetFile(_ model: Model) throws {
        guard let path = config.budgetFile else { return }
        let rates = try Budget.byLayer(try Budget.fromCSV(path, column: config.budgetColumn), model: model, path: path)
        let n = Budget.apply(rates, to: model)
        print("=> --budget-file: \(n) DNW/GMP layer(s) take column '\(config.budgetColumn ?? "first")' of '\(path)'" +
              (n == 0 ? " (none: conv_type is neither DNWConv nor GMPConv)" : ""))
    }

    /// The state to resume from, and with `--resume auto` the run folder it came from.
    func resume(_ trainer: Trainer) throws -> (TrainingState?, RunDirectory?) {
        guard let resume = config.resume else { return (nil, nil) }
        var path = resume, dir: RunDirectory?
        if resume == "auto" {
            guard let found = RunDirectory.latestResumable(config) else {
                print("=> --resume auto: no earlier run of \(config.configStem)/\(config.runName) has a latest checkpoint; starting afresh")
                return (nil, nil)
            }
            dir = found
            path = found.checkpoints + "/latest"
        }
        let state = try Checkpoint.resume(path, store: trainer.model.network.store, optimizer: trainer.optimizer)
        let layers = trainer.model.weighted
        if state.plans.count == layers.count {
            for (layer, plan) in zip(layers, state.plans) { layer.restorePlan(sparse: plan == "s") }
        }
        if let c = trainer.sparsityController {
            if let saved = state.controller { c.restore(saved) } else {
                print("=> note: '\(path)' holds no sparsity controller state (saved without target_sparsity): the controller starts afresh")
            }
        }
        if state.precision != config.precision {
            print("=> note: '\(path)' was trained in precision \(state.precision); continuing in \(config.precision) (weights and optimizer state are fp32 either way)")
        }
        trainer.bestTop1 = state.bestTop1; trainer.bestTop5 = state.bestTop5
        trainer.bestTrainTop1 = state.bestTrainTop1; trainer.bestTrainTop5 = state.bestTrainTop5
        if let p = state.position {
            print("=> resumed from '\(Checkpoint.paths(path).model)' inside epoch \(p.epoch), at batch \(p.batch)")
        } else {
            print("=> resumed from '\(Checkpoint.paths(path).model)' after epoch \(state.epoch - 1)")
        }
        if state.worldSize != comm.size {
            print("=> note: the checkpoint was written by \(state.worldSize) rank(s), this run has \(comm.size): training goes on, but not bit-identical to an uninterrupted run")
        }
        return (state, dir)
    }

    /// Rank 0: model and training state after `epoch` epochs (and `position`'s batches of the next).
    func save(_ base: String, _ trainer: Trainer, epoch: Int, position: EpochPosition? = nil, rankBuffers: [Float] = []) throws {
        var s = TrainingState()
        s.epoch = epoch
        s.position = position
        s.rankBuffers = rankBuffers
        s.optimizerSteps = trainer.optimizer.steps
        s.bestTop1 = trainer.bestTop1; s.bestTop5 = trainer.bestTop5
        s.bestTrainTop1 = trainer.bestTrainTop1; s.bestTrainTop5 = trainer.bestTrainTop5
        s.seed = config.seed ?? 0
        s.worldSize = comm.size
        s.settings = config.settingsText
        s.precision = config.precision
        s.plans = String(trainer.model.weighted.map { $0.runsSparse ? "s" : "d" })
        s.controller = trainer.sparsityController?.state
        do { try Checkpoint.save(base, store: trainer.model.network.store, optimizer: trainer.optimizer, state: s) } catch {
            throw AtomicFile.WriteError(description: "checkpoint not saved, training stops: \(error) (the previous checkpoint in '\((base as NSString).deletingLastPathComponent)' is intact: free space or fix the folder, then --resume auto continues from it)")
        }
    }

    /// Rank 0: the run folder's settings and reports, the training meters into TensorBoard, and the
    /// `initial` checkpoint of a fresh run.
    func openReports(_ trainer: Trainer, in resumeDir: RunDirectory?, fresh: Bool, start: Int) throws -> RunReports {
        let dir = try resumeDir ?? RunDirectory.create(config)
        try AtomicFile.write(Data(config.settingsText.utf8), to: dir.settings)
        let r = try RunReports(dir, config: config, warn: warn)
        trainer.onProgress = { step, loss, top1, top5 in
            r.trainProgress(step: step, loss: (loss.value, loss.average), top1: (top1.value, top1.average),
                            top5: (top5.value, top5.average))
        }
        if fresh { try save(dir.checkpoints + "/initial", trainer, epoch: start) }
        print("=> run folder: \(dir.path)")
        return r
    }

    /// `--dense-conv-model`: the effective weights as a plain dense model.
    func writeDenseModel(_ model: Model, in dir: RunDirectory) throws {
        let path = dir.checkpoints + "/dense_conv_model.safetensors"
        try AtomicFile.write(SafeTensors.encode(Checkpoint.denseTensors(model), metadata: ["format": "pt"]), to: path)
        print("=> dense-conv model (effective weights, no thresholds) written to \(path)")
    }
}
