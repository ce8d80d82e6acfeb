// Impossible values are refused before anything runs, one line each.

extension ConfigLoader {
    static let choices: [String: [String]] = [
        "optimizer": ["sgd", "adam"],
        "lr_policy": ["constant_lr", "cosine_lr", "multistep_lr", "efficientnet_lr"],
        "conv_type": SparseKind.allCases.map(\.rawValue),
        "bn_type": ["LearnedBatchNorm", "NonAffineBatchNorm"],
        "init": ["kaiming_normal", "signed_constant", "unsigned_constant", "standard"],
        "mode": ["fan_in", "fan_out"],
        "nonlinearity": ["relu", "linear"],
        "sparse_function": ["sigmoid"],
        "sInit_type": ["constant"],
        "set": ["FashionMNIST", "ImageNet"],
        "arch": ModelOptions.architectures,
    ]

    static func validate(_ c: Config) throws {
        let values: [String: String] = [
            "optimizer": c.optimizer, "lr_policy": c.lrPolicy, "conv_type": c.convType, "bn_type": c.bnType,
            "init": c.initialization, "mode": c.mode, "nonlinearity": c.nonlinearity,
            "sparse_function": c.sparseFunction, "sInit_type": c.sInitType, "set": c.set, "arch": c.arch,
        ]
        for (key, value) in values.sorted(by: { $0.key < $1.key }) {
            let allowed = choices[key]!
            if !allowed.contains(value) {
                throw ConfigError("config key '\(key)' has unknown value '\(value)' (did you mean '\(closest(value, in: allowed))'? allowed: \(allowed.joined(separator: ", ")))")
            }
        }
        if let f = c.firstLayerType, SparseKind(configValue: f) == nil {
            throw ConfigError("config key 'first_layer_type' has unknown value '\(f)' (did you mean '\(closest(f, in: SparseKind.allCases.map(\.rawValue)))'?)")
        }
        if ConvAlgorithm(rawValue: c.convAlgorithm) == nil {
            throw ConfigError("config key 'conv_algorithm' has unknown value '\(c.convAlgorithm)' (use \(ConvAlgorithm.allCases.map { "'\($0.rawValue)'" }.joined(separator: " or ")))")
        }
        func require(_ ok: Bool, _ key: String, _ rule: String, _ value: Any) throws {
            if !ok { throw ConfigError("config key '\(key)' must be \(rule), got \(value)") }
        }
        try require(c.lr > 0, "lr", "positive", c.lr)
        try require(c.epochs >= 0, "epochs", "0 or more", c.epochs)
        try require(c.batchSize > 0, "batch_size", "positive", c.batchSize)
        try require(c.numClasses >= 2, "num_classes", "at least 2", c.numClasses)
        try require((0..<1).contains(c.pruneRate), "prune_rate", "in [0, 1)", c.pruneRate)
        try require((0..<1).contains(c.momentum), "momentum", "in [0, 1)", c.momentum)
        try require(c.weightDecay >= 0, "weight_decay", "0 or more", c.weightDecay)
        try require((c.stDecay ?? 0) >= 0, "st_decay", "0 or more", c.stDecay ?? 0)
        try require((0..<1).contains(c.labelSmoothing ?? 0), "label_smoothing", "in [0, 1)", c.labelSmoothing ?? 0)
        try require(c.warmupLength >= 0, "warmup_length", "0 or more", c.warmupLength)
        try require(c.multistepLrAdjust > 0, "multistep_lr_adjust", "positive", c.multistepLrAdjust)
        try require(c.widthMult > 0, "width_mult", "positive", c.widthMult)
        try require(c.printFreq > 0, "print_freq", "positive", c.printFreq)
        try require(c.threads >= 0, "threads", "0 (automatic) or more", c.threads)
        try require((1...2).contains(c.stemStride), "stem_stride", "1 or 2", c.stemStride)
        try require(c.imageSize == 0 || c.imageSize >= 8, "image_size", "0 (the set's default) or at least 8", c.imageSize)
        try require(c.valResize == 0 || c.valResize >= c.inputSize, "val_resize", "0 (image_size × 256/224) or at least image_size", c.valResize)
        try require(c.bucketSizeMb > 0, "bucket_size_mb", "positive", c.bucketSizeMb)
        try require(c.stallTimeout > 0, "stall_timeout", "positive", c.stallTimeout)
        try require(c.trainSubset >= 0, "train_subset", "0 (all) or more", c.trainSubset)
        try require(c.finalPruneEpoch >= c.initPruneEpoch, "final_prune_epoch", "≥ init_prune_epoch (\(c.initPruneEpoch))",
                    c.finalPruneEpoch)
        if c.lrPolicy == "cosine_lr" {
            try require(c.epochs > c.warmupLength || c.epochs == 0, "warmup_length",
                        "smaller than epochs (\(c.epochs)) for cosine_lr", c.warmupLength)
        }
    }
}
