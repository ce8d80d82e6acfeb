// Where a layer's memory lives, as typed handles: one type per address space,
// so an offset into one arena cannot be used in another (`ctx.region(weight)`
// does not compile). The parameter and gradient arenas share one layout, so
// a ParameterRef addresses both. Workspace regions carry their element type:
// Int32 regions (a compressed weight's indices) are bound to Int32 when the
// workspace is allocated, so no Int32 is ever stored through Float-bound
// memory.

/// A tensor in the parameter arena; its gradient sits at the same offset in the gradient arena.
public struct ParameterRef: Hashable, Sendable {
    public let offset: Int
    public init(_ offset: Int) { self.offset = offset }
}

/// A tensor in the buffer arena (BatchNorm's running statistics, a sparse kind's own state).
public struct BufferRef: Hashable, Sendable {
    public let offset: Int
    public init(_ offset: Int) { self.offset = offset }
}

/// `Element`s planned in the step's workspace (offset in 4-byte words from the workspace's start).
public struct WorkspaceRegion<Element>: Hashable, Sendable {
    public let offset: Int
    init(_ offset: Int) { self.offset = offset }
    /// Not planned yet.
    public static var none: WorkspaceRegion { WorkspaceRegion(-1) }
}

extension ParameterLayout {
    /// Registers a learnable tensor.
    public func parameter(_ key: String, shape: [Int], group: ParameterGroup) -> ParameterRef {
        ParameterRef(parameters.add(key, shape: shape, group: group))
    }

    /// Registers a buffer (saved and loaded, never trained).
    public func buffer(_ key: String, shape: [Int], storedType: StoredType = .float32) -> BufferRef {
        BufferRef(buffers.add(key, shape: shape, group: .buffer, storedType: storedType))
    }
}
