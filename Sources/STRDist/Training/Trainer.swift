// The epoch loop: per epoch set the learning rate (and GMP's prune rate),
// train on this rank's shard, validate, keep the best accuracies. Per-batch
// progress lines follow the reference's format every `print_freq` batches.

import Foundation

/// Where a stopped epoch was (preemption): the next batch, and its training meters' sums so far.
public struct EpochPosition: Sendable, Equatable {
    public var epoch: Int
    public var batch: Int
    public var loss = (sum: 0.0, count: 0.0), top1 = (sum: 0.0, count: 0.0), top5 = (sum: 0.0, count: 0.0)

    public init(epoch: Int, batch: Int) { self.epoch = epoch; self.batch = batch }

    public static func == (a: EpochPosition, b: EpochPosition) -> Bool {
        a.epoch == b.epoch && a.batch == b.batch && a.loss == b.loss && a.top1 == b.top1 && a.top5 == b.top5
    }
}

public struct EpochResult: Sendable {
    public var epoch: Int
    public var lr: Double
    public var trainLoss: Double, trainTop1: Double, trainTop5: Double
    public var valLoss: Double, valTop1: Double, valTop5: Double
    public var seconds: Double
}

public final class Trainer {
    public let config: Config
    public let model: Model
    public let optimizer: any Optimizer
    let train: BatchLoader, validation: BatchLoader
    let print: (String) -> Void
    public private(set) var history: [EpochResult] = []
    /// Every training step's loss (global mean over ranks), all epochs.
    public private(set) var stepLosses: [Float] = []
    /// Floats each step's all-reduce carried (0 on one process): fewer when only kept weights travel.
    public private(set) var stepAllreduceFloats: [Int] = []
    /// Samples the last validation counted, over all ranks.
    public private(set) var validatedSamples = 0
    public var bestTop1 = 0.0, bestTop5 = 0.0, bestTrainTop1 = 0.0, bestTrainTop5 = 0.0

    /// This replica's place among all (one process: rank 0 of 1).
    public let comm: Communicator
    /// The training step (and through it the gradient all-reduce).
    public let step: TrainingStep
    /// `target_sparsity`: steers SGD's threshold decay every few steps (nil when off).
    public let sparsityController: SparsityController?
    public var sync: GradientSync? { step.sync }
    /// Set when an epoch stopped on a preemption request: where to resume.
    public private(set) var stoppedAt: EpochPosition?
    /// A stop was requested (on some rank) during an epoch's steps that ran to its end.
    public private(set) var stopRequested = false
    /// Set by the job when it stopped at an epoch's end on a request.
    public internal(set) var stoppedBetweenEpochs = false
    /// The run stopped early on a preemption request (SIGTERM, SIGUSR1), checkpointed, and should exit
    /// with Preemption.exitStatus. (A request during the last step of the last epoch is just the end.)
    public var preempted: Bool { stoppedAt != nil || stoppedBetweenEpochs }
    /// Mean per-step communication and exposed (not overlapped) communication of the last epoch, seconds.
    public private(set) var lastCommunication = (total: 0.0, exposed: 0.0, compute: 0.0)
    /// Called with the training meters each time a progress line is printed, with the
    /// reference's TensorBoard step (samples seen so far, over all ranks).
    public var onProgress: ((_ step: Int, _ loss: AverageMeter, _ top1: AverageMeter, _ top5: AverageMeter) -> Void)?

    public init(config: Config, model: Model, train: BatchLoader, validation: BatchLoader,
                comm: Communicator = .world, print: @escaping (String) -> Void) {
        self.config = config
        self.model = model
        self.train = train
        self.validation = validation
        self.print = print
        self.comm = comm
        optimizer = config.makeOptimizer(model.layout.parameters)
        var settings = TrainingStep.SyncSettings()
        settings.bucketMiB = config.bucketSizeMb; settings.syncBatchNorm = config.syncBn
        settings.stallTimeout = config.stallTimeout; settings.keptOnly = config.allreduceKeptOnly
        step = TrainingStep(network: model.network, optimizer: optimizer, comm: comm,
                            smoothing: Float(config.labelSmoothing ?? 0), sync: settings)
        sparsityController = config.sparsityController
        Preemption.install()
    }

