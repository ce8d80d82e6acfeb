// Writes that never leave a half-written file behind: the bytes go to a
// temporary file in the same folder, are fsync'ed, and replace the target by
// rename(2), which is atomic; the folder is fsync'ed so the rename survives a
// crash. A reader sees the old file or the new one, never a mix. Files that
// belong together (a checkpoint's model and state) are all staged before any
// replaces its target, so a full disk leaves the previous pair as it was.

import Foundation

public enum AtomicFile {
    public struct WriteError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Bytes written and fsync'ed beside their target, not yet in its place.
    public struct Staged {
        let temp: String, path: String

        /// Puts the file in place (rename) and makes the rename durable.
        public func commit() throws {
            guard rename(temp, path) == 0 else {
                let why = String(cString: strerror(errno))
                unlink(temp)
                throw WriteError(description: "cannot write '\(path)': \(why)")
            }
            let dir = (path as NSString).deletingLastPathComponent
            let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY)
            if dfd >= 0 { fsync(dfd); close(dfd) }
        }

        /// Removes the temporary file (when a file staged with it could not be).
        public func discard() { unlink(temp) }
    }

    private static let serial = Locked(0)

    public static func write(_ data: Data, to path: String) throws {
        try stage(data, to: path).commit()
    }

    /// Writes all of `data` to `fd` (retrying short writes); the reason when it cannot.
    static func writeAll(_ data: Data, fd: Int32) -> String? {
        data.withUnsafeBytes { raw -> String? in
            var done = 0
            while done < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return String(cString: strerror(n < 0 ? errno : ENOSPC)) }
                done += n
            }
            return nil
        }
    }

    /// Writes `data` to a temporary file beside `path`; nothing is replaced until `commit`.
    public static func stage(_ data: Data, to path: String) throws -> Staged {
        let dir = (path as NSString).deletingLastPathComponent
        // Unique per process and call: writers in one process (threads) never share a temporary file.
        let n = serial.update { $0 += 1; return $0 }
        let temp = (dir.isEmpty ? "." : dir) + "/." + (path as NSString).lastPathComponent + ".tmp-\(getpid())-\(n)"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw WriteError(description: "cannot write '\(path)': \(String(cString: strerror(errno)))") }
        var failure = writeAll(data, fd: fd)
        if failure == nil && fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        if close(fd) != 0 && failure == nil { failure = String(cString: strerror(errno)) }
        if let failure {
            unlink(temp)
            throw WriteError(description: "cannot write '\(path)': \(failure)")
        }
        return Staged(temp: temp, path: path)
    }
}
