// One training step, written once: forward, loss, backward with the
// gradient all-reduce overlapped, optimizer update, and then the step's
// global metrics — one small all-reduce that also carries every rank's stop
// request (SIGTERM/SIGUSR1, Preemption), so all ranks agree at the same step
// boundary. The trainer, the step benchmark and the tests all run this; the
// gradient sync is wired here, test fault injection fires here.

import Foundation

/// What one step gave, summed over all ranks.
public struct StepResult: Sendable {
    /// Mean loss over the global batch.
    public var loss: Float
    public var top1: Int, top5: Int, samples: Int
    /// Some rank was asked to stop (preemption): every rank sees the same answer.
    public var stop: Bool
}

/// Per-step communication timings (seconds), zero on one process.
public struct StepCommunication: Sendable {
    public var total = 0.0, exposed = 0.0
}

public final class TrainingStep {
    public let network: Network
    public let optimizer: any Optimizer
    public let comm: Communicator
    /// The gradient all-reduce (nil on one process).
    public let sync: GradientSync?
    public var smoothing: Float
    /// Steps run by this object (the sync's count on several ranks).
    public private(set) var count = 0
    /// The last step's communication.
    public private(set) var communication = StepCommunication()
    let fault = InjectedFault.fromEnvironment()
    /// Loss·n, top-1, top-5, n, stop: summed over ranks after each step.
    private let metrics = UnsafeMutablePointer<Double>.allocate(capacity: 5)
    /// The groups' tree across ranks (SampleGroups), and its receive buffer for the metrics.
    private let treeOrder: Bool
    private let metricsScratch = UnsafeMutablePointer<Double>.allocate(capacity: 5)

    public struct SyncSettings: Sendable {
        public var bucketMiB = 25.0, syncBatchNorm = false, stallTimeout = 300.0, keptOnly = true
        public init() {}
    }

    public init(network: Network, optimizer: any Optimizer, comm: Communicator = .world, smoothing: Float = 0,
                sync settings: SyncSettings = SyncSettings()) {
        self.network = network
        self.optimizer = optimizer
        self.comm = comm
        self.smoothing = smoothing
        comm.stallTimeout = settings.stallTimeout
        if let groups = network.context.groups {
            precondition(groups.total == groups.local * comm.size, "the network's sample groups were planned for another world size")
        }
        treeOrder = comm.size > 1 && network.context.groups?.acrossRanks == true
        if comm.size > 1 {
            let s = GradientSync(comm: comm, parameters: network.store.parameters, grads: network.store.grads.base,
                                 bucketMiB: settings.bucketMiB, syncBatchNorm: settings.syncBatchNorm, keptOnly: settings.keptOnly,
                                 treeOrder: treeOrder)
            network.context.collectives = s
            sync = s
        } else {
            sync = nil
        }
    }

    deinit { metrics.deallocate(); metricsScratch.deallocate() }

    /// Forward, loss, backward, all-reduce, update at `lr` on the batch already in the network's input;
    /// then the global metrics (over the first `samples` of the batch: all by default).
    @discardableResult
    public func run(lr: Float) throws -> StepResult {
        let net = network
        sync?.beginStep()
        net.forward(training: true)
        let ctx: StepContext = net.context, lossStart = ctx.profileStart()
        // In the groups' tree every rank divides by the global batch and the sums are not rescaled: the
        // ranks' leaves are one rank's exactly (a rescaling by 1/world is exact only away from subnormals).
        let loss = net.loss(smoothing: smoothing, gradientOver: treeOrder ? net.batch * comm.size : nil)
        let c = net.correct()
        ctx.profile?.add("loss", backward: false, since: lossStart)
        net.backward()
        sync?.finishBackward()
        count += 1
        comm.step = sync?.step ?? count
        let updateStart = ctx.profileStart()
        optimizer.step(values: net.store.values, grads: net.store.grads, lr: lr, pool: net.pool)
        ctx.profile?.add("optimizer", backward: false, since: updateStart)
        if let sync {
            communication = StepCommunication(total: sync.communicationSeconds, exposed: sync.exposedSeconds)
            sync.resetTimes()
        }
        if let f = fault, f.rank == comm.rank, f.step == count {
            if f.kind == "diverge" { net.store.values.base[0] += 1e-3 } else { try f.trigger() }
        }
        let n = net.batch
        guard comm.size > 1 else {
            return StepResult(loss: loss, top1: c.top1, top5: c.top5, samples: n, stop: Preemption.requested)
        }
        let g = metrics
        g[0] = net.lossSum; g[1] = Double(c.top1); g[2] = Double(c.top5); g[3] = Double(n)
        g[4] = Preemption.requested ? 1 : 0
        if treeOrder {
            comm.allreduceTree(g, count: 5, scratch: metricsScratch, "step metrics")
        } else {
            comm.allreduceSum(g, count: 5, what: "step metrics")
        }
        return StepResult(loss: Float(g[0] / g[3]), top1: Int(g[1]), top5: Int(g[2]), samples: Int(g[3]), stop: g[4] > 0)
    }
}
