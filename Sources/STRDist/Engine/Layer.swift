// The layer contract. A model is built once (layers register their
// parameters in the layout and keep the offsets), planned once per batch
// shape (layers take their input's ActRef, reserve their output and any
// saved data in the workspace, and keep those offsets), then run: forward
// and backward take only the step context, so a step moves no metadata and
// allocates nothing. Backward runs the layers in exact reverse plan order.

public protocol Layer: AnyObject {
    /// Reserves this layer's memory for `input`; returns its output.
    func plan(_ input: ActRef, _ planner: WorkspacePlanner) -> ActRef
    /// Reads the planned input, writes the planned output.
    func forward(_ ctx: StepContext)
    /// Reads the output gradient; writes parameter gradients and the input gradient (if any).
    func backward(_ ctx: StepContext)
    /// Sets initial parameter and buffer values.
    func initialize(_ store: ParameterStore, seed: UInt64)
    /// Multiply-adds per image that FLOP reports count for this layer once planned, besides convs (whose
    /// count follows their nonzero weights): the average pool's C·H·W; 0 for most layers.
    var reportedMACs: Int { get }
}

extension Layer {
    public func initialize(_ store: ParameterStore, seed: UInt64) {}
    public var reportedMACs: Int { 0 }
}

/// Layers applied one after another.
public final class Sequential: Layer {
    public let layers: [any Layer]

    public init(_ layers: [any Layer]) { self.layers = layers }

    public var reportedMACs: Int { layers.reduce(0) { $0 + $1.reportedMACs } }

    public func plan(_ input: ActRef, _ planner: WorkspacePlanner) -> ActRef {
        layers.reduce(input) { $1.plan($0, planner) }
    }

    public func forward(_ ctx: StepContext) { for layer in layers { layer.forward(ctx) } }

    public func backward(_ ctx: StepContext) {
        var i = layers.count - 1
        while i >= 0 { layers[i].backward(ctx); i -= 1 }
    }

    public func initialize(_ store: ParameterStore, seed: UInt64) {
        for layer in layers { layer.initialize(store, seed: seed) }
    }
}

/// A stable 64-bit hash of a key (FNV-1a), used as the RNG stream of that key's
/// initialisation so values do not depend on construction order.
public func streamID(_ key: String) -> UInt64 {
    FNV1a.of(key)
}
