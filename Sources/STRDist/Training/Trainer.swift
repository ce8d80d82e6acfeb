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
    public var bestTop1 = 0.0, bestTop5 = 0.0, bestTrainTop1 = 0.0, bestTrainTop5 = 0.0

    public init(config: Config, model: Model, train: BatchLoader, validation: BatchLoader,
                print: @escaping (String) -> Void) {
        self.config = config
        self.model = model
        self.train = train
        self.validation = validation
        self.print = print
        optimizer = config.makeOptimizer(model.layout.parameters)
    }

    var seed: Int { config.seed ?? 0 }
    var smoothing: Float { Float(config.labelSmoothing ?? 0) }

    public func runEpoch(_ epoch: Int) throws -> EpochResult {
        let start = Date()
        let lr = config.lrPolicyValue.rate(epoch: epoch)
        if model.convs.contains(where: { $0.kind == .gmp }) { model.applyPruneSchedule(config.pruneSchedule, epoch: epoch) }
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
        let indices = DistributedSampler(count: train.source.count, seed: seed, shuffle: true).indices(epoch: epoch)
        train.start(epoch: epoch, indices: indices, train: true, dropLast: true)
        let batches = train.batchCount
        var time = AverageMeter("Time", "%6.3f"), data = AverageMeter("Data", "%6.3f")
        var loss = AverageMeter("Loss", "%.3f"), top1 = AverageMeter("Acc@1", "%6.2f"), top5 = AverageMeter("Acc@5", "%6.2f")
        let progress = ProgressMeter(batches: batches, prefix: "Epoch: [\(epoch)]")
        let bar = ProgressBar(total: batches)
        var end = Date()
        for b in 0..<batches {
            _ = try train.next(into: net)
            data.update(Date().timeIntervalSince(end))
            net.forward(training: true)
            let l = net.loss(smoothing: smoothing)
            let c = net.correct()
            net.backward()
            optimizer.step(values: net.store.values, grads: net.store.grads, lr: lr, pool: net.pool)
            let n = net.batch
            loss.update(Double(l), n: n)
            top1.update(100 * Double(c.top1) / Double(n), n: n)
            top5.update(100 * Double(c.top5) / Double(n), n: n)
            time.update(Date().timeIntervalSince(end))
            end = Date()
            if b % config.printFreq == 0 || b == batches - 1 {
                bar.clear()
                print(progress.line(b, [time, data, loss, top1, top5]))
            }
            bar.draw(b + 1)
        }
        bar.clear()
        return (loss.average, top1.average, top5.average)
    }

    /// Evaluates every validation sample once; returns average loss and accuracies (%).
    public func validate(_ epoch: Int) throws -> (loss: Double, top1: Double, top5: Double) {
        let net = model.network
        let indices = DistributedSampler(count: validation.source.count, shuffle: false).indices(epoch: epoch)
        validation.start(epoch: epoch, indices: indices, train: false, dropLast: false)
        let batches = validation.batchCount
        var time = AverageMeter("Time", "%6.3f"), loss = AverageMeter("Loss", "%.3f")
        var top1 = AverageMeter("Acc@1", "%6.2f"), top5 = AverageMeter("Acc@5", "%6.2f")
        let progress = ProgressMeter(batches: batches, prefix: "Test: ")
        var end = Date()
        for b in 0..<batches {
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
        print(progress.line(batches, [time, loss, top1, top5]))
        return (loss.average, top1.average, top5.average)
    }
}
