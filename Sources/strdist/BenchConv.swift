import ArgumentParser
import Foundation
import STRDist

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the version and what this machine gives the engine: CPU, cores, the sparse kernels' instruction set, the bf16 kernels', OpenBLAS's core.")
    func run() {
        print("strdist 0.1.0; \(MachineSummary.line)")
    }
}

struct BenchConv: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-conv",
        abstract: "Conv forward/backward GFLOP/s at ResNet50 shapes next to raw sgemm on the same sizes.")

    @Option(help: "Images per batch.") var batch = 16
    @Option(help: "Threads (engine pool; raw sgemm uses as many OpenBLAS threads).") var threads = 1
    @Option(help: "Timed repetitions per measurement (best reported).") var repeats = 5
    @Option(help: "Floats per im2col chunk (default: the engine's).") var chunkBudget: Int?
    @Flag(help: "One JSON object per line instead of a table.") var json = false

    func validate() throws {
        guard batch > 0, threads > 0, repeats > 0 else {
            throw ValidationError("--batch, --threads and --repeats must be positive")
        }
    }

    func run() throws {
        let core = BLASInfo.coreName
        let forced = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"].map { " (OPENBLAS_CORETYPE=\($0))" } ?? ""
        if let b = chunkBudget { ConvGeometry.chunkBudget = b }
        let rows = ConvBenchmark.run(batch: batch, threads: threads, repeats: repeats)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            for r in rows {
                var obj = try JSONSerialization.jsonObject(with: encoder.encode(r)) as! [String: Any]
                obj["openblas_core"] = core; obj["threads"] = threads; obj["batch"] = batch
                obj["forward_ratio"] = r.forwardRatio; obj["backward_ratio"] = r.backwardRatio
                let data = try JSONSerialization.data(withJSONObject: obj, options: .sortedKeys)
                print(String(decoding: data, as: UTF8.self))
            }
            return
        }
        print("OpenBLAS core: \(core)\(forced); batch \(batch); threads \(threads); GFLOP/s (best of \(repeats))")
        let header = "shape".padding(toLength: 26, withPad: " ", startingAt: 0)
        print("\(header)   fwd   gemm  ratio |   bwd   gemm  ratio")
        for r in rows {
            let name = r.shape.padding(toLength: 26, withPad: " ", startingAt: 0)
            print(name + String(format: " %6.1f %6.1f %5.0f%% | %6.1f %6.1f %5.0f%%", r.forwardGflops,
                                r.forwardGemmGflops, 100 * r.forwardRatio, r.backwardGflops,
                                r.backwardGemmGflops, 100 * r.backwardRatio))
        }
    }
}
