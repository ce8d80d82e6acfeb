// What this machine gives the engine, in one line for test logs and reports: the CPU, the cores
// online, the instruction set the sparse kernels dispatch to, the bf16 kernels' body (and whether
// precision: bf16 can run here), and the core OpenBLAS loaded (and whether OPENBLAS_CORETYPE chose it). Figures are only comparable with this line beside them.

import Foundation

public enum MachineSummary {
    /// The CPU's model name as the kernel reports it ("AMD EPYC 9R14 96-Core Processor"), or "unknown".
    public static var cpuModel: String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
              let colon = line.firstIndex(of: ":") else { return "unknown" }
        return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }

    /// "OpenBLAS core Cooperlake (its own choice)" or "… (forced by OPENBLAS_CORETYPE=Haswell)".
    public static var blas: String {
        let forced = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"].map { "forced by OPENBLAS_CORETYPE=\($0)" }
        return "OpenBLAS core \(BLASInfo.coreName) (\(forced ?? "its own choice"))"
    }

    /// "bf16 avx512_bf16" where precision: bf16 runs; "bf16 portable only (no AVX512_BF16: precision fp32 here)" elsewhere.
    public static var bf16: String {
        let amx = BFloat16.cpuHasAMX ? ", AMX-BF16 present (unused)" : ""
        return BFloat16.cpuHasArithmetic ? "bf16 \(BFloat16.isa)\(amx)" : "bf16 portable only (no AVX512_BF16: precision fp32 here)"
    }

    public static var line: String {
        "CPU \(cpuModel), \(CoreBudget.online) core(s) online, last-level cache \(MachineCaches.lastLevelBytes >> 20) MiB; "
            + "sparse kernels \(SparseISA.name); \(bf16); \(blas)"
    }
}
