// One aligned, zero-filled allocation of Floats: the storage behind the
// parameter, gradient and optimizer arenas and the activation workspace.
// Pages are touched once here, at start-up, never inside a step. Blocks of
// 4 MiB and more are 2 MiB aligned and asked to be backed by huge pages
// (madvise): kernels that walk rows hundreds of KB apart (sparse operands,
// im2col columns, channel planes) would otherwise miss the TLB on every row.

import Foundation

/// A 64-byte aligned block of Floats, zeroed on creation and freed on deinit.
public final class FloatBuffer {
    public let count: Int
    public let base: UnsafeMutablePointer<Float>

    public init(count: Int) {
        precondition(count >= 0, "buffer size must be non-negative, got \(count)")
        self.count = count
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        let huge = bytes >= Self.hugeThreshold
        var raw: UnsafeMutableRawPointer?
        let status = posix_memalign(&raw, huge ? Self.hugePage : 64, huge ? (bytes + Self.hugePage - 1) / Self.hugePage * Self.hugePage : bytes)
        precondition(status == 0 && raw != nil, "cannot allocate \(bytes) bytes (posix_memalign: \(status))")
        if huge { _ = madvise(raw, (bytes + Self.hugePage - 1) / Self.hugePage * Self.hugePage, MADV_HUGEPAGE) }
        base = raw!.bindMemory(to: Float.self, capacity: max(count, 1))
        base.initialize(repeating: 0, count: max(count, 1))
    }

    static let hugePage = 1 << 21, hugeThreshold = 1 << 22

    deinit { free(base) }

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
