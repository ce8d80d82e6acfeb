// The run configuration: every key of the reference (args.py, same names
// and defaults) plus strdist's own. YAML gives the file's values, then
// `--key value` flags override them (ConfigLoader).

public struct Config: Sendable {
    // Data and model
    public var data = "/usr/share/datasets/fashion-mnist"
    public var set = DataSet.fashionMNIST
    public var arch = "ResNet18"
    /// Classifier outputs (nil: the data's class count, resolved when the data is loaded).
    public var numClasses: Int?
    public var widthMult = 1.0
    /// FastGRNN's state size, and its W's and U's ranks (nil: full), EdgeML's names.
    public var hiddenSize = 128
    public var wRank: Int?
    public var uRank: Int?
    public var workers = 20
    // Optimisation
    public var optimizer = OptimizerName.sgd
    public var lr = 0.1
    public var lrPolicy = LRPolicyName.constant
    public var warmupLength = 0
    public var multistepLrAdjust = 30
    public var multistepLrGamma = 0.1
    public var epochs = 90
    public var startEpoch: Int?
    public var batchSize = 256
    public var momentum = 0.9
    public var nesterov = false
    public var weightDecay = 1e-4
    public var noBnDecay = false
    public var labelSmoothing: Double?
    // Sparsity
    public var convType = SparseKind.dense
    public var bnType = BatchNormType.learned
    public var initialization = InitName.kaimingNormal
    public var mode = FanMode.fanIn
    public var nonlinearity = Nonlinearity.relu
    public var scaleFan = false
    public var sparseFunction = SparseFunction.sigmoid
    public var sInitType = SInitType.constant
    public var sInitValue = 100.0
    public var stDecay: Double?
    /// STR at a chosen sparsity: the total sparsity (a fraction) a SparsityController steers the
    /// thresholds' decay toward, along `target_schedule`; nil: off (the reference's behaviour).
    public var targetSparsity: Double?
    /// The set point's ramp from `init_prune_epoch` to the end of `final_prune_epoch`: cubic (GMP's) or linear.
    public var targetSchedule = SetPointSchedule.cubic
    public var pruneRate = 0.0
    public var initPruneEpoch = 0
    public var finalPruneEpoch = 100
    public var firstLayerDense = false
    public var firstLayerType: SparseKind?
    public var lastLayerDense = false
    public var freezeWeights = false
    // Runs, checkpoints, workflows
    public var config: String?
    public var name: String?
    public var logDir: String?
    public var printFreq = 10
    public var saveEvery = -1
    public var seed: Int?
    public var resume: String?
    public var pretrained: String?
    public var evaluate = false
    public var denseConvModel = false
    public var useBudget = false
    public var ignorePretrainedWeights = false
    public var budgetFile: String?
    /// Which column of `budget_file` to take (nil: the first after `Layer`).
    public var budgetColumn: String?
    public var multigpu: String?
    // strdist's own
    /// Threads per rank for the engine (0: all cores of this machine divided among local ranks).
    public var threads = 0
    /// CIFAR-style stem (3×3/1, no max-pool) for small images.
    public var cifarStem = false
    /// Stride of that stem conv.
    public var stemStride = 1
    /// Side of the square network input (0: the set's own, 32 for FashionMNIST, 224 for ImageNet).
    public var imageSize = 0
    /// Validation's shorter-side resize before the centre crop (0: image_size × 256/224).
    public var valResize = 0
    /// Stop at the first undecodable image instead of skipping it.
    public var strictImages = false
    /// Gradient bucket size for the all-reduce, MiB.
    public var bucketSizeMb = 25.0
    public var syncBn = false
    /// STR and GMP weight gradients travel as their kept positions only (bit-identical on two ranks).
    public var allreduceKeptOnly = true
    /// 3×3 stride-1 convs: `auto` (Winograd F(4×4, 3×3) from 16 channels up) or `im2col`.
    public var convAlgorithm = ConvAlgorithm.auto
    /// `fp32` (the reference's arithmetic) or `bf16`: conv operands in bf16, sums and all else in fp32.
    public var precision = Precision.fp32
    /// Seconds a collective may stall before the job is aborted.
    public var stallTimeout = 300.0
    /// Train on only the first N training samples (0: all); for quick checks.
    public var trainSubset = 0
    /// Rank 0 writes every step's global loss and all-reduced floats here (and the final parameters to
    /// <step_log>.params); for checks.
    public var stepLog: String?

    public init() {}

    /// The input side in pixels, resolved for the data set (Fashion-MNIST: 32 for a CNN, the images' own 28
    /// for a model that reads rows as sequences).
    public var inputSize: Int {
        if imageSize > 0 { return imageSize }
        guard set == .fashionMNIST else { return 224 }
        return Architecture.named(arch)?.readsSequences == true ? 28 : 32
    }
}
