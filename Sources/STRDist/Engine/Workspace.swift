// Activation memory, planned once per batch shape. Planning walks the model
// in forward order: every activation gets a value region and (when a
// gradient flows into it) a gradient region; layers keep the offsets. Scratch
// (im2col columns, per-thread partial sums) is shared by all layers, sized to
// the largest request. After planning, one allocation holds it all, so a
// training step allocates nothing.
//
// A gradient region read by several consumers (a residual input) must be
// summed: in backward the first consumer to run overwrites it and the others
// accumulate. Backward runs in reverse plan order, so the consumer planned
// last overwrites.

/// A planned activation: its shape, value offset and optional gradient offset.
public struct ActRef: Sendable {
    public let shape: ActShape
    public let value: Int
    /// nil when no gradient is needed for this activation (the network input).
    public let grad: Int?
}

/// Handle for one consumer's use of an activation's gradient.
public struct GradUse: Sendable {
    public let id: Int
    public static let none = GradUse(id: -1)
}

/// Records regions during planning; `Workspace` allocates them.
public final class WorkspacePlanner {
    public let threads: Int
    /// The batch's sample groups, for a model whose layers never mix samples (nil otherwise).
    public let groups: SampleGroups?
    private(set) var total = 0
    private(set) var scratchPerThread = 0
    private(set) var sharedScratch = 0
    /// For each gradient use: the activation's gradient offset.
    private var uses: [Int] = []
    /// The dataflow, by value offset: the layer that writes each activation (in planning order) and
    /// those that read it — what the fusions are planned from (Network.planPasses).
    private var producerOf: [Int: AnyObject] = [:]
    private(set) var producers: [AnyObject] = []
    private var readersOf: [Int: [AnyObject]] = [:]

    public init(threads: Int, groups: SampleGroups? = nil) { self.threads = threads; self.groups = groups }

    /// Int32 regions, bound to Int32 when the workspace is allocated.
    private(set) var intRegions: [(offset: Int, count: Int)] = []

    /// bf16 elements planned: regions, then each thread's bf16 scratch (a separate block, bound to UInt16).
    private(set) var halfTotal = 0
    private(set) var halfScratchPerThread = 0

    /// Reserves `count` bf16 elements that live for the whole step (64-byte aligned).
    public func halfRegion(_ count: Int) -> WorkspaceRegion<UInt16> {
        let offset = halfTotal
        halfTotal += (count + 31) / 32 * 32
        return WorkspaceRegion(offset)
    }

    /// Asks for `count` bf16 elements of scratch per thread (reused by every layer).
    public func scratch(perThreadHalves count: Int) {
        halfScratchPerThread = max(halfScratchPerThread, (count + 31) / 32 * 32)
    }

    /// Reserves `count` floats that live for the whole step.
    public func region(_ count: Int) -> WorkspaceRegion<Float> { WorkspaceRegion(words(count)) }

    /// Reserves `count` Int32s that live for the whole step (bound to Int32 in the allocated workspace).
    public func intRegion(_ count: Int) -> WorkspaceRegion<Int32> {
        let offset = words(count)
        intRegions.append((offset, count))
        return WorkspaceRegion(offset)
    }

    /// `count` 4-byte words, 64-byte aligned; returns their offset.
    private func words(_ count: Int) -> Int {
        let offset = total
        total += (count + 15) / 16 * 16
        return offset
    }

    public func activation(_ shape: ActShape, needsGrad: Bool = true) -> ActRef {
        let value = words(shape.count)
        return ActRef(shape: shape, value: value, grad: needsGrad ? words(shape.count) : nil)
    }

    /// Records that `layer` writes `ref` (layers that take part in fusions say so).
    public func produced(_ ref: ActRef, by layer: AnyObject) {
        producerOf[ref.value] = layer
        producers.append(layer)
    }

    /// The layer that writes `ref`, when one said so.
    public func producer(of ref: ActRef) -> AnyObject? { producerOf[ref.value] }

    /// Every layer that reads `ref`, in planning order.
    public func readers(of ref: ActRef) -> [AnyObject] { readersOf[ref.value] ?? [] }

    /// Declares that `reader` reads `input` and will write its gradient (when it has one).
    public func use(_ input: ActRef, by reader: AnyObject) -> GradUse {
        readersOf[input.value, default: []].append(reader)
        guard let g = input.grad else { return .none }
        uses.append(g)
        return GradUse(id: uses.count - 1)
    }