    /// Gives SGD the controller's decay (after a restore, and after each update).
    public func applyControllerDecay() {
        if let c = sparsityController, let sgd = optimizer as? SGD { sgd.thresholdDecay = c.decay }
    }

    /// Sums `values` over ranks.
    func global(_ values: [Double]) -> [Double] { comm.allreduceSum(values) }

    var seed: Int { config.seed ?? 0 }
    var smoothing: Float { Float(config.labelSmoothing ?? 0) }

    /// Trains and validates one epoch (from `resume`'s batch when given); nil when a preemption
    /// request stopped it (`stoppedAt` then says where).
    public func runEpoch(_ epoch: Int, resume: EpochPosition? = nil) throws -> EpochResult? {
        let start = Date()
        let lr = config.lrPolicyValue.rate(epoch: epoch)
        model.pruning.apply(epoch: epoch)
        model.network.parametersChanged()
        guard let t = try trainEpoch(epoch, lr: Float(lr), from: resume) else { return nil }
        let v = try validate(epoch)
        bestTop1 = max(bestTop1, v.top1); bestTop5 = max(bestTop5, v.top5)
        bestTrainTop1 = max(bestTrainTop1, t.top1); bestTrainTop5 = max(bestTrainTop5, t.top5)
        let result = EpochResult(epoch: epoch, lr: lr, trainLoss: t.loss, trainTop1: t.top1, trainTop5: t.top5,
                                 valLoss: v.loss, valTop1: v.top1, valTop5: v.top5,
                                 seconds: Date().timeIntervalSince(start))
        history.append(result)
        return result
    }

    /// One epoch of training (from `position`'s batch); returns the average loss and top-1/top-5 accuracy
    /// (%), or nil when every rank agreed to stop at a step boundary.
    public func trainEpoch(_ epoch: Int, lr: Float, from position: EpochPosition? = nil) throws -> (loss: Double, top1: Double, top5: Double)? {
        let net = model.network
        let indices = DistributedSampler(count: train.source.count, rank: comm.rank, world: comm.size, seed: seed,
                                         shuffle: true).indices(epoch: epoch)
        let first = position?.batch ?? 0
        // Samples are pure functions of (seed, epoch, index): skipping the batches done is resuming.
        var batches = indices.count / train.batch
        // A model summed in sample groups runs the steps one rank would: the sampler's padding can give
        // several ranks one batch more (with repeated samples), which would end their bit-identity.
        if model.network.context.groups?.acrossRanks == true {
            batches = min(batches, train.source.count / (train.batch * comm.size))
        }
        let used = batches * train.batch
        train.start(epoch: epoch, indices: Array(indices[min(used, first * train.batch)..<used]), train: true, dropLast: true)
        var time = AverageMeter("Time", "%6.3f"), data = AverageMeter("Data", "%6.3f")
        var loss = AverageMeter("Loss", "%.3f"), top1 = AverageMeter("Acc@1", "%6.2f"), top5 = AverageMeter("Acc@5", "%6.2f")
        if let p = position {
            loss.restore(sum: p.loss.sum, count: p.loss.count); top1.restore(sum: p.top1.sum, count: p.top1.count)
            top5.restore(sum: p.top5.sum, count: p.top5.count)
        }
        let progress = ProgressMeter(batches: batches, prefix: "Epoch: [\(epoch)]")
        let bar = ProgressBar(total: batches, enabled: comm.isRoot && isatty(STDOUT_FILENO) == 1 && !Communicator.launchedByMPI)
        var end = Date()
        var compute = 0.0, communication = 0.0, exposed = 0.0
        stepLosses.reserveCapacity(stepLosses.count + batches)
        stepAllreduceFloats.reserveCapacity(stepAllreduceFloats.count + batches)
        stoppedAt = nil
        for b in first..<batches {
            _ = try train.next(into: net)
            data.update(Date().timeIntervalSince(end))
            let computeStart = Date()
            let r = try step.run(lr: lr)
            if let sync {
                compute += Date().timeIntervalSince(computeStart) - step.communication.exposed
                communication += step.communication.total; exposed += step.communication.exposed
                if (b + 1) % 200 == 0 { Replicas.verifyIdentical(net.store, comm, step: sync.step) }
            }
            if let c = sparsityController, SparsityController.acts(after: b, of: batches) {
                c.update(time: Double(epoch) + Double(b + 1) / Double(batches), sparsity: model.totalSparsity(), rate: Double(lr))
                applyControllerDecay()
            }
            stopRequested = stopRequested || r.stop
            stepLosses.append(r.loss)
            stepAllreduceFloats.append(sync?.floatsPerStep ?? 0)
            loss.update(Double(r.loss), n: r.samples)
            top1.update(100 * Double(r.top1) / Double(r.samples), n: r.samples)
            top5.update(100 * Double(r.top5) / Double(r.samples), n: r.samples)
            time.update(Date().timeIntervalSince(end))
            end = Date()
            if b % config.printFreq == 0 || b == batches - 1 {
                bar.clear()
                print(progress.line(b, [time, data, loss, top1, top5]))
                onProgress?((batches * epoch + b) * config.batchSize, loss, top1, top5)
            }
            bar.draw(b + 1)
            if r.stop && b + 1 < batches {
                bar.clear()
                var p = EpochPosition(epoch: epoch, batch: b + 1)
                p.loss = (loss.sum, loss.count); p.top1 = (top1.sum, top1.count); p.top5 = (top5.sum, top5.count)
                stoppedAt = p
                train.start(epoch: epoch, indices: [], train: true, dropLast: true)   // let the loader's threads go idle
                return nil
            }
        }
        bar.clear()
        if let sync {
            Replicas.verifyIdentical(net.store, comm, step: sync.step)
            let steps = Double(max(1, batches - first))
            lastCommunication = (communication / steps, exposed / steps, compute / steps)
        }
        return (loss.average, top1.average, top5.average)
    }

