import ArgumentParser
import Foundation
import STRDist

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time full training steps (or inference with --eval) on synthetic data.")

    @Option(help: "Architecture.") var arch = "ResNet18"
    @Option(help: "Conv kind: DenseConv, STRConv, DNWConv, GMPConv.") var conv = "DenseConv"
    @Option(help: "Images per step.") var batch = 32
    @Option(help: "Input side in pixels.") var size = 224
    @Option(help: "Threads.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Timed steps (median reported).") var steps = 10
    @Option(name: .customLong("num-classes"), help: "Classes.") var numClasses = 1000
    @Option(name: .customLong("width-mult"), help: "Width multiplier.") var widthMult = 1.0
    @Flag(name: .customLong("cifar-stem"), help: "3×3/1 stem without max-pool.") var cifarStem = false
    @Option(name: .customLong("stem-stride"), help: "Stride of the CIFAR-style stem.") var stemStride = 1
    @Flag(help: "Time inference instead of training.") var eval = false
    @Flag(help: "One JSON line.") var json = false
    @Flag(help: "Also print where the step's time goes, per conv shape and BatchNorm.") var profile = false
    @Option(name: .customLong("conv-algorithm"), help: "auto (per layer, by the cost model), im2col, winograd (every 3×3 stride-1 conv) or sparse.")
    var convAlgorithm = "auto"
    @Option(help: "fp32, or bf16: conv operands in bfloat16 with fp32 sums (needs AVX512_BF16).") var precision = "fp32"
    @Option(name: .customLong("bucket-mb"), help: "Gradient bucket size under mpirun, MiB.") var bucketMiB = 25.0
    @Flag(name: .customLong("dense-allreduce"), help: "Under mpirun: all-reduce STR/GMP weight gradients whole, not their kept positions.")
    var denseAllreduce = false
    @Option(help: "Put every sparse-kind layer at this sparsity before timing (0.9 or 90 for 90%).") var sparsity: Double?
    @Option(name: [.customLong("budget-file"), .customLong("budget_file")],
            help: "Per-layer sparsities from a CSV (e.g. ../shared/reference/SparsityDistributions_90_ResNet50.csv).")
    var budgetFile: String?
    @Option(name: [.customLong("budget-column"), .customLong("budget_column")], help: "The CSV's column (default: the first).")
    var budgetColumn: String?

    func run() throws {
        do {
            let kind = try SparseKind.parse(conv, flag: "--conv")
            let algorithm = try ConvAlgorithm.parse(convAlgorithm, flag: "--conv-algorithm")
            let arithmetic = try Precision.parse(precision, flag: "--precision")
            var choice: SparsityChoice?
            if let p = sparsity {
                let fraction = p > 1 ? p / 100 : p
                guard (0..<1).contains(fraction) else { throw ConfigError("--sparsity must be in [0, 1) or [0, 100), got \(p)") }
                choice = .uniform(fraction)
            }
            if let path = budgetFile {
                guard choice == nil else { throw ConfigError("give --sparsity or --budget-file, not both") }
                choice = .budget(path: path, column: budgetColumn)
            }
            guard batch > 0, size >= 8, threads > 0, steps > 0 else {
                throw ConfigError("--batch, --threads and --steps must be positive and --size at least 8")
            }
            let stepProfile = profile ? StepProfile() : nil
            let r = try StepBenchmark.run(arch: arch, kind: kind, batch: batch, size: size, classes: numClasses,
                                          threads: threads, steps: steps, eval: eval, widthMultiplier: widthMult,
                                          cifarStem: cifarStem, stemStride: stemStride, algorithm: algorithm,
                                          profile: stepProfile,
                                          bucketMiB: bucketMiB, sparsity: choice, keptOnlyAllreduce: !denseAllreduce,
                                          precision: arithmetic)
            defer { Communicator.world.finalize() }
            guard Communicator.world.isRoot else { return }
            if json {
                let enc = JSONEncoder()
                enc.outputFormatting = .sortedKeys
                print(String(decoding: try enc.encode(r), as: UTF8.self))
            } else {
                print(String(format: "%@ %@ (%@, %@) batch %d at %d×%d, %d thread(s), OpenBLAS %@: %@ step %.3f s median (min %.3f), %.1f images/s, peak RSS %.0f MiB",
                             arch, kind.rawValue, algorithm.rawValue, arithmetic.rawValue, batch, size, size, threads, r.openblasCore, r.mode, r.stepSecondsMedian,
                             r.stepSecondsMin, r.imagesPerSecond, r.peakRssMb))
                if let p = stepProfile { print(p.table(stepSeconds: r.stepSecondsMedian)); print(p.layerTable()) }
                if r.ranks > 1 {
                    print(String(format: "  %d ranks × batch %d: %.1f images/s in all; all-reduce %.1f MiB and %.3f s per step, exposed %.3f s (%.1f%% of the step)",
                                 r.ranks, batch, r.imagesPerSecond, r.allreduceMiB, r.allreduceSecondsMedian, r.exposedSecondsMedian,
                                 100 * r.exposedSecondsMedian / r.stepSecondsMedian))
                }
            }
        } catch { fail(error) }
    }
}