    /// Asks for `count` floats of scratch per thread (reused by every layer).
    public func scratch(perThread count: Int) { scratchPerThread = max(scratchPerThread, (count + 15) / 16 * 16) }

    /// Asks for `count` floats of scratch shared by all threads.
    public func scratch(shared count: Int) { sharedScratch = max(sharedScratch, (count + 15) / 16 * 16) }

    /// Floats the workspace will hold: every region plus each thread's scratch and the shared scratch.
    public var floats: Int { total + scratchPerThread * threads + sharedScratch }

    /// Bytes of both blocks: the floats and the bf16 elements (regions and each thread's scratch).
    public var bytes: Int { 4 * floats + 2 * (halfTotal + threads * halfScratchPerThread) }

    /// Whether each use accumulates: all but the last use of a gradient region do.
    func accumulateFlags() -> [Bool] {
        var seen = Set<Int>()
        var flags = [Bool](repeating: false, count: uses.count)
        for i in stride(from: uses.count - 1, through: 0, by: -1) {
            flags[i] = !seen.insert(uses[i]).inserted
        }
        return flags
    }
}

/// The planned memory: activations, gradients and scratch in one block.
public final class Workspace {
    public let memory: FloatBuffer
    public let scratchPerThread: Int
    public let sharedScratch: Int
    private let scratchBase: Int
    private let accumulate: [Bool]
    public let threads: Int
    /// The bf16 block: regions, then per-thread scratch (empty unless a layer runs bf16 products).
    private let halves: UnsafeMutablePointer<UInt16>
    private let halfCount: Int
    public let halfScratchPerThread: Int
    private let halfScratchBase: Int

    public init(_ planner: WorkspacePlanner) {
        halfScratchPerThread = planner.halfScratchPerThread
        halfScratchBase = planner.halfTotal
        halfCount = planner.halfTotal + planner.threads * planner.halfScratchPerThread
        halves = UnsafeMutableRawPointer.allocate(byteCount: max(64, halfCount * 2), alignment: 64)
            .bindMemory(to: UInt16.self, capacity: max(32, halfCount))
        halves.initialize(repeating: 0, count: halfCount)
        threads = planner.threads
        scratchPerThread = planner.scratchPerThread
        sharedScratch = planner.sharedScratch
        scratchBase = planner.total
        accumulate = planner.accumulateFlags()
        memory = FloatBuffer(count: planner.floats)
        for r in planner.intRegions {
            UnsafeMutableRawPointer(memory.base + r.offset).bindMemory(to: Int32.self, capacity: r.count)
        }
    }

    /// A Float region's memory.
    @inline(__always) public func pointer(_ r: WorkspaceRegion<Float>) -> UnsafeMutablePointer<Float> { memory.base + r.offset }

    /// An Int32 region's memory (bound to Int32 since the workspace was allocated).
    @inline(__always) public func pointer(_ r: WorkspaceRegion<Int32>) -> UnsafeMutablePointer<Int32> {
        UnsafeMutableRawPointer(memory.base + r.offset).assumingMemoryBound(to: Int32.self)
    }

    /// A bf16 region's memory.
    @inline(__always) public func pointer(_ r: WorkspaceRegion<UInt16>) -> UnsafeMutablePointer<UInt16> { halves + r.offset }

    /// Thread 0's bf16 scratch; thread t's starts t · halfScratchPerThread further.
    public var halfScratch: UnsafeMutablePointer<UInt16> { halves + halfScratchBase }

    deinit { halves.deallocate() }

    @inline(__always) public func value(_ ref: ActRef) -> UnsafeMutablePointer<Float> { memory.base + ref.value }

    /// The gradient region of `ref`, or nil when it has none.
    @inline(__always) public func grad(_ ref: ActRef) -> UnsafeMutablePointer<Float>? {
        ref.grad.map { memory.base + $0 }
    }

    /// Whether the consumer holding `use` adds to the gradient instead of overwriting it.
    @inline(__always) public func accumulates(_ use: GradUse) -> Bool { use.id >= 0 && accumulate[use.id] }

    /// Thread `t`'s private scratch.
    @inline(__always) public func scratch(thread t: Int) -> UnsafeMutablePointer<Float> {
        memory.base + scratchBase + t * scratchPerThread
    }

    /// Scratch shared by all threads.
    public var shared: UnsafeMutablePointer<Float> { memory.base + scratchBase + threads * scratchPerThread }

    public var bytes: Int { memory.count * MemoryLayout<Float>.stride + halfCount * 2 }
}
