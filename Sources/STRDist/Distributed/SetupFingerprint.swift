// Ranks started with different configs (a stale copy of the YAML on one node, a different
// `--arch` in one srun line) would run different collectives and die inside MPI with memory
// errors. So at start every rank hashes what must agree — the config's training keys, then the
// model's tensors — and one small all-gather compares the hashes; a rank that differs from rank 0
// is named before anything else happens.

import Foundation

public enum SetupFingerprint {
    /// Keys that may differ between ranks: where each finds its data, its threads, where rank 0 writes.
    static let perRankKeys: Set<String> = ["data", "threads", "workers", "log_dir", "name", "print_freq"]

    /// FNV-1a of the resolved config without the per-rank keys.
    public static func of(_ config: Config) -> Int64 {
        let lines = config.settingsText.split(separator: "\n").filter { line in
            !perRankKeys.contains(String(line.prefix { $0 != ":" }))
        }
        return hash(lines.joined(separator: "\n"))
    }

    /// FNV-1a of every parameter's and buffer's key and shape, in registration order.
    public static func of(_ store: ParameterStore) -> Int64 {
        hash((store.parameters.entries + store.buffers.entries).map { "\($0.key)\($0.shape)" }.joined(separator: ";"))
    }

    /// Ends the run with a ConfigError naming the ranks whose `fingerprint` is not rank 0's.
    public static func verify(_ fingerprint: Int64, _ what: String, _ comm: Communicator) throws {
        guard comm.size > 1 else { return }
        let all = comm.allgather(fingerprint)
        let differ = (1..<comm.size).filter { all[$0] != all[0] }
        guard differ.isEmpty else {
            throw ConfigError("\(Communicator.ranks(differ)) started with a different \(what) than rank 0 (every rank must get the same config file and flags; compare their command lines and the YAML each node reads)")
        }
    }

    static func hash(_ text: String) -> Int64 { Int64(bitPattern: FNV1a.of(text)) }
}
