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
        // Read only what the header promises: a gzip that inflates past it (a "zip bomb") is refused
        // without inflating the rest, and a promise larger than the machine's memory before allocating.
        func read(_ count: Int, into p: UnsafeMutableRawPointer) throws -> Int {
            var done = 0
            while done < count {
                let n = gzread(file, p + done, UInt32(min(count - done, 1 << 30)))
                if n < 0 { throw DataError("'\(path)' is not a readable gzip/IDX file (corrupt or truncated)") }
                if n == 0 { break }
                done += Int(n)
            }
            return done
        }
        var magic = [UInt8](repeating: 0, count: 4 + 4 * expectedDimensions)
        let got = try magic.withUnsafeMutableBytes { try read($0.count, into: $0.baseAddress!) }
        guard got >= 4, magic[0] == 0, magic[1] == 0, magic[2] == 0x08, Int(magic[3]) == expectedDimensions else {
            throw DataError("'\(path)' is not an IDX file of unsigned bytes with \(expectedDimensions) dimensions (bad magic number)")
        }
        guard got == magic.count else { throw DataError("'\(path)' is truncated inside its header") }
        var dims: [Int] = []
        for d in 0..<expectedDimensions {
            let o = 4 + 4 * d
            dims.append(Int(magic[o]) << 24 | Int(magic[o + 1]) << 16 | Int(magic[o + 2]) << 8 | Int(magic[o + 3]))
        }
        let shape = dims.map(String.init).joined(separator: "×")
        guard let expected = SafeTensors.elementCount(dims), expected <= MachineMemory.bytes / 2 else {
            throw DataError("'\(path)' promises \(shape) bytes of data, more than half this machine's \(MachineMemory.text(MachineMemory.bytes)) of memory (a damaged or hostile file?)")
        }
        // Grown as the data actually inflates (a header's promise alone allocates nothing), one byte
        // past the promise to tell a longer file.
        var data = [UInt8]()
        data.reserveCapacity(min(expected + 1, 64 << 20))
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while data.count <= expected {
            let want = min(chunk.count, expected + 1 - data.count)
            let k = try chunk.withUnsafeMutableBytes { try read(want, into: $0.baseAddress!) }
            if k == 0 { break }
            data.append(contentsOf: chunk[0..<k])
        }
        let n = data.count
        guard n == expected else {
            throw DataError(n > expected
                ? "'\(path)' holds more data than its header promises (\(shape) = \(expected) bytes): a damaged or hostile file"
                : "'\(path)' holds \(n) bytes of data but its header promises \(expected) (\(shape))")
        }
        dimensions = dims
        bytes = data
    }
}
