// JPEG files to RGB bytes through libjpeg-turbo (the CJPEG target). One decoder
// per worker thread: its file and pixel buffers grow to the largest image seen
// and are then reused, so steady-state decoding allocates nothing here.

import CJPEG
import Foundation

public struct JPEGError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

/// Decoded RGB rows: `width × height` pixels, 3 bytes each, row stride `width * 3`.
/// `x`, `y` place them in the image scaled by 1/`scale`; `scaledWidth/Height` is that image's size.
public struct RGBImage {
    public let pixels: UnsafePointer<UInt8>
    public let width: Int, height: Int
    public let x: Int, y: Int
    public let scale: Int
    public let scaledWidth: Int, scaledHeight: Int
}

public final class JPEGDecoder {
    private var file = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 64)
    private var fileBytes = 0
    private var pixels = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 18, alignment: 64)

    /// The most pixel bytes one decode may need (3 bytes a pixel).
    public static let maximumBytes = 3 * 179_000_000

    public init() {}
    deinit { file.deallocate(); pixels.deallocate() }

    /// Reads `path` whole into the reusable file buffer.
    public func load(_ path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw JPEGError("cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw JPEGError("cannot stat: \(String(cString: strerror(errno)))") }
        let size = Int(st.st_size)
        guard size > 0 else { throw JPEGError("empty file") }
        if size > file.count { file.deallocate(); file = .allocate(byteCount: size, alignment: 64) }
        var done = 0
        while done < size {
            let n = read(fd, file.baseAddress! + done, size - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw JPEGError(n == 0 ? "file shrank while reading" : "cannot read: \(String(cString: strerror(errno)))") }
            done += n
        }
        fileBytes = size
    }

    /// Uses `bytes` as the loaded file (tests, in-memory data).
    public func load(bytes: [UInt8]) {
        if bytes.count > file.count { file.deallocate(); file = .allocate(byteCount: bytes.count, alignment: 64) }
        bytes.withUnsafeBytes { file.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        fileBytes = bytes.count
    }

    /// The loaded file's stored size.
    public func header() throws -> (width: Int, height: Int) {
        var info = cjpeg_info()
        let rc = cjpeg_read_header(file.baseAddress!.assumingMemoryBound(to: UInt8.self), fileBytes, 1, &info)
        guard rc == 0 else { throw JPEGError(message(&info, "not a JPEG")) }
        guard info.source_width > 0 && info.source_height > 0 else { throw JPEGError("zero-sized image") }
        return (Int(info.source_width), Int(info.source_height))
    }

    /// Decodes the loaded file at 1/`scale` (1, 2, 4, 8), only rows `rows` and
    /// at least columns `columns` of the scaled image (nil: all).
    public func decode(scale: Int = 1, columns: Range<Int>? = nil, rows: Range<Int>? = nil) throws -> RGBImage {
        var info = cjpeg_info()
        let src = file.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let x = columns?.lowerBound ?? 0, w = columns?.count ?? 0
        let y = rows?.lowerBound ?? 0, h = rows?.count ?? 0
        let region = columns != nil || rows != nil
        var rc: Int32 = 2
        for _ in 0..<2 where rc == 2 {
            rc = cjpeg_decode_region(src, fileBytes, Int32(scale), Int32(x), Int32(y),
                                     Int32(region ? max(w, 1) : 0), Int32(region ? max(h, 1) : 0),
                                     pixels.baseAddress!.assumingMemoryBound(to: UInt8.self), pixels.count, &info)
            if rc == 2 {
                let need = Int(info.width) * Int(info.height) * 3
                guard need > pixels.count else { throw JPEGError(message(&info, "bad region")) }
                // PIL refuses past ~179 M pixels as a decompression bomb; so does this, before allocating.
                guard need <= Self.maximumBytes else {
                    throw JPEGError("\(info.width)×\(info.height) pixels to decode, more than \(Self.maximumBytes / 3 / 1_000_000) M (a decompression bomb?)")
                }
                pixels.deallocate()
                pixels = .allocate(byteCount: need + 64, alignment: 64)
            }
        }
        switch rc {
        case 0: break
        case 3: throw JPEGError(message(&info, "corrupt data"))
        default: throw JPEGError(message(&info, "not a JPEG"))
        }
        return RGBImage(pixels: UnsafePointer(pixels.baseAddress!.assumingMemoryBound(to: UInt8.self)),
                        width: Int(info.width), height: Int(info.height), x: Int(info.x), y: Int(info.y),
                        scale: scale, scaledWidth: Int(info.scaled_width), scaledHeight: Int(info.scaled_height))
    }

    private func message(_ info: inout cjpeg_info, _ fallback: String) -> String {
        let text = withUnsafeBytes(of: &info.message) { raw in
            String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
        }
        return text.isEmpty ? fallback : text
    }
}

/// Encodes RGB (3 channels) or grayscale (1) bytes as a JPEG file's bytes.
public func encodeJPEG(_ pixels: [UInt8], width: Int, height: Int, channels: Int, quality: Int) throws -> [UInt8] {
    precondition(pixels.count == width * height * channels, "pixel count does not match \(width)×\(height)×\(channels)")
    var out: UnsafeMutablePointer<UInt8>? = nil
    var size: UInt = 0
    var message = [CChar](repeating: 0, count: Int(CJPEG_MESSAGE_LENGTH))
    let rc = cjpeg_encode(pixels, Int32(width), Int32(height), Int32(channels), Int32(quality), &out, &size, &message)
    defer { cjpeg_free(out) }
    guard rc == 0, let out else { throw JPEGError("encode failed: \(String(cString: message))") }
    return Array(UnsafeBufferPointer(start: out, count: Int(size)))
}
