// TensorBoard event files, written by hand: a TFRecord stream
// (length u64 LE, masked CRC-32C of the length, the bytes, masked CRC-32C of
// the bytes) of `Event` protocol buffers — wall_time (1, double), step
// (2, int64), file_version (3, string) for the first record, and summary
// (5) holding values {tag (1, string), simple_value (2, float)}. The reader
// parses the same subset back, for tests and for `strdist` tools.

import Foundation

public final class EventWriter {
    public let path: String
    private let fd: Int32
    /// Told once when a record cannot be written (a full disk), and once when writing works again:
    /// events are logs, so the run goes on without them.
    private let warn: (String) -> Void
    private var failing = false

    private static let serial = Locked(0)

    /// Creates `<dir>/events.out.tfevents.<seconds>.<host>.<pid>.<n>` with its version record
    /// (a resumed run adds a file beside the earlier one; TensorBoard reads them all).
    public init(directory dir: String, warn: @escaping (String) -> Void = Warnings.standardError) throws {
        self.warn = warn
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
        let n = Self.serial.update { $0 += 1; return $0 }
        path = dir + "/events.out.tfevents.\(Int(Date().timeIntervalSince1970)).\(host).\(getpid()).\(n)"
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard fd >= 0 else {
            throw AtomicFile.WriteError(description: "cannot create TensorBoard file '\(path)': \(String(cString: strerror(errno)))")
        }
        var event = Proto()
        event.double(1, Date().timeIntervalSince1970)
        event.bytes(3, Data("brain.Event:2".utf8))
        write(event.data)
    }

    deinit { close(fd) }

    /// One scalar per tag at `step`, in one event.
    public func scalars(_ values: [(tag: String, value: Double)], step: Int) {
        var summary = Proto()
        for (tag, value) in values {
            var v = Proto()
            v.bytes(1, Data(tag.utf8))
            v.float(2, Float(value))
            summary.bytes(1, v.data)
        }
        var event = Proto()
        event.double(1, Date().timeIntervalSince1970)
        event.varint(2, UInt64(bitPattern: Int64(step)))
        event.bytes(5, summary.data)
        write(event.data)
    }

    public func flush() { _ = fsync(fd) }

    private func write(_ record: Data) {
        var out = Data()
        var length = UInt64(record.count).littleEndian
        let lengthBytes = withUnsafeBytes(of: &length) { Data($0) }
        out.append(lengthBytes)
        appendLE(&out, CRC32C.masked(lengthBytes))
        out.append(record)
        appendLE(&out, CRC32C.masked(record))
        // Whole records or none: a failed write is cut back, so the file stays readable.
        do {
            try AppendFile.write(out, fd: fd, path: path)
            if failing { failing = false; warn("TensorBoard events are written again to '\(path)'") }
        } catch {
            if !failing { failing = true; warn("\(error); TensorBoard events are skipped until writing works again (training goes on)") }
        }
    }
}

