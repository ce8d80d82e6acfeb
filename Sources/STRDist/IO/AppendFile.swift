// Appends that leave a file as it was when they fail (a full disk, a folder gone read-only): a row
// or a record goes in whole or not at all, and a file that did not exist is created with its header
// and first row in one atomic step, so it never exists header-less. Two runs ending together into
// one results.csv each keep their row: the file is created by link(2), which only one can win (the
// other appends), and appends are O_APPEND.

import Foundation

public enum AppendFile {
    /// Appends `text` to `path`; a missing file is created holding `header` then `text`.
    public static func append(_ text: String, to path: String, header: String = "") throws {
        if !FileManager.default.fileExists(atPath: path) {
            let staged = try AtomicFile.stage(Data((header + text).utf8), to: path)
            defer { staged.discard() }
            if link(staged.temp, path) == 0 { return }
            guard errno == EEXIST else {
                throw AtomicFile.WriteError(description: "cannot create '\(path)': \(String(cString: strerror(errno)))")
            }
            // Another run created it first: append after its rows.
        }
        let fd = open(path, O_WRONLY | O_APPEND)
        guard fd >= 0 else { throw AtomicFile.WriteError(description: "cannot append to '\(path)': \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        try write(Data(text.utf8), fd: fd, path: path)
    }

    /// Writes all of `data` at the end of `fd`, or truncates back to where it started and throws.
    static func write(_ data: Data, fd: Int32, path: String) throws {
        let start = lseek(fd, 0, SEEK_END)
        let failure = AtomicFile.writeAll(data, fd: fd)
        if let failure {
            if start >= 0 { _ = ftruncate(fd, start) }
            throw AtomicFile.WriteError(description: "cannot append to '\(path)': \(failure)")
        }
    }
}
