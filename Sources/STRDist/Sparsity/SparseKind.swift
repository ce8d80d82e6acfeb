// The conv kinds of the reference (`conv_type`). A sparse conv is the dense
// conv path fed with an effective weight that a transform computes from the
// stored weight once per step; the transform's backward maps the gradient of
// the effective weight back onto the stored weight (and STR's threshold).

import Foundation

public enum SparseKind: String, CaseIterable, Sendable {
    /// Plain convolution.
    case dense = "DenseConv"
    /// w' = sign(w)·relu(|w| − sigmoid(s)), one learned s per layer.
    case str = "STRConv"
    /// Smallest floor(prune_rate·numel) |w| zeroed; gradient straight through.
    case dnw = "DNWConv"
    /// Same mask at the scheduled prune rate; gradient only to kept weights.
    case gmp = "GMPConv"

    /// Parses a reference `conv_type` / `first_layer_type` value.
    public init?(configValue: String) {
        switch configValue {
        case "DenseConv", "dense", "ConvBN": self = .dense
        case "STRConv", "str": self = .str
        case "DNWConv", "dnw": self = .dnw
        case "GMPConv", "gmp": self = .gmp
        default: return nil
        }
    }
}

/// sigmoid in Double: exact 0 for the reference's sInit of −3200.
@inline(__always) public func sigmoid(_ s: Float) -> Double { 1 / (1 + exp(-Double(s))) }
