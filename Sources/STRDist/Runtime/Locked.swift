// A small value shared between threads.

import Foundation

/// A value shared between threads behind a lock.
// unchecked: `stored` is only touched under `lock` (the point of the type).
public final class Locked<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    public init(_ value: T) { stored = value }
    public var value: T { lock.lock(); defer { lock.unlock() }; return stored }
    public func set(_ v: T) { lock.lock(); stored = v; lock.unlock() }
    /// Changes the value under the lock and returns what `body` returns.
    public func update<R>(_ body: (inout T) -> R) -> R { lock.lock(); defer { lock.unlock() }; return body(&stored) }
}
