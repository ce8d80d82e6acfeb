// torchvision's ImageFolder over `<split>/<class>/**/<file>`: classes are the
// sorted sub-folder names, files are walked recursively and sorted (by code
// point, as Python sorts), JPEGs by extension in any case; anything else is
// counted and reported as skipped. The scan is cached beside the data (or in
// ~/.cache/strdist) and reused while no folder's modification time changes.

import Foundation

public struct ImageFolder: Sendable {
    public let root: String
    public let classes: [String]
    /// Paths relative to `root`.
    public let files: [String]
    public let labels: [Int32]
    /// Non-JPEG files left out, by extension.
    public let skipped: [String: Int]
    public let emptyClasses: [String]
    public let fromCache: Bool

    public var count: Int { files.count }
    public func path(_ i: Int) -> String { root + "/" + files[i] }

    /// `n` files spread evenly over the sorted list (every class represented), or all when n is 0 or too large.
    public func evenlySpaced(_ n: Int) -> ImageFolder {
        guard n > 0 && n < count else { return self }
        let pick = (0..<n).map { $0 * count / n }
        return ImageFolder(root: root, classes: classes, files: pick.map { files[$0] }, labels: pick.map { labels[$0] },
                           skipped: skipped, emptyClasses: emptyClasses, fromCache: fromCache)
    }

    static let jpegExtensions: Set<String> = ["jpg", "jpeg"]

