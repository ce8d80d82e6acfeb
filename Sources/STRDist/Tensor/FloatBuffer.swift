// One aligned, zero-filled allocation of Floats: the storage behind the
// parameter, gradient and optimizer arenas and the activation workspace.
// Pages are touched once here, at start-up, never inside a step.

import Foundation

/// A 64-byte aligned block of Floats, zeroed on creation and freed on deinit.
public final class FloatBuffer {
    public let count: Int
    public let base: UnsafeMutablePointer<Float>

    public init(count: Int) {
        precondition(count >= 0, "buffer size must be non-negative, got \(count)")
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride,
                                                   alignment: 64)
        base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        base.initialize(repeating: 0, count: max(count, 1))
    }

    deinit { UnsafeMutableRawPointer(base).deallocate() }

    public subscript(i: Int) -> Float {
        get { base[i] }
        set { base[i] = newValue }
    }

    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: base, count: count) }

    public func zero() { base.update(repeating: 0, count: count) }

    public func copy(from other: FloatBuffer) {
        precondition(other.count == count, "buffer sizes differ: \(other.count) vs \(count)")
        base.update(from: other.base, count: count)
    }

    public func toArray() -> [Float] { Array(buffer) }
}
