// Logits of a checkpoint on a given batch: the model the config describes,
// its weights from a safetensors file (strict), an NCHW input, eval mode
// (BatchNorm running statistics). Used by `strdist predict` and by the
// PyTorch interoperability check (scripts/interop/check_pytorch.py).

public enum Inference {
    /// - Parameters:
    ///   - input: NCHW floats, `shape` [N, 3, H, W] (H == W).
    /// - Returns: logits, [N, num_classes] row-major.
    public static func logits(config: Config, checkpoint: String, input: [Float], shape: [Int]) throws -> [Float] {
        guard shape.count == 4, shape[1] == 3, shape[2] == shape[3], shape.reduce(1, *) == input.count, shape[0] > 0 else {
            throw ConfigError("the input must be an [N, 3, S, S] float tensor, got shape \(shape)")
        }
        let model = try Model(config.modelOptions, threads: max(1, config.threads))
        let net = model.network
        net.plan(ActShape(channels: 3, batch: shape[0], height: shape[2], width: shape[3]))
        try Checkpoint.loadModel(checkpoint, into: net.store)
        net.parametersChanged()
        input.withUnsafeBufferPointer { Layout.nchwToCNHW($0.baseAddress!, net.input, net.inputRef.shape) }
        net.forward(training: false)
        let (n, k) = (shape[0], net.classes)
        return (0..<n * k).map { net.logits[($0 % k) * n + $0 / k] }   // ours are class-major [K, N]
    }
}
