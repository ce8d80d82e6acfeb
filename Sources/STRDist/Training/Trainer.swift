// The epoch loop: per epoch set the learning rate (and GMP's prune rate),
// train on this rank's shard, validate, keep the best accuracies. Per-batch
// progress lines follow the reference's format every `print_freq` batches.

import Foundation

/// Where the trainer gets its batches: fills the planned input and labels.
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
    /// Gradient all-reduce (nil on one process).
    public let sync: GradientSync?
    /// Mean per-step communication and exposed (not overlapped) communication of the last epoch, seconds.
    public private(set) var lastCommunication = (total: 0.0, exposed: 0.0, compute: 0.0)
    let fault = InjectedFault.fromEnvironment()
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
        comm.stallTimeout = config.stallTimeout
        if comm.size > 1 {
            let s = GradientSync(comm: comm, parameters: model.layout.parameters, grads: model.network.store.grads.base,
                                 bucketMiB: config.bucketSizeMb, syncBatchNorm: config.syncBn, stallTimeout: config.stallTimeout,
                                 keptOnly: config.allreduceKeptOnly)
            model.network.context.collectives = s
            sync = s
        } else {
            sync = nil
        }
    }

    /// Sums `values` over ranks.
    func global(_ values: [Double]) -> [Double] { comm.allreduceSum(values) }

    var seed: Int { config.seed ?? 0 }
    var smoothing: Float { Float(config.labelSmoothing ?? 0) }

    public func runEpoch(_ epoch: Int) throws -> EpochResult {
        let start = Date()
        let lr = config.lrPolicyValue.rate(epoch: epoch)
        model.pruning.apply(epoch: epoch)
        model.network.parametersChanged()
        let t = try trainEpoch(epoch, lr: Float(lr))
        let v = try validate(epoch)
        bestTop1 = max(bestTop1, v.top1); bestTop5 = max(bestTop5, v.top5)
        bestTrainTop1 = max(bestTrainTop1, t.top1); bestTrainTop5 = max(bestTrainTop5, t.top5)
        let result = EpochResult(epoch: epoch, lr: lr, trainLoss: t.loss, trainTop1: t.top1, trainTop5: t.top5,
                                 valLoss: v.loss, valTop1: v.top1, valTop5: v.top5,
                                 seconds: Date().timeIntervalSince(start))
        history.append(result)
        return result
    }

    /// One epoch of training; returns the average loss and top-1/top-5 accuracy (%).
    public func trainEpoch(_ epoch: Int, lr: Float) throws -> (loss: Double, top1: Double, top5: Double) {
        let net = model.network
        let indices = DistributedSampler(count: train.source.count, rank: comm.rank, world: comm.size, seed: seed,
                                         shuffle: true).indices(epoch: epoch)
        train.start(epoch: epoch, indices: indices, train: true, dropLast: true)
        let batches = train.batchCount
        var time = AverageMeter("Time", "%6.3f"), data = AverageMeter("Data", "%6.3f")
        var loss = AverageMeter("Loss", "%.3f"), top1 = AverageMeter("Acc@1", "%6.2f"), top5 = AverageMeter("Acc@5", "%6.2f")
        let progress = ProgressMeter(batches: batches, prefix: "Epoch: [\(epoch)]")
        let bar = ProgressBar(total: batches, enabled: comm.isRoot && isatty(STDOUT_FILENO) == 1 && !Communicator.launchedByMPI)
        var end = Date()
        var compute = 0.0, communication = 0.0, exposed = 0.0
        stepLosses.reserveCapacity(stepLosses.count + batches)
        stepAllreduceFloats.reserveCapacity(stepAllreduceFloats.count + batches)
        for b in 0..<batches {
            _ = try train.next(into: net)
            data.update(Date().timeIntervalSince(end))
            let computeStart = Date()
            sync?.beginStep()
            net.forward(training: true)
            var l = net.loss(smoothing: smoothing)
            var c = net.correct()
            net.backward()
            sync?.finishBackward()
            comm.step = sync?.step ?? 0
            optimizer.step(values: net.store.values, grads: net.store.grads, lr: lr, pool: net.pool)
            var n = net.batch
            if let sync {
                compute += Date().timeIntervalSince(computeStart) - sync.exposedSeconds
                communication += sync.communicationSeconds; exposed += sync.exposedSeconds
                sync.resetTimes()
                let g = global([Double(l) * Double(n), Double(c.top1), Double(c.top5), Double(n)])
                n = Int(g[3]); l = Float(g[0] / g[3]); c = (Int(g[1]), Int(g[2]))
                if (b + 1) % 200 == 0 { Replicas.verifyIdentical(net.store, comm, step: sync.step) }
            }
            stepLosses.append(l)
            stepAllreduceFloats.append(sync?.floatsPerStep ?? 0)
            if let f = fault, f.rank == comm.rank, f.step == (sync?.step ?? b + 1) {
                if f.kind == "diverge" { net.store.values.base[0] += 1e-3 } else { try f.trigger() }
            }
            loss.update(Double(l), n: n)
            top1.update(100 * Double(c.top1) / Double(n), n: n)
            top5.update(100 * Double(c.top5) / Double(n), n: n)
            time.update(Date().timeIntervalSince(end))
            end = Date()
            if b % config.printFreq == 0 || b == batches - 1 {
                bar.clear()
                print(progress.line(b, [time, data, loss, top1, top5]))
                onProgress?((batches * epoch + b) * config.batchSize, loss, top1, top5)
            }
            bar.draw(b + 1)
        }
        bar.clear()
        if let sync {
            Replicas.verifyIdentical(net.store, comm, step: sync.step)
            let steps = Double(max(1, batches))
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
