// What the model builder needs from a config: architecture, class count,
// conv kind and its per-layer exceptions, BatchNorm kind, initialisation.

public struct ModelOptions: Sendable {
    public var arch = "ResNet18"
    public var numClasses = 1000
    /// Channels of the input images (the data's; the stem conv reads them).
    public var inputChannels = 3
    /// Width of the input images: a recurrent model reads rows of inputChannels × inputWidth values.
    public var inputWidth = 28
    /// `hidden_size`: a recurrent cell's state (FastGRNN).
    public var hiddenSize = 128
    /// `wRank`, `uRank`: FastGRNN's W = W1·W2 and U = U1·U2 at these ranks (nil: full rank).
    public var wRank: Int?
    public var uRank: Int?
    /// `conv_type`.
    public var convKind: SparseKind = .dense
    /// `first_layer_dense`: the stem conv is a plain conv with PyTorch's default init.
    public var firstLayerDense = false
    /// `first_layer_type`: the stem conv's kind (when not dense).
    public var firstLayerKind: SparseKind?
    /// `last_layer_dense`: the classifier is a dense 1×1 conv with bias and default init.
    public var lastLayerDense = false
    /// `bn_type`: LearnedBatchNorm (affine) or NonAffineBatchNorm.
    public var affineBatchNorm = true
    /// `init`, `mode`, `nonlinearity`, `scale_fan` resolved.
    public var initialization: WeightInit = .kaimingNormal(mode: .fanIn, gain: 2.0.squareRoot(), fanScale: 1)
    /// `prune_rate`: DNW's rate and GMP's target (PruningPlan applies them).
    public var pruneRate: Double = 0
    /// `init_prune_epoch`, `final_prune_epoch`: GMP's ramp.
    public var pruneEpochs = (initial: 0, final: 100)
    /// `sInit_value`: STR's initial threshold parameter.
    public var sInit: Float = 0
    /// `width_mult`: every layer's channels scaled.
    public var widthMultiplier: Double = 1
    /// CIFAR-style stem for small images: 3×3 stride-1 conv, no max-pool (ResNets).
    public var smallInputStem = false
    /// Stride of the small-input stem conv (2 halves every feature map for a quarter of the FLOPs).
    public var stemStride = 1
    /// How 3×3 stride-1 convs are computed (`conv_algorithm`).
    public var convAlgorithm = ConvAlgorithm.auto
    /// `precision`: the convs' dense products in fp32 or with bf16 operands.
    public var precision = Precision.fp32

    public init() {}

    /// The known `arch` values (the registered architectures').
    public static var architectures: [String] { Architecture.names }

    /// Channels after the width multiplier (at least 1).
    public func width(_ channels: Int) -> Int { max(1, Int((Double(channels) * widthMultiplier).rounded())) }
}

/// Where a conv sits, which decides its kind and initialisation.
public enum ConvRole { case stem, inner, classifier }

/// Makes the layers of a model as the reference's builder does, and lists the ones with sparse weights.
public struct LayerBuilder {
    public let options: ModelOptions
    public let layout: ParameterLayout
    public private(set) var convs: [Conv2d] = []
    /// Every layer with a sparse-kind weight, in forward order (the convs among them).
    public private(set) var weighted: [any SparseWeighted] = []

    public init(options: ModelOptions, layout: ParameterLayout) {
        self.options = options
        self.layout = layout
    }

    /// - Parameter defaultInit: true where the reference keeps PyTorch's default init (MobileNetV1's body).
    /// The kind and initialisation of a layer in `role` (the stem's and classifier's own rules), and
    /// whether it has a bias.
    func kindAndInit(_ role: ConvRole, defaultInit: Bool) -> (SparseKind, WeightInit, bias: Bool) {
        switch role {
        case .stem where options.firstLayerDense: return (.dense, .standard, false)
        case .stem: return (options.firstLayerKind ?? options.convKind, defaultInit ? .standard : options.initialization, false)
        case .classifier where options.lastLayerDense: return (.dense, .standard, true)
        default: return (options.convKind, defaultInit ? .standard : options.initialization, false)
        }
    }

    /// Lists a layer with a sparse-kind weight that is not a conv (a linear layer, a recurrent cell's matrix).
    public mutating func register(_ layer: any SparseWeighted) { weighted.append(layer) }

    public mutating func conv(_ name: String, _ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1,
                              groups: Int = 1, role: ConvRole = .inner, defaultInit: Bool = false) -> Conv2d {
        let (kind, initializer, bias) = kindAndInit(role, defaultInit: defaultInit)
        let conv = Conv2d(name, inChannels: inChannels, outChannels: outChannels, kernelSize: kernel, stride: stride,
                          padding: kernel / 2, groups: groups, bias: bias, kind: kind,
                          settings: TransformSettings(sInit: options.sInit), layout: layout)
        conv.initializer = initializer
        conv.algorithm = options.convAlgorithm
        conv.precision = options.precision
        convs.append(conv)
        weighted.append(conv)
        return conv
    }

    public func batchNorm(_ name: String, _ channels: Int, relu: Bool, affine: Bool? = nil) -> BatchNorm2d {
        BatchNorm2d(name, channels: channels, affine: affine ?? options.affineBatchNorm, fuseReLU: relu, layout: layout)
    }
}