    /// Scans `root` (one split), reusing a cached index when the tree is unchanged.
    public static func load(_ root: String, cache: Bool = true) throws -> ImageFolder {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
            throw DataError("image folder '\(root)' not found (expected <data>/train/<class>/*.JPEG and <data>/val/<class>/*.JPEG; make a small one with: strdist prepare-data fashion-mnist --out DIR)")
        }
        let classes = try subdirectories(root)
        guard !classes.isEmpty else {
            throw DataError("image folder '\(root)' has no class folders (expected \(root)/<class>/*.JPEG)")
        }
        let signature = try treeSignature(root, classes)
        let cachePaths = cacheLocations(root)
        if cache {
            for p in cachePaths { if let f = readCache(p, root: root, signature: signature) { return f } }
        }
        var files: [String] = [], labels: [Int32] = [], skipped: [String: Int] = [:], empty: [String] = []
        for (label, name) in classes.enumerated() {
            let before = files.count
            try walk(root + "/" + name, relative: name) { rel in
                let ext = (rel as NSString).pathExtension.lowercased()
                if jpegExtensions.contains(ext) { files.append(rel); labels.append(Int32(label)) }
                else { skipped[ext.isEmpty ? "(none)" : "." + ext, default: 0] += 1 }
            }
            if files.count == before { empty.append(name) }
        }
        let folder = ImageFolder(root: root, classes: classes, files: files, labels: labels, skipped: skipped,
                                 emptyClasses: empty, fromCache: false)
        guard folder.count > 0 else {
            throw DataError("image folder '\(root)' holds no JPEG files (\(classes.count) class folders, all empty or other formats)")
        }
        if cache { for p in cachePaths where folder.writeCache(p, signature: signature) { break } }
        return folder
    }

    /// Sorted names of the visible sub-folders of `dir`.
    static func subdirectories(_ dir: String) throws -> [String] {
        try entries(dir).filter(\.isDirectory).map(\.name).sorted(by: codePointOrder)
    }

    static func codePointOrder(_ a: String, _ b: String) -> Bool { a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) }

    private static func entries(_ dir: String) throws -> [(name: String, isDirectory: Bool)] {
        guard let d = opendir(dir) else {
            throw DataError("cannot read folder '\(dir)': \(String(cString: strerror(errno)))")
        }
        defer { closedir(d) }
        var out: [(String, Bool)] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
            if name.hasPrefix(".") { continue }
            var type = e.pointee.d_type
            if type == UInt8(DT_UNKNOWN) || type == UInt8(DT_LNK) {
                var st = stat()
                if stat(dir + "/" + name, &st) == 0 { type = (st.st_mode & S_IFMT) == S_IFDIR ? UInt8(DT_DIR) : UInt8(DT_REG) }
            }
            out.append((name, type == UInt8(DT_DIR)))
        }
        return out
    }

    /// Calls `visit` with every file under `dir` (path relative to the split), in os.walk + sorted order.
    /// Symbolic links to folders are followed, except one back to a folder above it (a loop).
    private static func walk(_ dir: String, relative: String, above: [FolderID] = [], _ visit: (String) -> Void) throws {
        let here = try FolderID.checked(dir, above: above)
        let list = try entries(dir)
        for f in list.filter({ !$0.isDirectory }).map(\.name).sorted(by: codePointOrder) { visit(relative + "/" + f) }
        for d in list.filter(\.isDirectory).map(\.name).sorted(by: codePointOrder) {
            try walk(dir + "/" + d, relative: relative + "/" + d, above: above + [here], visit)
        }
    }

    /// A folder's device and inode: the same folder whatever path (or link) leads to it.
    struct FolderID: Equatable {
        let device: UInt64, inode: UInt64

        /// The folder's ID, or a DataError when it is one of the folders above it.
        static func checked(_ dir: String, above: [FolderID]) throws -> FolderID {
            var st = stat()
            guard stat(dir, &st) == 0 else { throw DataError("cannot read folder '\(dir)': \(String(cString: strerror(errno)))") }
            let id = FolderID(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
            if above.contains(id) {
                throw DataError("'\(dir)' leads back to a folder above it (a symbolic-link loop): remove the link or point it outside the tree")
            }
            guard above.count < 256 else { throw DataError("'\(dir)' is more than 256 folders deep (a symbolic-link chain?)") }
            return id
        }
    }

    /// Hash of every folder's path and modification time: adding, removing or renaming a file changes it.
    static func treeSignature(_ root: String, _ classes: [String]) throws -> UInt64 {
        var h = FNV1a()
        func mix(_ s: String) { h.add(s) }
        func visit(_ dir: String, above: [FolderID]) throws {
            let here = try FolderID.checked(dir, above: above)
            var st = stat()
            guard stat(dir, &st) == 0 else { throw DataError("cannot read folder '\(dir)': \(String(cString: strerror(errno)))") }
            mix(dir); mix("\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)")
            for d in try entries(dir).filter(\.isDirectory).map(\.name).sorted(by: codePointOrder) { try visit(dir + "/" + d, above: above + [here]) }
        }
        try visit(root, above: [])
        return h.value
    }

    static func cacheLocations(_ root: String) -> [String] {
        let url = URL(fileURLWithPath: root).standardizedFileURL
        let split = url.lastPathComponent, parent = url.deletingLastPathComponent().path
        var out = [parent + "/.strdist-index-" + split + ".txt"]
        let home = ProcessInfo.processInfo.environment["XDG_CACHE_HOME"]
            ?? (ProcessInfo.processInfo.environment["HOME"].map { $0 + "/.cache" } ?? "/tmp")
        out.append(home + "/strdist/index-" + String(FNV1a.of(url.path), radix: 16) + ".txt")
        return out
    }

    private static let cacheMagic = "strdist-imagefolder 1"

    static func readCache(_ path: String, root: String, signature: UInt64) -> ImageFolder? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)[...]
        func next() -> Substring? { lines.popFirst() }
        guard next() == Substring(cacheMagic), next() == Substring("signature \(String(signature, radix: 16))"),
              let c = next(), c.hasPrefix("classes "), let nc = Int(c.dropFirst(8)), (0...lines.count).contains(nc) else { return nil }
        var classes: [String] = []
        for _ in 0..<nc { guard let l = next() else { return nil }; classes.append(String(l)) }
        guard let s = next(), s.hasPrefix("skipped ") else { return nil }
        var skipped: [String: Int] = [:]
        for part in s.dropFirst(8).split(separator: " ") {
            let kv = part.split(separator: "="); if kv.count == 2, let n = Int(kv[1]) { skipped[String(kv[0])] = n }
        }
        // A count the file's own lines cannot hold (10^15 files) marks a broken index: rescan.
        guard let f = next(), f.hasPrefix("files "), let nf = Int(f.dropFirst(6)), (0...lines.count).contains(nf) else { return nil }
        var files: [String] = [], labels: [Int32] = []
        files.reserveCapacity(nf); labels.reserveCapacity(nf)
        for _ in 0..<nf {
            guard let l = next(), let tab = l.firstIndex(of: "\t"), let label = Int32(l[..<tab]),
                  label >= 0 && Int(label) < nc else { return nil }
            files.append(String(l[l.index(after: tab)...])); labels.append(label)
        }
        var seen = Set<Int32>(labels)
        let empty = classes.enumerated().filter { !seen.contains(Int32($0.offset)) }.map(\.element)
        seen.removeAll()
        return ImageFolder(root: root, classes: classes, files: files, labels: labels, skipped: skipped,
                           emptyClasses: empty, fromCache: true)
    }

    /// Writes the index atomically; false when the location is not writable (or a name cannot be stored).
    func writeCache(_ path: String, signature: UInt64) -> Bool {
        guard !(classes + files).contains(where: { $0.contains("\n") || $0.contains("\t") }) else { return false }
        var text = Self.cacheMagic + "\nsignature \(String(signature, radix: 16))\nclasses \(classes.count)\n"
        for c in classes { text += c + "\n" }
        text += "skipped " + skipped.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") + "\n"
        text += "files \(files.count)\n"
        for (f, l) in zip(files, labels) { text += "\(l)\t\(f)\n" }
        let dir = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return (try? AtomicFile.write(Data(text.utf8), to: path)) != nil
    }
}
