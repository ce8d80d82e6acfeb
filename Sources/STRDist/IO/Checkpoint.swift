// Checkpoints: the model as `<base>.safetensors` (PyTorch state_dict keys,
// so `safetensors.torch.load_file` + `load_state_dict` take it as is) and the
// training state as `<base>.state` (also safetensors: the optimizer's buffers
// under `<buffer name>.<parameter key>`, and in its metadata the epoch, the
// optimizer's step count, the best accuracies, the seed, world size and the
// resolved config). Both are written atomically; the state names a checksum
// of its model file, so a pair from two different saves is refused.

import Foundation

public struct TrainingState: Sendable, Equatable {
    /// Epochs finished: training resumes at this epoch.
    public var epoch = 0
    public var optimizerSteps = 0
    public var bestTop1 = 0.0, bestTop5 = 0.0, bestTrainTop1 = 0.0, bestTrainTop5 = 0.0
    public var seed = 0
    public var worldSize = 1
    public var settings = ""
    /// Each conv's kernels (d dense, s sparse) when saved: the per-layer plan's hysteresis state,
    /// restored so a resumed run picks the plans the uninterrupted one would.
    public var plans = ""
    /// Saved inside an epoch (preemption): the next batch and the meters so far; nil at an epoch's end.
    public var position: EpochPosition?
    /// Saved inside an epoch on several ranks: every rank's buffers (rank-major), since each rank's
    /// BatchNorm running statistics are its own until the epoch ends; empty otherwise.
    public var rankBuffers: [Float] = []
    /// `target_sparsity`'s controller when the run has one.
    public var controller: SparsityController.State?
    /// The conv operands' precision the run trained in (its weights and state are fp32 either way, so
    /// a run may resume in the other one).
    public var precision = Precision.fp32

    public init() {}
}

public enum Checkpoint {
    /// `<base>.safetensors` and `<base>.state` for a base path or either file's path.
    public static func paths(_ path: String) -> (model: String, state: String) {
        var base = path
        for ext in [".safetensors", ".state"] where base.hasSuffix(ext) { base.removeLast(ext.count) }
        return (base + ".safetensors", base + ".state")
    }

    /// The model's tensors: every parameter and buffer under its state_dict key.
    public static func modelTensors(_ store: ParameterStore) -> [SafeTensor] {
        var out = store.parameters.entries.map { SafeTensor.float32($0.key, shape: $0.shape, store.values.base + $0.offset, count: $0.count) }
        for e in store.buffers.entries {
            let p = store.bufferValues.base + e.offset
            if e.storedType == .int64 {
                var v = (0..<e.count).map { Int64(p[$0]) }
                out.append(SafeTensor(name: e.key, dtype: "I64", shape: e.shape, bytes: Data(bytes: &v, count: e.count * 8)))
            } else {
                out.append(.float32(e.key, shape: e.shape, p, count: e.count))
            }
        }
        return out
    }

    /// Writes the model file and the state that names it (both staged first: a failure replaces neither).
    public static func save(_ base: String, store: ParameterStore, optimizer: any Optimizer, state: TrainingState) throws {
        let (modelPath, statePath) = paths(base)
        let model = SafeTensors.encode(modelTensors(store), metadata: ["format": "pt"])
        var tensors: [SafeTensor] = []
        for (name, buffer) in optimizer.stateBuffers {
            for e in store.parameters.entries {
                tensors.append(.float32("\(name).\(e.key)", shape: e.shape, buffer.base + e.offset, count: e.count))
            }
        }
        if !state.rankBuffers.isEmpty {
            tensors.append(SafeTensor(name: "rank_buffers", dtype: "F32", shape: [state.worldSize, state.rankBuffers.count / state.worldSize],
                                      bytes: state.rankBuffers.withUnsafeBytes { Data($0) }))
        }
        var meta = [
            "format": "strdist-state-1", "epoch": "\(state.epoch)", "optimizer_steps": "\(state.optimizerSteps)",
            "best_acc1": "\(state.bestTop1)", "best_acc5": "\(state.bestTop5)",
            "best_train_acc1": "\(state.bestTrainTop1)", "best_train_acc5": "\(state.bestTrainTop5)",
            "seed": "\(state.seed)", "world_size": "\(state.worldSize)", "settings": state.settings,
            "plans": state.plans, "precision": state.precision.rawValue,
        ]
        if let p = state.position {
            meta["batch"] = "\(p.batch)"
            meta["meters"] = [p.loss.sum, p.loss.count, p.top1.sum, p.top1.count, p.top5.sum, p.top5.count]
                .map { "\($0)" }.joined(separator: " ")
        }
        if let c = state.controller { meta["sparsity_controller"] = c.text }
        meta["model_checksum"] = checksum(model)
        // Both files are written out before either replaces the previous save's.
        let stagedModel = try AtomicFile.stage(model, to: modelPath)
        let stagedState: AtomicFile.Staged
        do { stagedState = try AtomicFile.stage(SafeTensors.encode(tensors, metadata: meta), to: statePath) } catch {
            stagedModel.discard()
            throw error
        }
        try stagedModel.commit()
        try stagedState.commit()
    }

