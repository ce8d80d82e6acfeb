// The parameter table: every learnable tensor (and every BatchNorm buffer)
// gets a PyTorch state_dict key, a shape and an offset into one flat arena.
// Gradients and optimizer state use the identical layout, so the optimizer
// and the all-reduce are one loop / one call over one buffer.

/// Which optimizer group a parameter belongs to (DESIGN.md: three groups).
public enum ParameterGroup: String, Sendable {
    /// Conv and classifier weights and biases: `weight_decay`.
    case weight
    /// BatchNorm affine weight and bias: decay 0 with `no_bn_decay`.
    case batchNorm
    /// STR's learned `sparseThreshold`: `st_decay` when set.
    case threshold
    /// Not trained: BatchNorm running statistics and counters.
    case buffer
}

/// How a tensor is stored in a checkpoint (the arena itself is all Float).
public enum StoredType: String, Sendable { case float32 = "F32", int64 = "I64" }

/// One named tensor in an arena.
public struct ParameterEntry: Sendable {
    public let key: String
    public let shape: [Int]
    public let offset: Int
    public let count: Int
    public let group: ParameterGroup
    public let storedType: StoredType
}

/// Key → (offset, shape) for one arena, in registration order.
public final class ParameterTable {
    public private(set) var entries: [ParameterEntry] = []
    public private(set) var count = 0
    private var index: [String: Int] = [:]

    public init() {}

    /// Registers a tensor and returns its offset. Offsets are 16-float aligned.
    @discardableResult
    public func add(_ key: String, shape: [Int], group: ParameterGroup,
                    storedType: StoredType = .float32) -> Int {
        precondition(index[key] == nil, "parameter key '\(key)' registered twice")
        precondition(shape.allSatisfy { $0 > 0 }, "parameter '\(key)' has a non-positive dimension: \(shape)")
        let n = shape.reduce(1, *)
        let offset = count
        entries.append(ParameterEntry(key: key, shape: shape, offset: offset, count: n,
                                      group: group, storedType: storedType))
        index[key] = entries.count - 1
        count = offset + (n + 15) / 16 * 16
        return offset
    }

    public subscript(key: String) -> ParameterEntry? { index[key].map { entries[$0] } }

    /// Number of scalars (not counting alignment padding).
    public var scalarCount: Int { entries.reduce(0) { $0 + $1.count } }
}

/// The arenas of a model: parameters with their gradients, and buffers.
public final class ParameterStore {
    public let parameters: ParameterTable
    public let buffers: ParameterTable
    public let values: FloatBuffer
    public let grads: FloatBuffer
    public let bufferValues: FloatBuffer

    public init(parameters: ParameterTable, buffers: ParameterTable) {
        self.parameters = parameters
        self.buffers = buffers
        values = FloatBuffer(count: parameters.count)
        grads = FloatBuffer(count: parameters.count)
        bufferValues = FloatBuffer(count: buffers.count)
    }

    public func value(_ key: String) -> UnsafeMutableBufferPointer<Float> {
        if let e = parameters[key] { return UnsafeMutableBufferPointer(start: values.base + e.offset, count: e.count) }
        guard let e = buffers[key] else { preconditionFailure("no parameter or buffer named '\(key)'") }
        return UnsafeMutableBufferPointer(start: bufferValues.base + e.offset, count: e.count)
    }

    public func grad(_ key: String) -> UnsafeMutableBufferPointer<Float> {
        guard let e = parameters[key] else { preconditionFailure("no parameter named '\(key)'") }
        return UnsafeMutableBufferPointer(start: grads.base + e.offset, count: e.count)
    }
}

/// Parameter and buffer tables being filled while a model is built.
public final class ParameterLayout {
    public let parameters = ParameterTable()
    public let buffers = ParameterTable()
    public init() {}
}
