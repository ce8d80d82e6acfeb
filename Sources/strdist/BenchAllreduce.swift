// `strdist bench-allreduce`: MPI all-reduce times at several message sizes, for α–β fits.
import ArgumentParser
import Foundation
import STRDist

struct BenchAllreduce: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-allreduce",
        abstract: "Under mpirun: median all-reduce time per message size (one JSON line per size with --json).")

    @Option(help: "Message sizes in bytes, comma-separated (K, M suffixes allowed).") var sizes = "4K,64K,1M,8M,32M"
    @Option(help: "Timed repetitions per size.") var repeats = 10
    @Option(help: "Threads spinning meanwhile on each rank (its compute, as during backward).") var busy = 0
    @Flag(help: "One JSON line per size.") var json = false

    func run() throws {
        do {
            let list = try sizes.split(separator: ",").map { word -> Int in
                let w = word.trimmingCharacters(in: .whitespaces).uppercased()
                let unit = w.hasSuffix("K") ? 1 << 10 : w.hasSuffix("M") ? 1 << 20 : 1
                guard let v = Int(unit == 1 ? w : String(w.dropLast())), v > 0, v * unit <= 1 << 31 else {
                    throw ConfigError("--sizes takes byte counts like 4K,1M,32M (at most 2G), got '\(word)'")
                }
                return v * unit
            }
            let comm = Communicator.world
            let rows = AllreduceBenchmark.run(bytes: list, repeats: max(1, repeats), busy: max(0, busy), comm: comm)
            defer { comm.finalize() }
            guard comm.isRoot else { return }
            let enc = JSONEncoder()
            enc.outputFormatting = .sortedKeys
            for r in rows {
                if json { print(String(decoding: try enc.encode(r), as: UTF8.self)) }
                else { print(String(format: "%d ranks, %10d bytes: %.6f s median", r.ranks, r.bytes, r.secondsMedian)) }
            }
        } catch { fail(error) }
    }
}
