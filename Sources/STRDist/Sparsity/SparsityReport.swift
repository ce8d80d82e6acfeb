// Sparsity and FLOP accounting, in one place. A layer's sparsity is the
// percentage of zeros in its effective weight; the total is
// 100 − 100·Σnonzero/Σnumel over the sparse-kind layers (every conv, the
// classifier included, unless made dense); the threshold reported is
// sigmoid(s). FLOPs are multiply-accumulates: nonzero weights × output
// positions per image, plus C·H·W for the average pool before the classifier.

import Foundation

public struct LayerSparsity: Sendable {
    public var name: String
    public var kind: SparseKind
    public var numel: Int
    public var nonzero: Int
    /// Output positions per image (OH·OW).
    public var positions: Int
    /// sigmoid(s) for STR layers.
    public var threshold: Double?

    public var sparsity: Double { numel == 0 ? 0 : 100 * Double(numel - nonzero) / Double(numel) }
    public var flops: Int { nonzero * positions }
    public var denseFlops: Int { numel * positions }
}

public struct SparsityReport: Sendable {
    public var layers: [LayerSparsity]
    /// MACs of the layers that are not convs, as they report them: the average pool before the
    /// classifier (C·H·W per image).
    public var poolFlops: Int

    /// Total sparsity over the sparse-kind layers (all layers when the model is dense).
    public var total: Double {
        let any = layers.contains { $0.kind.countsTowardSparsity }
        let counted = layers.filter { $0.kind.counted(anyCounts: any) }
        let numel = counted.reduce(0) { $0 + $1.numel }, nonzero = counted.reduce(0) { $0 + $1.nonzero }
        return numel == 0 ? 0 : 100 - 100 * Double(nonzero) / Double(numel)
    }

    public var params: Int { layers.reduce(0) { $0 + $1.numel } }
    public var flops: Int { layers.reduce(poolFlops) { $0 + $1.flops } }
    public var denseFlops: Int { layers.reduce(poolFlops) { $0 + $1.denseFlops } }
}
