// The cores this process may use, as a scheduler sees them: its affinity mask
// (what mpirun --bind-to, srun --cpu-bind or taskset gave it) and its cgroup's
// CPU quota (a SLURM or container limit), whichever is smaller. `threads: 0`
// takes its share of these, not of the machine.

import Foundation

public enum CoreBudget {
    /// CPUs in this process's affinity mask (the kernel's Cpus_allowed_list, e.g. "0-3,8").
    public static var affinity: Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }) else { return online }
        return max(1, cpuCount(String(line.dropFirst("Cpus_allowed_list:".count))))
    }

    /// The CPUs a list like "0-3,8,10-11" names.
    static func cpuCount(_ list: String) -> Int {
        list.trimmingCharacters(in: .whitespaces).split(separator: ",").reduce(0) { n, part in
            let bounds = part.split(separator: "-").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            return n + (bounds.count == 2 ? max(0, bounds[1] - bounds[0] + 1) : bounds.count)
        }
    }

    /// CPUs the machine has online.
    /// (sysconf, not Foundation's activeProcessorCount: on cgroup v1 that already folds in a CPU quota,
    /// which `quota` counts on its own.)
    public static var online: Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    /// The cgroup's CPU quota in whole CPUs (rounded up), or nil when unlimited.
    public static var quota: Int? {
        func read(_ path: String) -> String? {
            (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if let v2 = read("/sys/fs/cgroup/cpu.max")?.split(separator: " "), v2.count == 2,
           let q = Double(v2[0]), let p = Double(v2[1]), q > 0, p > 0 {
            return max(1, Int((q / p).rounded(.up)))
        }
        if let q = read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").flatMap(Double.init),
           let p = read("/sys/fs/cgroup/cpu/cpu.cfs_period_us").flatMap(Double.init), q > 0, p > 0 {
            return max(1, Int((q / p).rounded(.up)))
        }
        return nil
    }

    /// The cores one of `localRanks` ranks on this machine should use. A rank bound to fewer cores
    /// than the machine has owns its mask; an unbound one shares the machine (or its quota).
    public static func share(localRanks: Int) -> Int {
        let mask = affinity, limit = min(mask, quota ?? mask)
        if mask < online { return max(1, limit) }
        return max(1, limit / max(1, localRanks))
    }
}
