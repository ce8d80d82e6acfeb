// FNV-1a, 64-bit: the one cheap non-cryptographic hash the project uses for fingerprints (a
// checkpoint's model bytes, a data tree's folders, the set-up compared across ranks, seeds per key).

public struct FNV1a {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    public mutating func add<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        for b in bytes { value = (value ^ UInt64(b)) &* 0x100_0000_01b3 }
    }

    public mutating func add(_ text: String) { add(text.utf8) }

    public static func of<S: Sequence>(_ bytes: S) -> UInt64 where S.Element == UInt8 {
        var h = FNV1a()
        h.add(bytes)
        return h.value
    }

    public static func of(_ text: String) -> UInt64 { of(text.utf8) }
}
