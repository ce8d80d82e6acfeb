// Logits of a checkpoint on a given batch: the model the config describes,
// its weights from a safetensors file (strict), an NCHW input, eval mode
// (BatchNorm running statistics). Used by `strdist predict` and by the
// PyTorch interoperability check (scripts/interop/check_pytorch.py).

public enum Inference {
    /// - Parameters:
    ///   - input: NCHW floats, `shape` [N, 3, H, W] (H == W).
    /// - Returns: logits, [N, num_classes] row-major.
    public static func logits(config: Config, checkpoint: String, input pixels: [Float], shape: [Int]) throws -> [Float] {
        guard shape.count == 4, shape[1] > 0, shape[2] == shape[3], SafeTensors.elementCount(shape) == pixels.count, shape[0] > 0 else {
            throw ConfigError("the input must be an [N, C, S, S] float tensor, got shape \(shape)")
        }
        let (tensors, _) = try Checkpoint.readModel(checkpoint)
        var options = config.modelOptions
        options.inputChannels = shape[1]
        options.inputWidth = shape[3]
        if config.numClasses == nil, let fc = tensors.first(where: { $0.name == "fc.weight" || $0.name == "classifier.weight" }),
           let k = fc.shape.first {
            options.numClasses = k   // unset: the checkpoint's classifier decides
        }
        let threads = max(1, config.threads)
        let input = ActShape(channels: shape[1], batch: shape[0], height: shape[2], width: shape[3])
        try MemoryPlan.check(options, input: input, threads: threads, optimizerCopies: 0, loaderBatches: 0,
                             what: "predicting \(config.arch) on \(shape[0]) images of \(shape[2])×\(shape[3])")
        let model = try Model(options, threads: threads)
        let net = model.network
        net.plan(input)
        try Checkpoint.load(tensors, into: net.store, what: Checkpoint.paths(checkpoint).model)
        net.parametersChanged()
        pixels.withUnsafeBufferPointer { Layout.nchwToCNHW($0.baseAddress!, net.input, net.inputRef.shape) }
        net.forward(training: false)
        let (n, k) = (shape[0], net.classes)
        return (0..<n * k).map { net.logits[($0 % k) * n + $0 / k] }   // ours are class-major [K, N]
    }
}
