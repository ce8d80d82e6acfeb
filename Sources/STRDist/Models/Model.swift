// A built model: its layers, its convs in forward order (for sparsity
// accounting, pruning schedules and budgets), and the Network that runs it.

import Foundation

public final class Model {
    public let options: ModelOptions
    public let network: Network
    public let convs: [Conv2d]
    public let layout: ParameterLayout
    /// DNW's and GMP's prune rates: their one owner.
    public let pruning: PruningPlan

    /// - Throws: `ModelError.unknownArchitecture` with the known names.
    public init(_ options: ModelOptions, threads: Int) throws {
        let layout = ParameterLayout()
        let (layers, convs) = try Self.layers(options, layout)
        self.options = options
        self.layout = layout
        self.convs = convs
        pruning = PruningPlan(schedule: PruneSchedule(target: options.pruneRate, initEpoch: options.pruneEpochs.initial,
                                                      finalEpoch: options.pruneEpochs.final), convs: convs)
        network = Network(root: Sequential(layers), layout: layout, threads: threads)
        network.planPasses = [ResidualFusion.plan, DepthwiseNormFusion.plan, ConvPlanner.planEpilogues]
    }

    /// The layers `options` describe, their parameters registered in `layout`; nothing large is
    /// allocated yet (the arenas come with the Network, the workspace with its plan).
    static func layers(_ options: ModelOptions, _ layout: ParameterLayout) throws -> (layers: [any Layer], convs: [Conv2d]) {
        guard let architecture = Architecture.named(options.arch) else { throw ModelError.unknownArchitecture(options.arch) }
        var builder = ConvBuilder(options: options, layout: layout)
        let layers = architecture.build(options.arch, options, &builder)
        return (layers, builder.convs)
    }

    /// Effective-weight sparsity of every conv, with FLOPs at the planned input size.
    public func sparsityReport() -> SparsityReport {
        let ctx = network.context!
        let layers = convs.map { conv -> LayerSparsity in
            let g = conv.geometry!
            return LayerSparsity(name: conv.name, kind: conv.kind, numel: conv.weightCount, nonzero: conv.nonzeroWeights(ctx),
                                 positions: g.outPlane,
                                 threshold: conv.transform.reportedThreshold(ctx))
        }
        return SparsityReport(layers: layers, poolFlops: network.root.reportedMACs)
    }

    /// `sparsityReport().total` as a fraction, without allocating (the sparsity controller's measurement).
    public func totalSparsity() -> Double {
        let ctx = network.context!
        let any = convs.contains { $0.kind.countsTowardSparsity }
        var numel = 0, nonzero = 0
        for conv in convs where conv.kind.counted(anyCounts: any) {
            numel += conv.weightCount
            nonzero += conv.nonzeroWeights(ctx)
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
