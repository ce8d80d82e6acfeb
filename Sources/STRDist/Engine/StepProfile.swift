// Where a step's time goes: layers that are handed a profile (through the
// step context) add their forward and backward seconds under a key that
// names the work (a conv's shape and algorithm, "batchnorm"), with the bytes
// their passes sweep over activation memory (an estimate from the shapes:
// each pass counts whole, even where a channel is still in cache; ConvTraffic
// for the convs).
// Off unless a benchmark asks for it; then it costs a clock read per layer call.

import Foundation

public final class StepProfile {
    public struct Entry {
        public var forward = 0.0, backward = 0.0, calls = 0
        /// Bytes swept over activation memory, forward and backward together.
        public var bytes = 0.0
        public var total: Double { forward + backward }
    }

    /// One conv's time with its plan and its effective weight's density when it ran.
    public struct LayerEntry {
        public var order = 0, plan = ConvPlan.im2col, density = 1.0, forward = 0.0, backward = 0.0, bytes = 0.0
    }

    public private(set) var entries: [String: Entry] = [:]
    public private(set) var layers: [String: LayerEntry] = [:]
    /// Each profiled conv's geometry (for cost-model fits).
    public private(set) var geometries: [String: ConvGeometry] = [:]
    public private(set) var steps = 0

    public init() {}

    @inline(__always) public static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    public func add(_ key: String, backward: Bool, since start: UInt64, bytes: Double = 0) {
        let s = Double(Self.now() - start) / 1e9
        var e = entries[key] ?? Entry()
        if backward { e.backward += s } else { e.forward += s; e.calls += 1 }
        e.bytes += bytes
        entries[key] = e
    }

    /// A conv's share, under its shape key and under its own name.
    public func add(conv name: String, key: String, plan: ConvPlan, density: Double, geometry: ConvGeometry,
                    backward: Bool, since start: UInt64, bytes: Double) {
        let s = Double(Self.now() - start) / 1e9
        geometries[name] = geometry
        add(key, backward: backward, since: start, bytes: bytes)
        var e = layers[name] ?? LayerEntry(order: layers.count)
        e.plan = plan; e.density = density
        e.bytes += bytes
        if backward { e.backward += s } else { e.forward += s }
        layers[name] = e
    }

    /// Counts a finished step (entries are divided by it when printed).
    public func endStep() { steps += 1 }

    public func reset() { entries = [:]; layers = [:]; geometries = [:]; steps = 0 }

    /// One line per conv in forward order: its plan, density, per-step milliseconds and the activation
    /// memory its passes sweep (MB per step, and that over its time: how close it runs to the memory's speed).
    public func layerTable() -> String {
        let n = Double(max(1, steps))
        var lines = ["conv (forward order)                    plan      density    fwd ms    bwd ms   act MB   GB/s"]
        for (name, e) in layers.sorted(by: { $0.value.order < $1.value.order }) {
            let label = name.count >= 38 ? name : name + String(repeating: " ", count: 38 - name.count)
            let plan = e.plan.name + String(repeating: " ", count: max(0, 9 - e.plan.name.count))
            lines.append(label + "  " + plan + String(format: " %7.2f%% %9.2f %9.2f %8.1f %6.1f", 100 * e.density,
                                                      1000 * e.forward / n, 1000 * e.backward / n, e.bytes / n / 1e6,
                                                      Self.rate(e.bytes, e.forward + e.backward)))
        }
        return lines.joined(separator: "\n")
    }

    /// GB/s of `bytes` over `seconds` (0 when nothing was timed).
    private static func rate(_ bytes: Double, _ seconds: Double) -> Double { seconds > 0 ? bytes / seconds / 1e9 : 0 }

    /// One line per key, the most expensive first, with per-step milliseconds.
    public func table(stepSeconds: Double) -> String {
        let n = Double(max(1, steps))
        func pad(_ s: String) -> String { s.count >= 44 ? s : s + String(repeating: " ", count: 44 - s.count) }
        var lines = [pad("work (per step)") + "  calls    fwd ms    bwd ms   share   act MB   GB/s"]
        var covered = 0.0, bytes = 0.0
        for (key, e) in entries.sorted(by: { $0.value.total > $1.value.total }) {
            covered += e.total / n
            bytes += e.bytes / n
            let memory = e.bytes > 0 ? String(format: " %8.1f %6.1f", e.bytes / n / 1e6, Self.rate(e.bytes, e.total)) : ""
            lines.append(pad(key) + String(format: " %6d %9.1f %9.1f %6.1f%%", e.calls / max(1, steps),
                                1000 * e.forward / n, 1000 * e.backward / n, 100 * e.total / n / stepSeconds) + memory)
        }
        lines.append(pad("rest (unprofiled)")
                     + String(format: " %26.1f %6.1f%%", 1000 * (stepSeconds - covered), 100 * (1 - covered / stepSeconds)))
        lines.append(pad("activation memory swept, per step")
                     + String(repeating: " ", count: 35) + String(format: " %8.1f", bytes / 1e6))   // under act MB
        return lines.joined(separator: "\n")
    }
}
