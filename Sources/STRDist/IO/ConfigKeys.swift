// The table of config keys: name → typed property and the values it may
// take. Names are the reference's (as its YAML files spell them); flags may
// use '-' for '_'. Every number is checked against its key's range where it
// enters (ConfigLoader.set), so nothing downstream sees NaN, ±inf or an
// integer that wrapped.

enum ConfigKey {
    case int(WritableKeyPath<Config, Int>, ClosedRange<Int>)
    case optionalInt(WritableKeyPath<Config, Int?>, ClosedRange<Int>)
    case double(WritableKeyPath<Config, Double>, Interval)
    case optionalDouble(WritableKeyPath<Config, Double?>, Interval)
    case string(WritableKeyPath<Config, String>)
    case optionalString(WritableKeyPath<Config, String?>)
    case bool(WritableKeyPath<Config, Bool>)
    /// One of a set of values (a ConfigChoice, or a registered name).
    case choice(ChoiceKey)

    /// A choice key's parse and print, over the type its property has.
    struct ChoiceKey {
        /// The canonical spellings, for messages.
        let choices: () -> [String]
        /// Sets the property from a spelling (nil: YAML null); false when the value is not a choice.
        let parse: (inout Config, String?) -> Bool
        /// The value as settings.txt writes it (nil: null).
        let text: (Config) -> String?
    }

    static func choice<T: ConfigChoice>(_ p: WritableKeyPath<Config, T>) -> ConfigKey {
        .choice(ChoiceKey(choices: { T.configChoices }, parse: { c, s in
            guard let s, let v = T(configValue: s) else { return false }
            c[keyPath: p] = v
            return true
        }, text: { $0[keyPath: p].configValue }))
    }

    static func optionalChoice<T: ConfigChoice>(_ p: WritableKeyPath<Config, T?>) -> ConfigKey {
        .choice(ChoiceKey(choices: { T.configChoices }, parse: { c, s in
            guard let s else { c[keyPath: p] = nil; return true }
            guard let v = T(configValue: s) else { return false }
            c[keyPath: p] = v
            return true
        }, text: { $0[keyPath: p]?.configValue }))
    }

    /// A string that must be one of `names` (read when parsing: a registry may grow).
    static func registered(_ p: WritableKeyPath<Config, String>, _ names: @escaping () -> [String]) -> ConfigKey {
        .choice(ChoiceKey(choices: names, parse: { c, s in
            guard let s, names().contains(s) else { return false }
            c[keyPath: p] = s
            return true
        }, text: { $0[keyPath: p] }))
    }

    var typeName: String {
        switch self {
        case .int(_, let r), .optionalInt(_, let r): return "an integer in \(r.lowerBound)…\(r.upperBound)"
        case .double(_, let i), .optionalDouble(_, let i): return "\(i)"
        case .string, .optionalString: return "a string"
        case .bool: return "true or false"
        case .choice(let k): return "one of \(k.choices().joined(separator: ", "))"
        }
    }

    var isBool: Bool { if case .bool = self { return true } else { return false } }

    /// Epoch counts and other step-like integers: far beyond any run, far below overflow.
    static let epochRange = 0...1_000_000

