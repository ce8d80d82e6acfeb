// IDX files (the MNIST family's format), gzipped or not: a big-endian magic
// of two zero bytes, a type code (0x08: unsigned byte) and the number of
// dimensions, then each dimension as a big-endian UInt32, then the data.

import CZlib
import Foundation

public struct DataError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

public struct IDXFile {
    public let dimensions: [Int]
    public let bytes: [UInt8]

    /// Reads `path` (gzip is detected by zlib) and checks the header against the size.
    public init(path: String, expectedDimensions: Int) throws {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw DataError("cannot read '\(path)'")
        }
        guard let file = gzopen(path, "rb") else { throw DataError("cannot open '\(path)'") }
        defer { gzclose(file) }
        var data = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            if n < 0 { throw DataError("'\(path)' is not a readable gzip/IDX file (corrupt or truncated)") }
            if n == 0 { break }
            data.append(contentsOf: chunk[0..<Int(n)])
        }
        guard data.count >= 4, data[0] == 0, data[1] == 0, data[2] == 0x08, Int(data[3]) == expectedDimensions else {
            throw DataError("'\(path)' is not an IDX file of unsigned bytes with \(expectedDimensions) dimensions (bad magic number)")
        }
        let header = 4 + 4 * expectedDimensions
        guard data.count >= header else { throw DataError("'\(path)' is truncated inside its header") }
        var dims: [Int] = []
        for d in 0..<expectedDimensions {
            let o = 4 + 4 * d
            dims.append(Int(data[o]) << 24 | Int(data[o + 1]) << 16 | Int(data[o + 2]) << 8 | Int(data[o + 3]))
        }
        let expected = dims.reduce(1, *)
        guard data.count - header == expected else {
            throw DataError("'\(path)' holds \(data.count - header) bytes of data but its header promises \(expected) (\(dims.map(String.init).joined(separator: "×")))")
        }
        dimensions = dims
        bytes = Array(data[header...])
    }
}
