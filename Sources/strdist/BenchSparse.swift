// `strdist bench-sparse`: the density sweep (dense next to the sparse kernels at each
// sparsity, training and inference, whole steps and per conv), and `--fit` for the cost model.
import ArgumentParser
import Foundation
import STRDist

struct BenchSparse: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-sparse",
        abstract: "Time a model dense and forced sparse at several uniform sparsities; --fit the cost model to it.")

    @Option(help: "Architecture; several, comma-separated, are swept one after another (and fitted together).")
    var arch = "ResNet50"
    @Option(help: "Images per step: one for every architecture, or one per architecture, comma-separated.")
    var batch = "16"
    @Option(help: "Input side in pixels.") var size = 224
    @Option(help: "Threads.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Timed steps per setting (median).") var steps = 5
    @Option(help: "Sparsities in percent, comma-separated.") var sparsities = "0,50,70,80,90,95,98"
    @Option(name: .customLong("width-mult"), help: "Width multiplier.") var widthMult = 1.0
    @Flag(name: .customLong("cifar-stem"), help: "3×3/1 stem without max-pool.") var cifarStem = false
    @Flag(help: "Also print each conv's milliseconds.") var layers = false
    @Flag(help: "Fit SparseCostModel to the sweep and print it as JSON.") var fit = false

    func run() throws {
        do {
            let list = try sparsities.split(separator: ",").map { s -> Double in
                guard let p = Double(s.trimmingCharacters(in: .whitespaces)), (0..<100).contains(p) else {
                    throw ConfigError("--sparsities takes percentages in [0, 100), got '\(s)'")
                }
                return p / 100
            }
            let archs = arch.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let batches = try batch.split(separator: ",").map { s -> Int in
                guard let b = Int(s.trimmingCharacters(in: .whitespaces)), b > 0 else {
                    throw ConfigError("--batch takes positive image counts, comma-separated, got '\(s)'")
                }
                return b
            }
            guard batches.count == 1 || batches.count == archs.count else {
                throw ConfigError("--batch gives \(batches.count) sizes for \(archs.count) architectures: give one, or one per architecture")
            }
            var sweeps: [SparseSweep] = []
            for (i, a) in archs.enumerated() {
                sweeps.append(try sweep(a, batch: batches.count == 1 ? batches[0] : batches[i], list))
            }
            if fit {
                let enc = JSONEncoder()
                enc.outputFormatting = [.sortedKeys]
                print(String(decoding: try enc.encode(SparseCostModel.fit(sweeps)), as: UTF8.self))
            }
        } catch { fail(error) }
    }

    /// One model's sweep, printed as it goes.
    func sweep(_ arch: String, batch: Int, _ list: [Double]) throws -> SparseSweep {
        print("\(arch) batch \(batch) at \(size)×\(size), \(threads) thread(s), OpenBLAS \(BLASInfo.coreName), sparse kernels \(SparseISA.name)")
        let sweep = try SparseBenchmark.sweep(arch: arch, batch: batch, size: size, threads: threads, steps: steps,
                                              sparsities: list, widthMultiplier: widthMult, cifarStem: cifarStem,
                                              log: { print($0); fflush(stdout) })
        print(String(format: "%-10@ %12@ %9@ %12@ %9@", "sparsity", "train s", "speed-up", "inference s", "speed-up"))
        print(String(format: "%-10@ %12.3f %9@ %12.3f %9@", "dense", sweep.denseTrain, "1.00×", sweep.denseEval, "1.00×"))
        for (i, p) in list.enumerated() {
            print(String(format: "%-10@ %12.3f %8.2f× %12.3f %8.2f×", String(format: "%.0f%%", 100 * p), sweep.sparseTrain[i],
                         sweep.denseTrain / sweep.sparseTrain[i], sweep.sparseEval[i], sweep.denseEval / sweep.sparseEval[i]))
        }
        if layers {
            for l in sweep.layers {
                let cells = l.sparseTotal.map { String(format: "%7.2f", $0) }.joined(separator: " ")
                print(String(format: "%-26@ dense %7.2f | sparse ", l.name, l.denseTotal) + cells)
            }
        }
        return sweep
    }
}
