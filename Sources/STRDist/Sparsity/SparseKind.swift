// The conv kinds (`conv_type`), as a registry: each kind is one value that
// names itself, makes its WeightTransform and says whether its layers count
// toward a model's sparsity. The reference's four register here; a new kind
// is one file (its transform and its `SparseKind` value) plus one
// `SparseKind.register` line. A sparse conv is the dense conv path fed with
// an effective weight that the transform computes from the stored weight once
// per step; the transform's backward maps the gradient of the effective weight
// back onto the stored weight (and the kind's own parameters).

import Foundation

public struct SparseKind: Hashable, Sendable, CustomStringConvertible {
    /// The reference's `conv_type` value, e.g. "STRConv".
    public let rawValue: String
    /// Other spellings `conv_type` accepts.
    public let aliases: [String]
    /// Whether the kind's layers count toward a model's total sparsity (every kind but dense).
    public let countsTowardSparsity: Bool
    /// Makes the transform of the conv `name`, registering the kind's own tensors in `layout`.
    let make: @Sendable (_ name: String, _ layout: ParameterLayout, _ settings: TransformSettings) -> any WeightTransform

    public init(_ rawValue: String, aliases: [String] = [], countsTowardSparsity: Bool = true,
                make: @escaping @Sendable (_ name: String, _ layout: ParameterLayout, _ settings: TransformSettings) -> any WeightTransform) {
        self.rawValue = rawValue; self.aliases = aliases; self.countsTowardSparsity = countsTowardSparsity; self.make = make
    }

    public static func == (a: SparseKind, b: SparseKind) -> Bool { a.rawValue == b.rawValue }
    public func hash(into h: inout Hasher) { h.combine(rawValue) }
    public var description: String { rawValue }

    /// Plain convolution.
    public static let dense = SparseKind("DenseConv", aliases: ["dense", "ConvBN"], countsTowardSparsity: false) { _, _, _ in
        DenseWeight()
    }
    /// w' = sign(w)·relu(|w| − sigmoid(s)), one learned s per layer.
    public static let str = SparseKind("STRConv", aliases: ["str"]) { name, layout, settings in
        STRWeight(name: name, layout: layout, sInit: settings.sInit)
    }
    /// Smallest floor(prune_rate·numel) |w| zeroed; gradient straight through.
    public static let dnw = SparseKind("DNWConv", aliases: ["dnw"]) { _, _, _ in MagnitudeWeight(rule: .dense) }
    /// Same mask at the scheduled prune rate; gradient only to kept weights.
    public static let gmp = SparseKind("GMPConv", aliases: ["gmp"]) { _, _, _ in MagnitudeWeight(rule: .keptOnly) }

    private static let registry = Locked<[SparseKind]>([.dense, .str, .dnw, .gmp])

    /// Every registered kind, in registration order.
    public static var allCases: [SparseKind] { registry.value }

    /// Adds `kind` (a second registration of the same name replaces the first).
    public static func register(_ kind: SparseKind) {
        registry.update { kinds in
            if let i = kinds.firstIndex(of: kind) { kinds[i] = kind } else { kinds.append(kind) }
        }
    }

    /// The kind a `conv_type` / `first_layer_type` value names, or nil.
    public init?(configValue: String) {
        guard let k = Self.allCases.first(where: { $0.rawValue == configValue || $0.aliases.contains(configValue) }) else {
            return nil
        }
        self = k
    }

    /// Whether a layer of this kind counts toward the total sparsity of a model in which `anyCounts`
    /// says whether any layer's kind counts (a dense model counts all its layers). The one rule the
    /// report, the controller's measurement and the summary share.
    public func counted(anyCounts: Bool) -> Bool { countsTowardSparsity || !anyCounts }

    /// The kind's transform for the conv `name`.
    public func makeTransform(name: String, layout: ParameterLayout, settings: TransformSettings) -> any WeightTransform {
        make(name, layout, settings)
    }
}