    static let table: [String: ConfigKey] = [
        // Data and model
        "data": .string(\.data), "set": .choice(\.set), "arch": .registered(\.arch, { Architecture.names }),
        "num_classes": .optionalInt(\.numClasses, 2...1_000_000),
        "width_mult": .double(\.widthMult, .init(above: 0, upTo: 64)),
        "hidden_size": .int(\.hiddenSize, 1...65_536), "wRank": .optionalInt(\.wRank, 1...65_536),
        "uRank": .optionalInt(\.uRank, 1...65_536),
        "workers": .int(\.workers, 0...1024),
        // Optimisation
        "optimizer": .choice(\.optimizer), "lr": .double(\.lr, .positive), "lr_policy": .choice(\.lrPolicy),
        "warmup_length": .int(\.warmupLength, epochRange), "multistep_lr_adjust": .int(\.multistepLrAdjust, 1...1_000_000),
        "multistep_lr_gamma": .double(\.multistepLrGamma, .nonNegative), "epochs": .int(\.epochs, epochRange),
        "start_epoch": .optionalInt(\.startEpoch, epochRange), "batch_size": .int(\.batchSize, 1...(1 << 24)),
        "momentum": .double(\.momentum, .unitOpen), "nesterov": .bool(\.nesterov),
        "weight_decay": .double(\.weightDecay, .nonNegative), "no_bn_decay": .bool(\.noBnDecay),
        "label_smoothing": .optionalDouble(\.labelSmoothing, .unitOpen),
        // Sparsity
        "conv_type": .choice(\.convType), "bn_type": .choice(\.bnType), "init": .choice(\.initialization),
        "mode": .choice(\.mode), "nonlinearity": .choice(\.nonlinearity), "scale_fan": .bool(\.scaleFan),
        "sparse_function": .choice(\.sparseFunction), "sInit_type": .choice(\.sInitType),
        "sInit_value": .double(\.sInitValue, .finite), "st_decay": .optionalDouble(\.stDecay, .nonNegative),
        "target_sparsity": .optionalDouble(\.targetSparsity, .unitOpen), "target_schedule": .choice(\.targetSchedule),
        "prune_rate": .double(\.pruneRate, .unitOpen), "init_prune_epoch": .int(\.initPruneEpoch, epochRange),
        "final_prune_epoch": .int(\.finalPruneEpoch, epochRange), "first_layer_dense": .bool(\.firstLayerDense),
        "first_layer_type": .optionalChoice(\.firstLayerType), "last_layer_dense": .bool(\.lastLayerDense),
        "freeze_weights": .bool(\.freezeWeights),
        // Runs, checkpoints, workflows
        "config": .optionalString(\.config), "name": .optionalString(\.name), "log_dir": .optionalString(\.logDir),
        "print_freq": .int(\.printFreq, 1...Int(Int32.max)), "save_every": .int(\.saveEvery, -1...1_000_000),
        "seed": .optionalInt(\.seed, 0...Int.max),
        "resume": .optionalString(\.resume), "pretrained": .optionalString(\.pretrained),
        "evaluate": .bool(\.evaluate), "dense_conv_model": .bool(\.denseConvModel), "use_budget": .bool(\.useBudget),
        "ignore_pretrained_weights": .bool(\.ignorePretrainedWeights), "budget_file": .optionalString(\.budgetFile),
        "budget_column": .optionalString(\.budgetColumn),
        "multigpu": .optionalString(\.multigpu),
        // strdist's own
        "threads": .int(\.threads, 0...64), "cifar_stem": .bool(\.cifarStem), "stem_stride": .int(\.stemStride, 1...2),
        "image_size": .int(\.imageSize, 0...16_384), "val_resize": .int(\.valResize, 0...65_536),
        "bucket_size_mb": .double(\.bucketSizeMb, .init(above: 0, upTo: 4096)), "sync_bn": .bool(\.syncBn),
        "allreduce_kept_only": .bool(\.allreduceKeptOnly),
        "stall_timeout": .double(\.stallTimeout, .init(above: 0, upTo: 1e7)),
        "conv_algorithm": .choice(\.convAlgorithm), "precision": .choice(\.precision), "train_subset": .int(\.trainSubset, 0...(1 << 40)),
        "step_log": .optionalString(\.stepLog), "strict_images": .bool(\.strictImages),
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

    /// "did you mean …" for an unknown spelling: the closest key or alias (one-letter aliases
    /// are left out: every short typo is near them), named as the key it stands for.
    static func suggestion(for raw: String) -> String {
        let word = raw.replacingOccurrences(of: "-", with: "_")
        let spellings = Array(table.keys) + aliases.keys.filter { $0.count > 1 }
        let best = closest(word, in: spellings.sorted())
        guard let key = aliases[best] else { return "'\(best)'" }
        return "'\(key)', also spelt '\(best.replacingOccurrences(of: "_", with: "-"))'"
    }
}

/// The values a floating-point key may take; never NaN or ±inf.
struct Interval: CustomStringConvertible {
    var lower = -Double.greatestFiniteMagnitude, lowerOpen = false
    var upper = Double.greatestFiniteMagnitude, upperOpen = false

    static let finite = Interval()
    static let positive = Interval(lower: 0, lowerOpen: true)
    static let nonNegative = Interval(lower: 0)
    /// [0, 1): rates and fractions.
    static let unitOpen = Interval(lower: 0, upper: 1, upperOpen: true)

    init(lower: Double = -.greatestFiniteMagnitude, lowerOpen: Bool = false,
         upper: Double = .greatestFiniteMagnitude, upperOpen: Bool = false) {
        self.lower = lower; self.lowerOpen = lowerOpen; self.upper = upper; self.upperOpen = upperOpen
    }

    /// (lower, upper].
    init(above lower: Double, upTo upper: Double) { self.init(lower: lower, lowerOpen: true, upper: upper) }

    func contains(_ x: Double) -> Bool {
        x.isFinite && (lowerOpen ? x > lower : x >= lower) && (upperOpen ? x < upper : x <= upper)
    }

    /// "a finite number in [0, 1)", "a positive finite number", …
    var description: String {
        let big = Double.greatestFiniteMagnitude
        switch (lower, upper) {
        case (-big, big): return "a finite number"
        case (0, big): return lowerOpen ? "a positive finite number" : "a finite number, 0 or more"
        default:
            return "a finite number in \(lowerOpen ? "(" : "[")\(Self.text(lower)), \(Self.text(upper))\(upperOpen ? ")" : "]")"
        }
    }

    private static func text(_ x: Double) -> String { x == x.rounded() && abs(x) < 1e15 ? "\(Int(x))" : "\(x)" }
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

/// The closest of `candidates` to `word`: one it begins (a value cut short), else the fewest edits away.
func closest(_ word: String, in candidates: [String]) -> String {
    let w = word.lowercased()
    if w.count >= 3, let started = candidates.first(where: { $0.lowercased().hasPrefix(w) }) { return started }
    return candidates.min { editDistance(word, $0) < editDistance(word, $1) } ?? ""
}