    /// Reads a safetensors model file, with a hint when it is missing.
    public static func readModel(_ path: String) throws -> (tensors: [SafeTensor], bytes: Data) {
        let file = paths(path).model
        guard let data = FileManager.default.contents(atPath: file) else {
            throw SafeTensorsError("checkpoint '\(file)' cannot be read (check the path; a run's checkpoints are in <run>/checkpoints/)")
        }
        return (try SafeTensors.decode(data, what: file).tensors, data)
    }

    /// Loads a model file into `store`. Strict: every key present with its shape, no extra key
    /// (`allowMissing` keys may be absent, e.g. thresholds when the file is a dense model).
    public static func loadModel(_ path: String, into store: ParameterStore, allowMissing: (String) -> Bool = { _ in false }) throws {
        let (tensors, _) = try readModel(path)
        try load(tensors, into: store, what: paths(path).model, allowMissing: allowMissing)
    }

    static func load(_ tensors: [SafeTensor], into store: ParameterStore, what: String,
                     allowMissing: (String) -> Bool = { _ in false }) throws {
        let byName = Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let entries = store.parameters.entries + store.buffers.entries
        let known = Set(entries.map(\.key))
        let missing = entries.map(\.key).filter { byName[$0] == nil && !allowMissing($0) }
        let extra = tensors.map(\.name).filter { !known.contains($0) }
        let misShaped = entries.compactMap { e -> String? in
            guard let t = byName[e.key], t.shape.reduce(1, *) != e.count || (t.shape != e.shape && !(e.shape.isEmpty && t.shape.isEmpty)) else { return nil }
            return "\(e.key) \(t.shape) (model: \(e.shape))"
        }
        let integral = entries.compactMap { e in byName[e.key].flatMap { integerWhereFloatBelongs($0, e) } }
        let problems = [listed("missing", missing), listed("unexpected", extra), listed("mis-shaped", misShaped),
                        listed("stored as integers where floats belong", integral)].compactMap { $0 }
        if !problems.isEmpty {
            throw SafeTensorsError("checkpoint '\(what)' does not fit this model — " + problems.joined(separator: "; ") +
                                   " (same arch, width_mult, num_classes, conv_type and bn_type as the run that wrote it?)")
        }
        for e in store.parameters.entries { if let t = byName[e.key] { copy(t, to: store.values.base + e.offset) } }
        for e in store.buffers.entries { if let t = byName[e.key] { copy(t, to: store.bufferValues.base + e.offset) } }
    }

    /// "N what: a, b, c, d, …", or nil for no keys.
    static func listed(_ what: String, _ keys: [String]) -> String? {
        keys.isEmpty ? nil : "\(keys.count) \(what): " + keys.prefix(4).joined(separator: ", ") + (keys.count > 4 ? ", …" : "")
    }

    /// "key (I32)" when `t` holds integers where `e` keeps floats (a parameter or running statistic): values
    /// convert by dtype (F64, F16, BF16 to float), but an integer tensor there is not a checkpoint of this model.
    static func integerWhereFloatBelongs(_ t: SafeTensor, _ e: ParameterEntry) -> String? {
        !t.isFloatingPoint && e.storedType != .int64 ? "\(e.key) (\(t.dtype))" : nil
    }

    static func copy(_ t: SafeTensor, to p: UnsafeMutablePointer<Float>) {
        let v = t.floats()
        for i in 0..<v.count { p[i] = v[i] }
    }

