// The architectures (`arch`), as a registry: each one names itself and
// builds its layers from the model options and a LayerBuilder. ResNet and
// MobileNetV1 register here; a new architecture is one file (its layers and
// its `Architecture` value) plus one `Architecture.register` line.

public struct Architecture: Sendable {
    /// The `arch` values it answers to ("ResNet18", …).
    public let names: [String]
    /// Builds the layers of `arch`; every conv and sparse-weight layer comes from the builder (so the model knows them).
    let build: @Sendable (_ arch: String, _ options: ModelOptions, _ builder: inout LayerBuilder) -> [any Layer]
    /// Whether the model reads images as sequences of rows (a recurrent one): the small-image sets then
    /// give one channel and no crop or flip.
    public let readsSequences: Bool
    /// Whether no layer mixes samples (no BatchNorm): the gradient is then summed in SampleGroups, and
    /// runs on 1, 2, 4, … ranks at one global batch are bit-identical.
    public let samplesIndependent: Bool

    public init(names: [String], readsSequences: Bool = false, samplesIndependent: Bool = false,
                build: @escaping @Sendable (_ arch: String, _ options: ModelOptions, _ builder: inout LayerBuilder) -> [any Layer]) {
        self.names = names; self.readsSequences = readsSequences; self.samplesIndependent = samplesIndependent
        self.build = build
    }

    private static let registry = Locked<[Architecture]>([ResNet.architecture, MobileNetV1.architecture, FastGRNN.architecture])

    /// Every registered `arch` value, in registration order.
    public static var names: [String] { registry.value.flatMap(\.names) }

    /// Adds `architecture` (its names then answer to it, before any earlier registration of them).
    public static func register(_ architecture: Architecture) { registry.update { $0.insert(architecture, at: 0) } }

    /// The architecture `arch` names, or nil.
    public static func named(_ arch: String) -> Architecture? { registry.value.first { $0.names.contains(arch) } }
}
