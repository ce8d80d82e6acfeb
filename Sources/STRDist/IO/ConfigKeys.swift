// The table of config keys: name → typed property. Names are the
// reference's (as its YAML files spell them); flags may use '-' for '_'.

enum ConfigKey {
    case int(WritableKeyPath<Config, Int>)
    case optionalInt(WritableKeyPath<Config, Int?>)
    case double(WritableKeyPath<Config, Double>)
    case optionalDouble(WritableKeyPath<Config, Double?>)
    case string(WritableKeyPath<Config, String>)
    case optionalString(WritableKeyPath<Config, String?>)
    case bool(WritableKeyPath<Config, Bool>)

    var typeName: String {
        switch self {
        case .int, .optionalInt: return "an integer"
        case .double, .optionalDouble: return "a number"
        case .string, .optionalString: return "a string"
        case .bool: return "true or false"
        }
    }

    var isBool: Bool { if case .bool = self { return true } else { return false } }

    static let table: [String: ConfigKey] = [
        "data": .string(\.data), "set": .string(\.set), "arch": .string(\.arch),
        "num_classes": .int(\.numClasses), "width_mult": .double(\.widthMult), "workers": .int(\.workers),
        "optimizer": .string(\.optimizer), "lr": .double(\.lr), "lr_policy": .string(\.lrPolicy),
        "warmup_length": .int(\.warmupLength), "multistep_lr_adjust": .int(\.multistepLrAdjust),
        "multistep_lr_gamma": .double(\.multistepLrGamma), "epochs": .int(\.epochs),
        "start_epoch": .optionalInt(\.startEpoch), "batch_size": .int(\.batchSize), "momentum": .double(\.momentum),
        "nesterov": .bool(\.nesterov), "weight_decay": .double(\.weightDecay), "no_bn_decay": .bool(\.noBnDecay),
        "label_smoothing": .optionalDouble(\.labelSmoothing),
        "conv_type": .string(\.convType), "bn_type": .string(\.bnType), "init": .string(\.initialization),
        "mode": .string(\.mode), "nonlinearity": .string(\.nonlinearity), "scale_fan": .bool(\.scaleFan),
        "sparse_function": .string(\.sparseFunction), "sInit_type": .string(\.sInitType),
        "sInit_value": .double(\.sInitValue), "st_decay": .optionalDouble(\.stDecay),
        "prune_rate": .double(\.pruneRate), "init_prune_epoch": .int(\.initPruneEpoch),
        "final_prune_epoch": .int(\.finalPruneEpoch), "first_layer_dense": .bool(\.firstLayerDense),
        "first_layer_type": .optionalString(\.firstLayerType), "last_layer_dense": .bool(\.lastLayerDense),
        "freeze_weights": .bool(\.freezeWeights),
        "config": .optionalString(\.config), "name": .optionalString(\.name), "log_dir": .optionalString(\.logDir),
        "print_freq": .int(\.printFreq), "save_every": .int(\.saveEvery), "seed": .optionalInt(\.seed),
        "resume": .optionalString(\.resume), "pretrained": .optionalString(\.pretrained),
        "evaluate": .bool(\.evaluate), "dense_conv_model": .bool(\.denseConvModel), "use_budget": .bool(\.useBudget),
        "ignore_pretrained_weights": .bool(\.ignorePretrainedWeights), "budget_file": .optionalString(\.budgetFile),
        "budget_column": .optionalString(\.budgetColumn),
        "multigpu": .optionalString(\.multigpu),
        "threads": .int(\.threads), "cifar_stem": .bool(\.cifarStem), "stem_stride": .int(\.stemStride), "image_size": .int(\.imageSize),
        "bucket_size_mb": .double(\.bucketSizeMb), "sync_bn": .bool(\.syncBn),
        "stall_timeout": .double(\.stallTimeout), "conv_algorithm": .string(\.convAlgorithm), "train_subset": .int(\.trainSubset),
        "val_resize": .int(\.valResize), "step_log": .optionalString(\.stepLog), "strict_images": .bool(\.strictImages),
    ]

    /// The reference's other spellings (argparse aliases and dest names).
    static let aliases: [String: String] = [
        "a": "arch", "j": "workers", "b": "batch_size", "p": "print_freq", "e": "evaluate",
        "learning_rate": "lr", "wd": "weight_decay", "sinit_value": "sInit_value", "sinit_type": "sInit_type",
        "lr_adjust": "multistep_lr_adjust", "lr_gamma": "multistep_lr_gamma",
    ]

    /// Reference keys accepted for compatibility that strdist does not act on.
    static let ignored: Set<String> = ["random_mask", "one_batch", "lambdas", "straight_through"]
    /// Of those, the ones the reference spells as switches (store_true).
    static let ignoredSwitches: Set<String> = ["random_mask", "one_batch", "straight_through"]

    /// The canonical key for a spelling (`sInit-value`, `batch-size`, `wd`…), or nil.
    static func canonical(_ raw: String) -> String? {
        let name = raw.replacingOccurrences(of: "-", with: "_")
        if table[name] != nil || ignored.contains(name) { return name }
        return aliases[name] ?? aliases[name.lowercased()]
    }
}

/// Edit distance, for "did you mean" hints.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.lowercased()), b = Array(b.lowercased())
    if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
    var row = Array(0...b.count)
    for i in 1...a.count {
        var prev = row[0]
        row[0] = i
        for j in 1...b.count {
            let old = row[j]
            row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1))
            prev = old
        }
    }
    return row[b.count]
}

/// The closest of `candidates` to `word`.
func closest(_ word: String, in candidates: [String]) -> String {
    candidates.min { editDistance(word, $0) < editDistance(word, $1) } ?? ""
}