    /// Evaluates every validation sample once; returns average loss and accuracies (%).
    public func validate(_ epoch: Int) throws -> (loss: Double, top1: Double, top5: Double) {
        let net = model.network
        Replicas.averageBuffers(net.store, comm)
        net.parametersChanged()
        let indices = DistributedSampler(count: validation.source.count, rank: comm.rank, world: comm.size,
                                         shuffle: false).indices(epoch: epoch)
        validation.start(epoch: epoch, indices: indices, train: false, dropLast: false)
        let batches = validation.batchCount
        var time = AverageMeter("Time", "%6.3f"), loss = AverageMeter("Loss", "%.3f")
        var top1 = AverageMeter("Acc@1", "%6.2f"), top5 = AverageMeter("Acc@5", "%6.2f")
        let progress = ProgressMeter(batches: batches, prefix: "Test: ")
        var end = Date()
        for _ in 0..<batches {
            let n = try validation.next(into: net)
            net.forward(training: false)
            let l = net.loss(smoothing: smoothing, samples: n)
            let c = net.correct(samples: n)
            loss.update(Double(l), n: n)
            top1.update(100 * Double(c.top1) / Double(n), n: n)
            top5.update(100 * Double(c.top5) / Double(n), n: n)
            time.update(Date().timeIntervalSince(end))
            end = Date()
        }
        // Every sample counted once, over all ranks.
        let g = global([loss.sum, top1.sum / 100, top5.sum / 100, loss.count])
        validatedSamples = Int(g[3])
        if comm.size > 1 {
            let n = max(1, g[3])
            loss.set(average: g[0] / n, count: Int(g[3])); top1.set(average: 100 * g[1] / n, count: Int(g[3]))
            top5.set(average: 100 * g[2] / n, count: Int(g[3]))
        }
        print(progress.line(batches, [time, loss, top1, top5]))
        return (loss.average, top1.average, top5.average)
    }
}
