// The machine's data caches, read once, for the decisions that depend on their size: which products
// store their output past the caches (sparse kernels' SP_STREAM).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum MachineCaches {
    /// Bytes of the last-level cache: the largest one /sys/devices/system/cpu/cpu0/cache lists (the
    /// kernel's view: one CCD's 32 MiB L3 on an AMD EPYC), else sysconf's L3 or L2 (glibc sums the
    /// L3s of a whole socket there: 320 MiB on the same machine), else 32 MiB.
    public static let lastLevelBytes: Int = {
        #if os(Linux)
        if let bytes = sysfsLastLevel() { return bytes }
        for name in [Int32(_SC_LEVEL3_CACHE_SIZE), Int32(_SC_LEVEL2_CACHE_SIZE)] {
            let bytes = sysconf(name)
            if bytes > 0 { return bytes }
        }
        #endif
        return 32 << 20
    }()

    /// Whether a product writing `floats` outputs should store them past the caches: they outgrow half
    /// the last-level cache (the other half holds the operands being read), so whoever reads them next
    /// fetches most of them from memory anyway, and a store through the caches would first read every
    /// line and evict the operands still in use. Measured on ResNet50 b16 inference at the STR 90%
    /// budget (Zen 4, 32 MiB L3, 2 threads): half the L3 gave 0.293 s per batch against 0.327 s
    /// storing through the caches and 0.300 s at a quarter (medians of four runs each).
    public static func streams(floats: Int) -> Bool {
        floats * MemoryLayout<Float>.size > lastLevelBytes / 2
    }

    /// The largest "size" among /sys/devices/system/cpu/cpu0/cache/index*/ (e.g. "32768K").
    private static func sysfsLastLevel() -> Int? {
        var best: Int?
        for index in 0..<8 {
            guard let file = fopen("/sys/devices/system/cpu/cpu0/cache/index\(index)/size", "r") else { continue }
            defer { fclose(file) }
            var line = [CChar](repeating: 0, count: 64)
            guard fgets(&line, 64, file) != nil else { continue }
            let text = String(cString: line)
            let unit = text.contains("M") ? 1 << 20 : text.contains("K") ? 1 << 10 : 1
            if let n = Int(text.filter(\.isNumber)) { best = max(best ?? 0, n * unit) }
        }
        return best
    }
}
