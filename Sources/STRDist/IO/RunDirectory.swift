// Where a run writes, as the reference lays it out:
//   <log_dir or runs>/<config stem>/<name>/prune_rate=<p>/[width_mult=<w>/][<n>/]
// with settings.txt, logs/ (TensorBoard) and checkpoints/. A folder that
// already exists belongs to an earlier run, so the next run of the same
// config and name goes to the first free <n>/ below it. A run claims its
// folder with mkdir(2), which exactly one of several runs started together
// can win; the others take the next <n>.

import Foundation

public struct RunDirectory {
    /// `runs` or `log_dir`: results.csv and the layerwise JSON folders live here.
    public let root: String
    public let path: String

    public var logs: String { path + "/logs" }
    public var checkpoints: String { path + "/checkpoints" }
    public var settings: String { path + "/settings.txt" }

    public static func base(_ c: Config) -> (root: String, base: String) {
        let root = c.logDir ?? "runs"
        var base = "\(root)/\(c.configStem)/\(c.runName)/prune_rate=\(c.pruneRate)"
        if c.widthMult != 1 { base += "/width_mult=\(c.widthMult)" }
        return (root, base)
    }

    static func taken(_ dir: String) -> Bool { FileManager.default.fileExists(atPath: dir + "/settings.txt") }

    static func isFolder(_ dir: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) && isDir.boolValue
    }

    /// The runs of this config and name so far (folders with a settings.txt), oldest first.
    static func existing(_ c: Config) -> [String] {
        let (_, base) = base(c)
        var out = taken(base) ? [base] : [], n = 0
        while isFolder("\(base)/\(n)") {
            if taken("\(base)/\(n)") { out.append("\(base)/\(n)") }
            n += 1
        }
        return out
    }

    /// A new run's folder, claimed by mkdir (created, with logs/ and checkpoints/).
    public static func create(_ c: Config) throws -> RunDirectory {
        let (root, base) = base(c)
        let parent = (base as NSString).deletingLastPathComponent
        do { try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) } catch {
            throw ConfigError("cannot create run folder '\(parent)': \(error.localizedDescription) (check log_dir and permissions)")
        }
        var path = base, n = 0
        while mkdir(path, 0o755) != 0 {
            guard errno == EEXIST else {
                throw ConfigError("cannot create run folder '\(path)': \(String(cString: strerror(errno))) (check log_dir and permissions)")
            }
            guard n < 100_000 else { throw ConfigError("'\(base)' already holds 100,000 runs: choose another name or log_dir") }
            path = "\(base)/\(n)"; n += 1
        }
        let dir = RunDirectory(root: root, path: path)
        try dir.makeFolders()
        return dir
    }

    /// The newest run of this config and name with a `latest` checkpoint (for `--resume auto`).
    public static func latestResumable(_ c: Config) -> RunDirectory? {
        let root = base(c).root
        return existing(c).reversed().map { RunDirectory(root: root, path: $0) }
            .first { FileManager.default.fileExists(atPath: $0.checkpoints + "/latest.state") }
    }

    func makeFolders() throws {
        for dir in [path, logs, checkpoints] {
            do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
                throw ConfigError("cannot create run folder '\(dir)': \(error.localizedDescription) (check log_dir and permissions)")
            }
        }
    }
}
