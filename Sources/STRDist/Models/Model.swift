// A built model: its layers, its convs in forward order (for sparsity
// accounting, pruning schedules and budgets), and the Network that runs it.

import Foundation

public final class Model {
    public let options: ModelOptions
    public let network: Network
    public let convs: [Conv2d]
    /// Every layer with a sparse-kind weight, in forward order: the convs, linear layers, a cell's
    /// matrices. Accounting, budgets and prune rates go over these.
    public let weighted: [any SparseWeighted]
    public let layout: ParameterLayout
    /// DNW's and GMP's prune rates: their one owner.
    public let pruning: PruningPlan

    /// - Throws: `ModelError.unknownArchitecture` with the known names.
    public init(_ options: ModelOptions, threads: Int) throws {
        let layout = ParameterLayout()
        let (layers, builder) = try Self.layers(options, layout)
        self.options = options
        self.layout = layout
        convs = builder.convs
        weighted = builder.weighted
        pruning = PruningPlan(schedule: PruneSchedule(target: options.pruneRate, initEpoch: options.pruneEpochs.initial,
                                                      finalEpoch: options.pruneEpochs.final), layers: weighted)
        network = Network(root: Sequential(layers), layout: layout, threads: threads)
        network.planPasses = Self.planPasses
        network.groupsSamples = Architecture.named(options.arch)?.samplesIndependent == true
    }

    /// The fusions planned over a model's layers once they are planned (Network.planPasses); some plan memory of
    /// their own (a fused join's mask), so MemoryPlan runs them too.
    static let planPasses: [(WorkspacePlanner) -> Void] = [ResidualFusion.plan, DepthwiseNormFusion.plan,
                                                           ConvPlanner.planEpilogues, BF16Handoff.plan]

    /// The layers `options` describe, their parameters registered in `layout`; nothing large is
    /// allocated yet (the arenas come with the Network, the workspace with its plan).
    static func layers(_ options: ModelOptions, _ layout: ParameterLayout) throws -> (layers: [any Layer], builder: LayerBuilder) {
        guard let architecture = Architecture.named(options.arch) else { throw ModelError.unknownArchitecture(options.arch) }
        var builder = LayerBuilder(options: options, layout: layout)
        let layers = architecture.build(options.arch, options, &builder)
        return (layers, builder)
    }

    /// Effective-weight sparsity of every sparse-kind layer, with FLOPs at the planned input size.
    public func sparsityReport() -> SparsityReport {
        let ctx = network.context!
        let layers = weighted.map { l -> LayerSparsity in
            LayerSparsity(name: l.name, kind: l.kind, numel: l.weightCount, nonzero: l.nonzeroWeights(ctx),
                          positions: l.usesPerSample, threshold: l.transform.reportedThreshold(ctx))
        }
        return SparsityReport(layers: layers, poolFlops: network.root.reportedMACs)
    }

    /// `sparsityReport().total` as a fraction, without allocating (the sparsity controller's measurement).
    public func totalSparsity() -> Double {
        let ctx = network.context!
        let any = weighted.contains { $0.kind.countsTowardSparsity }
        var numel = 0, nonzero = 0
        for l in weighted where l.kind.counted(anyCounts: any) {
            numel += l.weightCount
            nonzero += l.nonzeroWeights(ctx)
        }
        return numel == 0 ? 0 : 1 - Double(nonzero) / Double(numel)
    }

}

public enum ModelError: Error, CustomStringConvertible {
    case unknownArchitecture(String)

    public var description: String {
        switch self {
        case .unknownArchitecture(let a):
            return "unknown arch '\(a)' (known: \(ModelOptions.architectures.joined(separator: ", ")))"
        }
    }
}