/// Scalars read back from an event file: tag → [(step, value)].
public enum EventReader {
    public static func scalars(_ path: String) throws -> [String: [(step: Int, value: Float)]] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AtomicFile.WriteError(description: "cannot read '\(path)'")
        }
        var out: [String: [(step: Int, value: Float)]] = [:]
        var at = 0
        while at < data.count {
            guard at + 12 <= data.count else { throw bad(path, "truncated record header at byte \(at)") }
            let lengthBytes = data.subdata(in: at..<(at + 8))
            // A length past Int's range (found by fuzzing) is as wrong as one past the file's end.
            let n = Int(clamping: lengthBytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
            guard readLE(data, at + 8) == CRC32C.masked(lengthBytes), n <= data.count - at - 16 else {
                throw bad(path, "bad length record at byte \(at)")
            }
            let record = data.subdata(in: (at + 12)..<(at + 12 + n))
            guard readLE(data, at + 12 + n) == CRC32C.masked(record) else { throw bad(path, "bad CRC at byte \(at)") }
            at += 16 + n
            var step = 0
            var summaries: [Data] = []
            for (field, value) in try Proto.fields(record) {
                if field == 2, case .varint(let v) = value { step = Int(Int64(bitPattern: v)) }
                if field == 5, case .bytes(let d) = value { summaries.append(d) }
            }
            for s in summaries {
                for (f, v) in try Proto.fields(s) where f == 1 {
                    guard case .bytes(let valueBytes) = v else { continue }
                    var tag = "", number: Float?
                    for (g, w) in try Proto.fields(valueBytes) {
                        if g == 1, case .bytes(let t) = w { tag = String(decoding: t, as: UTF8.self) }
                        if g == 2, case .fixed32(let bits) = w { number = Float(bitPattern: bits) }
                    }
                    if let number { out[tag, default: []].append((step, number)) }
                }
            }
        }
        return out
    }

    static func bad(_ path: String, _ why: String) -> Error {
        AtomicFile.WriteError(description: "'\(path)' is not a valid TensorBoard event file: \(why)")
    }
}

/// The little protobuf encoder/decoder the event files need.
struct Proto {
    var data = Data()

    enum Value { case varint(UInt64), fixed64(UInt64), fixed32(UInt32), bytes(Data) }

    mutating func key(_ field: Int, _ wire: UInt64) { putVarint(UInt64(field) << 3 | wire) }
    mutating func putVarint(_ v: UInt64) {
        var v = v
        while v >= 0x80 { data.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        data.append(UInt8(v))
    }
    mutating func varint(_ field: Int, _ v: UInt64) { key(field, 0); putVarint(v) }
    mutating func double(_ field: Int, _ v: Double) { key(field, 1); appendLE(&data, v.bitPattern) }
    mutating func float(_ field: Int, _ v: Float) { key(field, 5); appendLE(&data, v.bitPattern) }
    mutating func bytes(_ field: Int, _ d: Data) { key(field, 2); putVarint(UInt64(d.count)); data.append(d) }

    static func fields(_ d: Data) throws -> [(Int, Value)] {
        var out: [(Int, Value)] = []
        let b = [UInt8](d)
        var i = 0
        func varint() throws -> UInt64 {
            var v: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard i < b.count, shift < 64 else { throw AtomicFile.WriteError(description: "malformed protocol buffer") }
                let byte = b[i]; i += 1
                v |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return v }
                shift += 7
            }
        }
        func take(_ n: Int) throws -> [UInt8] {
            guard n >= 0, n <= b.count - i else { throw AtomicFile.WriteError(description: "malformed protocol buffer") }
            defer { i += n }
            return Array(b[i..<(i + n)])
        }
        while i < b.count {
            let k = try varint()
            let field = Int(k >> 3)
            switch k & 7 {
            case 0: out.append((field, .varint(try varint())))
            case 1: out.append((field, .fixed64(try take(8).reversed().reduce(0) { $0 << 8 | UInt64($1) })))
            case 5: out.append((field, .fixed32(try take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) })))
            case 2: out.append((field, .bytes(Data(try take(Int(clamping: try varint()))))))
            default: throw AtomicFile.WriteError(description: "unsupported protocol buffer wire type \(k & 7)")
            }
        }
        return out
    }
}

func appendLE<T: FixedWidthInteger>(_ data: inout Data, _ v: T) {
    var le = v.littleEndian
    withUnsafeBytes(of: &le) { data.append(contentsOf: $0) }
}

func readLE(_ data: Data, _ at: Int) -> UInt32 {
    data.subdata(in: at..<(at + 4)).withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
}

/// CRC-32C (Castagnoli), as TFRecord masks it.
enum CRC32C {
    static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0x82F6_3B78 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ d: Data) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for byte in d { c = table[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    static func masked(_ d: Data) -> UInt32 {
        let c = checksum(d)
        return ((c >> 15) | (c << 17)) &+ 0xA282_EAD8
    }
}
