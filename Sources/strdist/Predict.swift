// `strdist predict`: a checkpoint's logits on an input batch (safetensors in, safetensors out).
import ArgumentParser
import Foundation
import STRDist

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Logits of a checkpoint on a batch: --input holds a float tensor 'input' [N, C, S, S]; --out gets 'logits' [N, K].",
        discussion: "The model comes from --config FILE and any --key value overrides, as for training.")

    @Option(help: "Model weights (.safetensors).") var checkpoint: String
    @Option(help: "safetensors file with the NCHW tensor 'input'.") var input: String
    @Option(help: "Where the logits go (safetensors).") var out: String
    @Argument(parsing: .captureForPassthrough, help: "--config FILE and --key value overrides.") var words: [String] = []

    func run() throws {
        do {
            let config = try ConfigLoader.load(arguments: words)
            guard let data = FileManager.default.contents(atPath: input) else {
                throw ConfigError("input '\(input)' cannot be read")
            }
            guard let x = try SafeTensors.decode(data, what: input).tensors.first(where: { $0.name == "input" && $0.dtype == "F32" }) else {
                throw ConfigError("input '\(input)' has no F32 tensor named 'input'")
            }
            let logits = try Inference.logits(config: config, checkpoint: checkpoint, input: x.floats(), shape: x.shape)
            let n = x.shape[0]
            try logits.withUnsafeBufferPointer { p in
                let t = SafeTensor.float32("logits", shape: [n, logits.count / n], p.baseAddress!, count: logits.count)
                try AtomicFile.write(SafeTensors.encode([t]), to: out)
            }
        } catch { fail(error) }
    }
}
