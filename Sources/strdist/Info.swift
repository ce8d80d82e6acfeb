import ArgumentParser
import Foundation
import STRDist

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Parameters, FLOPs and the per-layer table of a model.")

    @Option(help: "Architecture: \(ModelOptions.architectures.joined(separator: ", ")).") var arch: String
    @Option(name: .customLong("num-classes"), help: "Classes.") var numClasses = 1000
    @Option(help: "Input side in pixels.") var size = 224
    @Flag(name: .customLong("cifar-stem"), help: "3×3/1 stem without max-pool.") var cifarStem = false
    @Option(name: .customLong("width-mult"), help: "Width multiplier.") var widthMult = 1.0
    @Flag(help: "JSON output.") var json = false

    func run() throws {
        do {
            var o = ModelOptions()
            o.arch = arch; o.numClasses = numClasses; o.smallInputStem = cifarStem; o.widthMultiplier = widthMult
            o.inputWidth = size
            if Architecture.named(arch)?.readsSequences == true { o.inputChannels = 1 }   // one-channel rows, as trained
            let model = try Model(o, threads: 1)
            model.network.plan(ActShape(channels: model.options.inputChannels, batch: 1, height: size, width: size))
            let r = model.sparsityReport()
            let total = model.layout.parameters.scalarCount
            if json {
                let layers = r.layers.map { ["name": $0.name, "params": $0.numel, "flops": $0.denseFlops] as [String: Any] }
                let obj: [String: Any] = ["arch": arch, "num_classes": numClasses, "size": size, "params": r.params,
                                          "total_params": total, "flops": r.denseFlops, "pool_flops": r.poolFlops,
                                          "layers": layers]
                let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            print("\(arch), \(numClasses) classes, \(size)×\(size): \(r.params) conv/classifier params (\(total) with BatchNorm), \(r.denseFlops) FLOPs (MACs)")
            for l in r.layers {
                print(l.name.padding(toLength: 28, withPad: " ", startingAt: 0) + String(format: " %10d params %14d FLOPs", l.numel, l.denseFlops))
            }
            print("avgpool".padding(toLength: 28, withPad: " ", startingAt: 0) + String(format: " %10d params %14d FLOPs", 0, r.poolFlops))
        } catch { fail(error) }
    }
}
