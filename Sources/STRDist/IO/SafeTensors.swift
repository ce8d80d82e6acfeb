// The safetensors format (what `safetensors.torch.load_file` reads): an
// 8-byte little-endian header length, a JSON header mapping each tensor name
// to {dtype, shape, data_offsets: [begin, end]} (offsets into the data that
// follows) plus an optional "__metadata__" map of strings, then the raw
// little-endian tensor bytes. Decoding checks everything a truncated or
// corrupted file could break, and says what is wrong in one line.

import Foundation

public struct SafeTensorsError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

public struct SafeTensor {
    public var name: String
    /// "F32" or "I64" (what strdist writes); others are read but not converted.
    public var dtype: String
    public var shape: [Int]
    public var bytes: Data

    public init(name: String, dtype: String, shape: [Int], bytes: Data) {
        self.name = name; self.dtype = dtype; self.shape = shape; self.bytes = bytes
    }

    public static func float32(_ name: String, shape: [Int], _ values: UnsafePointer<Float>, count: Int) -> SafeTensor {
        SafeTensor(name: name, dtype: "F32", shape: shape, bytes: Data(bytes: values, count: count * 4))
    }

    /// The values as floats, converted by value from any dtype the format has (as PyTorch's
    /// `copy_` does when a state_dict of another dtype is loaded), never reinterpreted.
    public func floats() -> [Float] {
        bytes.withUnsafeBytes { raw -> [Float] in
            func each<T>(_ type: T.Type, _ convert: (T) -> Float) -> [Float] {
                let size = MemoryLayout<T>.size
                return (0..<raw.count / size).map { convert(raw.loadUnaligned(fromByteOffset: $0 * size, as: T.self)) }
            }
            switch dtype {
            case "F64": return each(Double.self) { Float($0) }
            case "F16": return each(UInt16.self) { Float(Float16(bitPattern: $0)) }
            case "BF16": return each(UInt16.self) { Float(bitPattern: UInt32($0) << 16) }
            case "I64": return each(Int64.self) { Float($0) }
            case "I32": return each(Int32.self) { Float($0) }
            case "I16": return each(Int16.self) { Float($0) }
            case "I8": return each(Int8.self) { Float($0) }
            case "U8", "BOOL": return each(UInt8.self) { Float($0) }
            default: return each(Float.self) { $0 }
            }
        }
    }

    /// Whether the dtype holds real numbers (what a parameter or optimizer buffer needs).
    public var isFloatingPoint: Bool { ["F64", "F32", "F16", "BF16"].contains(dtype) }

    static let itemSize: [String: Int] = ["F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2,
                                          "I8": 1, "U8": 1, "BOOL": 1]
}

public enum SafeTensors {
    /// The file's bytes: header (tensors in the given order) then data.
    public static func encode(_ tensors: [SafeTensor], metadata: [String: String] = [:]) -> Data {
        var header = "{"
        if !metadata.isEmpty {
            header += "\"__metadata__\":{" + metadata.sorted { $0.key < $1.key }
                .map { "\(jsonString($0.key)):\(jsonString($0.value))" }.joined(separator: ",") + "},"
        }
        var offset = 0
        header += tensors.map { t -> String in
            defer { offset += t.bytes.count }
            return "\(jsonString(t.name)):{\"dtype\":\"\(t.dtype)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + t.bytes.count)]}"
        }.joined(separator: ",") + "}"
        // Pad the header with spaces so the data starts 8-byte aligned, as the Rust writer does.
        while (header.utf8.count + 8) % 8 != 0 { header += " " }
        var out = Data()
        var n = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(Data(header.utf8))
        for t in tensors { out.append(t.bytes) }
        return out
    }

    /// Tensors (in file order) and metadata; `what` names the file in errors.
    public static func decode(_ data: Data, what: String) throws -> (tensors: [SafeTensor], metadata: [String: String]) {
        func bad(_ why: String) -> SafeTensorsError {
            SafeTensorsError("'\(what)' is not a valid safetensors file: \(why) (truncated or corrupted? use another checkpoint)")
        }
        guard data.count >= 8 else { throw bad("\(data.count) bytes, shorter than the 8-byte header length") }
        let length = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard length >= 2, length <= UInt64(data.count - 8), length < 100 << 20 else {
            throw bad("header length \(length) does not fit the file's \(data.count) bytes")
        }
        let headerBytes = data.subdata(in: 8..<(8 + Int(length)))
        guard let json = try? JSONSerialization.jsonObject(with: headerBytes), let map = json as? [String: Any] else {
            throw bad("its header is not a JSON object")
        }
        let base = 8 + Int(length)
        var metadata: [String: String] = [:]
        var tensors: [(begin: Int, tensor: SafeTensor)] = []
        for (name, value) in map {
            if name == "__metadata__" {
                guard let m = value as? [String: String] else { throw bad("__metadata__ is not a map of strings") }
                metadata = m
                continue
            }
            guard let t = value as? [String: Any], let dtype = t["dtype"] as? String,
                  let shape = t["shape"] as? [Int], let offsets = t["data_offsets"] as? [Int], offsets.count == 2,
                  let item = SafeTensor.itemSize[dtype] else {
                throw bad("tensor '\(name)' has a malformed entry")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, end >= begin, end <= data.count - base else {
                throw bad("tensor '\(name)' lies past the end of the file (data_offsets [\(begin), \(end)], \(data.count - base) bytes of data)")
            }
            guard let count = elementCount(shape), case let (size, false) = count.multipliedReportingOverflow(by: item),
                  size == end - begin else {
                throw bad("tensor '\(name)' has \(end - begin) bytes for shape \(shape) of \(dtype)")
            }
            tensors.append((begin, SafeTensor(name: name, dtype: dtype, shape: shape,
                                              bytes: data.subdata(in: (base + begin)..<(base + end)))))
        }
        tensors.sort { $0.begin < $1.begin }
        var expected = 0
        for (begin, t) in tensors {
            guard begin == expected else { throw bad("tensor '\(t.name)' does not follow the previous one") }
            expected += t.bytes.count
        }
        guard base + expected == data.count else {
            throw bad("\(data.count - base - expected) bytes after the last tensor")
        }
        return (tensors.map(\.tensor), metadata)
    }

    /// The product of `shape`, or nil when a dimension is negative or the product overflows.
    public static func elementCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            n = p
        }
        return n
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}
