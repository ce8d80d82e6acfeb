// Where a step's time goes: layers that are handed a profile (through the
// step context) add their forward and backward seconds under a key that
// names the work (a conv's shape and algorithm, "batchnorm"). Off unless a
// benchmark asks for it; then it costs a clock read per layer call.

import Foundation

public final class StepProfile {
    public struct Entry {
        public var forward = 0.0, backward = 0.0, calls = 0
        public var total: Double { forward + backward }
    }

    /// One conv's time with its plan and its effective weight's density when it ran.
    public struct LayerEntry {
        public var order = 0, plan = ConvPlan.im2col, density = 1.0, forward = 0.0, backward = 0.0
    }

    public private(set) var entries: [String: Entry] = [:]
    public private(set) var layers: [String: LayerEntry] = [:]
    /// Each profiled conv's geometry (for cost-model fits).
    public private(set) var geometries: [String: ConvGeometry] = [:]
    public private(set) var steps = 0

    public init() {}

    @inline(__always) public static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    public func add(_ key: String, backward: Bool, since start: UInt64) {
        let s = Double(Self.now() - start) / 1e9
        var e = entries[key] ?? Entry()
        if backward { e.backward += s } else { e.forward += s; e.calls += 1 }
        entries[key] = e
    }

    /// A conv's share, under its shape key and under its own name.
    public func add(conv name: String, key: String, plan: ConvPlan, density: Double, geometry: ConvGeometry,
                    backward: Bool, since start: UInt64) {
        let s = Double(Self.now() - start) / 1e9
        geometries[name] = geometry
        add(key, backward: backward, since: start)
        var e = layers[name] ?? LayerEntry(order: layers.count)
        e.plan = plan; e.density = density
        if backward { e.backward += s } else { e.forward += s }
        layers[name] = e
    }

    /// Counts a finished step (entries are divided by it when printed).
    public func endStep() { steps += 1 }

    public func reset() { entries = [:]; layers = [:]; geometries = [:]; steps = 0 }

    /// One line per conv in forward order: its plan, density and per-step milliseconds.
    public func layerTable() -> String {
        let n = Double(max(1, steps))
        var lines = ["conv (forward order)                    plan      density    fwd ms    bwd ms"]
        for (name, e) in layers.sorted(by: { $0.value.order < $1.value.order }) {
            let label = name.count >= 38 ? name : name + String(repeating: " ", count: 38 - name.count)
            let plan = e.plan.name + String(repeating: " ", count: max(0, 9 - e.plan.name.count))
            lines.append(label + "  " + plan + String(format: " %7.2f%% %9.2f %9.2f", 100 * e.density, 1000 * e.forward / n,
                                                      1000 * e.backward / n))
        }
        return lines.joined(separator: "\n")
    }

    /// One line per key, the most expensive first, with per-step milliseconds.
    public func table(stepSeconds: Double) -> String {
        let n = Double(max(1, steps))
        func pad(_ s: String) -> String { s.count >= 44 ? s : s + String(repeating: " ", count: 44 - s.count) }
        var lines = [pad("work (per step)") + "  calls    fwd ms    bwd ms   share"]
        var covered = 0.0
        for (key, e) in entries.sorted(by: { $0.value.total > $1.value.total }) {
            covered += e.total / n
            lines.append(pad(key) + String(format: " %6d %9.1f %9.1f %6.1f%%", e.calls / max(1, steps),
                                1000 * e.forward / n, 1000 * e.backward / n, 100 * e.total / n / stepSeconds))
        }
        lines.append(pad("rest (pool, ReLU+add, loss, optimizer)")
                     + String(format: " %26.1f %6.1f%%", 1000 * (stepSeconds - covered), 100 * (1 - covered / stepSeconds)))
        return lines.joined(separator: "\n")
    }
}