    /// Loads model and training state for resuming; optimizer buffers are restored in place.
    public static func resume(_ path: String, store: ParameterStore, optimizer: any Optimizer) throws -> TrainingState {
        let (modelPath, statePath) = paths(path)
        let (tensors, modelBytes) = try readModel(modelPath)
        guard let data = FileManager.default.contents(atPath: statePath) else {
            throw SafeTensorsError("training state '\(statePath)' cannot be read: resuming needs it beside the model file (use --pretrained to start from weights alone)")
        }
        let (stateTensors, meta) = try SafeTensors.decode(data, what: statePath)
        guard meta["format"] == "strdist-state-1" else {
            throw SafeTensorsError("'\(statePath)' is not a strdist training state (format \(meta["format"] ?? "none"))")
        }
        guard meta["model_checksum"] == checksum(modelBytes) else {
            throw SafeTensorsError("'\(statePath)' belongs to another save than '\(modelPath)' (a crash between the two writes?); resume from another checkpoint")
        }
        try load(tensors, into: store, what: modelPath)
        let byName = Dictionary(stateTensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for (name, buffer) in optimizer.stateBuffers {
            for e in store.parameters.entries {
                guard let t = byName["\(name).\(e.key)"], t.shape == e.shape else {
                    throw SafeTensorsError("training state '\(statePath)' lacks \(name).\(e.key) (written by another optimizer?)")
                }
                guard t.isFloatingPoint else {
                    throw SafeTensorsError("training state '\(statePath)' stores \(name).\(e.key) as \(t.dtype), not floats (not a strdist state?)")
                }
                copy(t, to: buffer.base + e.offset)
            }
        }
        var s = TrainingState()
        func number(_ key: String, _ range: ClosedRange<Double>) throws -> Double {
            guard let v = meta[key].flatMap(Double.init) else { throw SafeTensorsError("training state '\(statePath)' lacks '\(key)'") }
            guard v.isFinite, range.contains(v) else {
                throw SafeTensorsError("training state '\(statePath)' has \(key) \(meta[key]!), outside \(Int(range.lowerBound))…\(Int(range.upperBound)) (a damaged or hand-edited file: resume from another checkpoint)")
            }
            return v
        }
        func integer(_ key: String, _ range: ClosedRange<Double>) throws -> Int {
            let v = try number(key, range)
            guard v == v.rounded() else { throw SafeTensorsError("training state '\(statePath)' has \(key) \(meta[key]!), not a whole number (a damaged or hand-edited file)") }
            return Int(v)
        }
        s.epoch = try integer("epoch", 0...1e9); s.optimizerSteps = try integer("optimizer_steps", 0...1e15)
        s.bestTop1 = try number("best_acc1", 0...100); s.bestTop5 = try number("best_acc5", 0...100)
        s.bestTrainTop1 = try number("best_train_acc1", 0...100); s.bestTrainTop5 = try number("best_train_acc5", 0...100)
        s.seed = try integer("seed", -9.2e18...9.2e18); s.worldSize = try integer("world_size", 1...1e7)
        s.settings = meta["settings"] ?? ""
        s.plans = meta["plans"] ?? ""
        // Saved before precision existed: fp32, the only one then.
        guard let precision = Precision(rawValue: meta["precision"] ?? "fp32") else {
            throw SafeTensorsError("training state '\(statePath)' has precision '\(meta["precision"]!)' (fp32 or bf16 expected: a damaged or hand-edited file)")
        }
        s.precision = precision
        if let b = meta["batch"] {
            let m = (meta["meters"] ?? "").split(separator: " ").compactMap { Double($0) }
            guard let batch = Int(b), batch > 0, batch < 1 << 40, m.count == 6, m.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                throw SafeTensorsError("training state '\(statePath)' has a broken position inside its epoch (batch '\(b)')")
            }
            var p = EpochPosition(epoch: s.epoch, batch: batch)
            p.loss = (m[0], m[1]); p.top1 = (m[2], m[3]); p.top5 = (m[4], m[5])
            s.position = p
        }
        if let text = meta["sparsity_controller"] {
            guard let c = SparsityController.State(text: text) else {
                throw SafeTensorsError("training state '\(statePath)' has a broken sparsity controller state ('\(text)'): resume from another checkpoint")
            }
            s.controller = c
        }
        if let t = byName["rank_buffers"] {
            guard t.dtype == "F32", t.shape == [s.worldSize, store.bufferValues.count] else {
                throw SafeTensorsError("training state '\(statePath)' has rank_buffers of shape \(t.shape) \(t.dtype), not [\(s.worldSize), \(store.bufferValues.count)] F32")
            }
            s.rankBuffers = t.floats()
        }
        optimizer.steps = s.optimizerSteps
        return s
    }

    /// FNV-1a of the bytes, as hex.
    static func checksum(_ data: Data) -> String {
        String(data.withUnsafeBytes { FNV1a.of($0) }, radix: 16)
    }
}
