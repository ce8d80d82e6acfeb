// A YAML config file read defensively, before any of it is believed: a size
// bound, UTF-8 checked line by line, then one pass over libyaml's event
// stream (the parser Yams itself runs) that bounds nesting depth and the
// document's size once aliases are expanded — Yams composes recursively, so a
// 200,000-deep file would overflow its stack, and a "billion laughs" file
// would expand to gigabytes. Only then is it composed, and each top-level key
// is returned with its line, a key given twice (under any spelling) refused.

import CYaml
import Foundation
import Yams

/// One top-level `key: value` of a config file.
struct ConfigEntry {
    let key: String
    let value: Any
    let line: Int
}

/// A scalar as written (`raw`, what string keys take) and as YAML types it (`typed`).
struct YAMLScalar: CustomStringConvertible {
    let raw: String
    let typed: Any
    var description: String { raw }
}

/// A list or mapping where a config expects one value.
struct YAMLCompound: CustomStringConvertible {
    let kind: String
    var description: String { kind }
}

enum ConfigFile {
    /// A config is a few KB; anything past this is not one.
    static let maxBytes = 1 << 20
    /// Nesting levels allowed (a config is one mapping; lists inside it are level 2).
    static let maxDepth = 64
    /// Nodes the document may have once aliases are expanded.
    static let maxNodes = 100_000

    static func read(_ path: String) throws -> [ConfigEntry] {
        let text = try readText(path)
        try scanEvents(text, path)
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw ConfigError("config file '\(path)' is not valid YAML: \(describe(error))")
        }
        guard let root else { return [] }
        guard case .mapping(let map) = root else {
            throw ConfigError("config file '\(path)' must be a mapping of key: value lines (line \(root.mark?.line ?? 1) holds \(kind(root)))")
        }
        var seen: [String: (spelling: String, line: Int)] = [:]
        var entries: [ConfigEntry] = []
        for (keyNode, valueNode) in map {
            let line = keyNode.mark?.line ?? 0
            guard case .scalar(let k) = keyNode else {
                throw ConfigError("config file '\(path)' line \(line): a key must be a plain name, not \(kind(keyNode))")
            }
            let name = ConfigKey.canonical(k.string) ?? k.string
            if let first = seen[name] {
                let spelt = first.spelling == k.string ? "'\(k.string)'" : "'\(name)' (as '\(first.spelling)' and '\(k.string)')"
                throw ConfigError("config file '\(path)' gives \(spelt) twice, on line \(first.line) and line \(line) (keep one)")
            }
            seen[name] = (k.string, line)
            let value: Any
            if case .scalar(let s) = valueNode {
                value = YAMLScalar(raw: s.string, typed: Constructor.default.any(from: valueNode))
            } else {
                value = YAMLCompound(kind: kind(valueNode))
            }
            entries.append(ConfigEntry(key: k.string, value: value, line: line))
        }
        return entries
    }

    /// The file as text: it must exist, be small, and be UTF-8 (the first bad line is named).
    static func readText(_ path: String) throws -> String {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ConfigError("config file '\(path)' does not exist (check the path given to --config)")
        }
        guard !isDir.boolValue else { throw ConfigError("config file '\(path)' is a folder, not a YAML file") }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ConfigError("config file '\(path)' cannot be read (check its permissions)")
        }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: maxBytes + 1)) ?? Data()
        guard data.count <= maxBytes else {
            throw ConfigError("config file '\(path)' is over \(maxBytes >> 20) MiB; a config is a few KB (is this the right file?)")
        }
        if let text = String(data: data, encoding: .utf8) {
            return text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text
        }
        var line = 1
        for chunk in data.split(separator: 0x0A, omittingEmptySubsequences: false) {
            if String(data: Data(chunk), encoding: .utf8) == nil { break }
            line += 1
        }
        throw ConfigError("config file '\(path)' is not UTF-8 text (line \(line) holds bytes that are not UTF-8; save it as UTF-8)")
    }

    /// One pass over the parser's events: depth and expanded size bounded, syntax errors with their line.
    static func scanEvents(_ text: String, _ path: String) throws {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw ConfigError("config file '\(path)': out of memory parsing YAML") }
        defer { yaml_parser_delete(&parser) }
        var bytes = Array(text.utf8)
        try bytes.withUnsafeMutableBufferPointer { buffer in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var depth = 0, expanded = 0
            var open: [(anchor: String?, start: Int)] = []
            var anchors: [String: Int] = [:]
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    let problem = parser.problem.map { String(cString: $0) } ?? "unreadable YAML"
                    let context = parser.context.map { String(cString: $0) + ": " } ?? ""
                    throw ConfigError("config file '\(path)' is not valid YAML at line \(parser.problem_mark.line + 1), column \(parser.problem_mark.column + 1): \(context)\(problem)")
                }
                defer { yaml_event_delete(&event) }
                let line = event.start_mark.line + 1
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return
                case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                    depth += 1
                    guard depth <= maxDepth else {
                        throw ConfigError("config file '\(path)' nests deeper than \(maxDepth) levels (line \(line)); a config is one flat mapping")
                    }
                    let anchor = event.type == YAML_SEQUENCE_START_EVENT ? event.data.sequence_start.anchor : event.data.mapping_start.anchor
                    open.append((anchor.map { String(cString: $0) }, expanded))
                    expanded += 1
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    depth -= 1
                    if let top = open.popLast(), let anchor = top.anchor { anchors[anchor] = expanded - top.start }
                case YAML_SCALAR_EVENT:
                    if let a = event.data.scalar.anchor { anchors[String(cString: a)] = 1 }
                    expanded += 1
                case YAML_ALIAS_EVENT:
                    expanded += event.data.alias.anchor.flatMap { anchors[String(cString: $0)] } ?? 1
                default:
                    break
                }
                guard expanded <= maxNodes else {
                    throw ConfigError("config file '\(path)' grows past \(maxNodes) values once its aliases (*name) are expanded (line \(line)); a config is one flat mapping")
                }
            }
        }
    }

    private static func kind(_ node: Node) -> String {
        switch node {
        case .scalar: return "a single value"
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }

    /// A Yams error as "line L, column C: problem".
    private static func describe(_ error: Error) -> String {
        guard let e = error as? YamlError else { return "\(error)" }
        switch e {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            return "line \(mark.line), column \(mark.column): \(context.map { "\($0.text) " } ?? "")\(problem)"
        default:
            return "\(e)".split(separator: "\n").first.map(String.init) ?? "\(e)"
        }
    }
}
