// What a run will allocate, worked out before anything large is: the
// parameter arenas (values, gradients, optimizer state, BatchNorm buffers),
// the planned workspace (activations, their gradients, scratch) and the
// loader's batch buffers — so a width_mult, image_size, batch_size or
// threads that cannot fit is one line at start, not an out-of-memory kill
// minutes later. The model is built as a skeleton (layers and layout, no
// arenas) and planned exactly as Network.plan plans it.

import Foundation

public struct MemoryPlan: Sendable {
    public var parameterBytes = 0
    public var workspaceBytes = 0
    public var loaderBytes = 0
    public var totalBytes: Int { parameterBytes + workspaceBytes + loaderBytes }

    /// Plans whose stem output alone passes this many bytes are refused without planning: below it
    /// the exact plan's sizes (at most a few thousand times the stem's) stay far from Int overflow.
    static let roughLimit = Double(1 << 50)

    /// - Parameters:
    ///   - optimizerCopies: arenas the optimizer keeps beside the parameters (SGD 1, Adam 2).
    ///   - loaderBatches: batch buffers the loaders keep (prefetch depth of train + validation).
    public static func estimate(_ options: ModelOptions, input: ActShape, threads: Int, optimizerCopies: Int,
                                loaderBatches: Int) throws -> MemoryPlan {
        let layout = ParameterLayout()
        let (layers, _) = try Model.layers(options, layout)
        // One rank's groups: the most gradient leaves a layout of this batch plans.
        let groups = Architecture.named(options.arch)?.samplesIndependent == true ? SampleGroups(localBatch: input.batch, ranks: 1) : nil
        let planner = WorkspacePlanner(threads: threads, groups: groups)
        _ = Sequential(layers).plan(planner.activation(input, needsGrad: false), planner)
        for pass_ in Model.planPasses { pass_(planner) }
        var plan = MemoryPlan()
        plan.parameterBytes = 4 * (layout.parameters.count * (2 + optimizerCopies) + layout.buffers.count)
        plan.workspaceBytes = planner.bytes
        plan.loaderBytes = 4 * input.count * loaderBatches
        return plan
    }

    /// Throws, naming what it would need and what the machine has, when `ranksHere` ranks of
    /// this plan cannot fit in this machine's memory (its cgroup limit when lower).
    public static func check(_ options: ModelOptions, input: ActShape, threads: Int, optimizerCopies: Int,
                             loaderBatches: Int, ranksHere: Int = 1, what: String) throws {
        let machine = MachineMemory.bytes
        // The stem's output alone (≥ 8·w/3 input batches, MobileNetV1's) bounds the plan from below;
        // past 1 PiB the exact plan is not worked out (its integer sizes could overflow).
        let stemBytes = Double(input.count) * 4 * max(1, 8 * options.widthMultiplier / 3)
        if stemBytes > roughLimit {
            throw ConfigError("\(what) needs more than \(MachineMemory.text(Int(roughLimit))) per rank but this machine has \(MachineMemory.text(machine)): lower batch_size, image_size or width_mult")
        }
        let plan = try estimate(options, input: input, threads: threads, optimizerCopies: optimizerCopies,
                                loaderBatches: loaderBatches)
        guard plan.totalBytes * ranksHere > machine else { return }
        let perRank = ranksHere > 1 ? " per rank × \(ranksHere) ranks on this machine" : ""
        throw ConfigError("\(what) needs \(MachineMemory.text(plan.totalBytes))\(perRank) (parameters and optimizer state \(MachineMemory.text(plan.parameterBytes)), activations and scratch \(MachineMemory.text(plan.workspaceBytes)), input batches \(MachineMemory.text(plan.loaderBytes))) but this machine has \(MachineMemory.text(machine)): lower batch_size, image_size, width_mult or threads")
    }
}

/// The memory this process may use: physical memory, or the cgroup's limit when lower.
public enum MachineMemory {
    public static var bytes: Int {
        let physical = Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
        let limits = ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"].compactMap { path in
            (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        return ([physical] + limits.filter { $0 > 0 }).min()!
    }

    /// "23.4 GiB", "512.0 MiB".
    public static func text(_ bytes: Int) -> String {
        let gib = Double(bytes) / Double(1 << 30)
        if gib >= 1024 { return String(format: "%.1f TiB", gib / 1024) }
        return gib >= 1 ? String(format: "%.1f GiB", gib) : String(format: "%.1f MiB", Double(bytes) / Double(1 << 20))
    }
}
