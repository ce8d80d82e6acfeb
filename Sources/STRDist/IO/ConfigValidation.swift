// Impossible combinations are refused before anything runs, one line each;
// odd but legal ones become warnings the job prints at start.

extension ConfigLoader {
    static func validate(_ c: Config) throws {
        if let name = c.name {
            // The run's folder and runs/layerwise_*/<name>.json are named by it: NAME_MAX (255 bytes) less ".json".
            guard name.utf8.count <= 250 else {
                throw ConfigError("config key 'name' is \(name.utf8.count) bytes long, more than a file name may be (250 bytes: it names the run's folder and its '<name>.json' reports): '\(name.prefix(24))…' — choose a shorter name")
            }
            if name.isEmpty || name.contains("/") || name == "." || name == ".." || name.contains("\0") {
                throw ConfigError("config key 'name' ('\(name)') must be a plain folder name — no '/', not '.' or '..' — since it names the run's folder under log_dir (use log_dir to choose where runs go)")
            }
        }
        func require(_ ok: Bool, _ key: String, _ rule: String, _ value: Any) throws {
            if !ok { throw ConfigError("config key '\(key)' must be \(rule), got \(value)") }
        }
        // Each value's own range is checked as it is read (ConfigKey.table); these relate keys.
        try require(c.imageSize == 0 || c.imageSize >= 8, "image_size", "0 (the set's default) or at least 8", c.imageSize)
        try require(c.valResize == 0 || c.valResize >= c.inputSize, "val_resize", "0 (image_size × 256/224) or at least image_size", c.valResize)
        try require(c.finalPruneEpoch >= c.initPruneEpoch, "final_prune_epoch", "≥ init_prune_epoch (\(c.initPruneEpoch))",
                    c.finalPruneEpoch)
        if let p = c.targetSparsity {
            try require(c.convType == .str, "conv_type", "STRConv with target_sparsity (it steers STR's threshold decay; GMP and DNW take prune_rate)", c.convType)
            try require(c.optimizer == .sgd, "optimizer", "sgd with target_sparsity (the threshold decay it steers is SGD's)", c.optimizer)
            try require(c.sgdSettings.thresholdDecayInEffect > 0, "st_decay", "positive with target_sparsity (the controller scales it; unset, weight_decay is used)", c.stDecay ?? c.weightDecay)
            let suggestion = c.initPruneEpoch < c.epochs ? "try \(max(c.initPruneEpoch, c.epochs * 6 / 10))"
                : "and init_prune_epoch (\(c.initPruneEpoch)) must be too: try init_prune_epoch 0 and final_prune_epoch \(c.epochs * 6 / 10)"
            try require(c.epochs == 0 || c.finalPruneEpoch < c.epochs, "final_prune_epoch",
                        "below epochs (\(c.epochs)) with target_sparsity: the set point reaches \(p) at the end of epoch final_prune_epoch (\(suggestion))",
                        c.finalPruneEpoch)
        }
    }
}

extension Config {
    /// The rules that need the world and the data, in one place, checked once when both are known: the
    /// global batch must split evenly over the ranks and fit in the training set; num_classes must cover
    /// the data's classes (more is a warning), and unset it becomes their count. Returns the config with
    /// num_classes resolved.
    public func resolved(world: Int, samples: Int, classes: Int, print: (String) -> Void, warn: (String) -> Void) throws -> Config {
        guard batchSize % world == 0 else {
            throw ConfigError("config key 'batch_size' (\(batchSize), the global batch) must divide evenly over the \(world) ranks (try \(max(world, batchSize / world * world)))")
        }
        guard samples >= batchSize else {
            throw ConfigError("config key 'batch_size' (\(batchSize)) is larger than the \(samples) training samples")
        }
        var c = self
        if let k = numClasses {
            guard k >= classes else {
                throw ConfigError("config key 'num_classes' is \(k) but \(set) at '\(data)' has \(classes) classes (set num_classes: \(classes), or leave it out to take the data's)")
            }
            if k > classes { warn("num_classes \(k) is more than the \(classes) classes of the data: \(k - classes) outputs never see a label") }
        } else {
            c.numClasses = classes
            print("=> num_classes: \(classes), the class count of \(set) at '\(data)'")
        }
        return c
    }

    /// Legal settings worth a line at start: what the run will do that its author may not expect.
    public var warnings: [String] {
        var lines: [String] = []
        if warmupLength > 0 && warmupLength >= epochs && epochs > 0 && lrPolicy != .multistep {
            lines.append("warmup_length (\(warmupLength)) is not shorter than epochs (\(epochs)): the whole run warms up, lr·(e+1)/\(warmupLength) as in the reference")
        }
        return lines
    }
}
