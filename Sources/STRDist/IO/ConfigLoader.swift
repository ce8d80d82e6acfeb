// Reads a YAML config, applies `--key value` overrides, and checks every
// value where it enters. Errors are one line naming the key, where it was
// given (file and line, or the command line) and, for a misspelt key or
// value, the closest valid one.

import Foundation

public struct ConfigError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

public enum ConfigLoader {
    /// The words of a command line: `--config FILE` (or `--config=FILE`, at most once) and the
    /// `--key value` overrides around it.
    public static func load(arguments words: [String]) throws -> Config {
        var rest = words
        var path: String?
        while let i = rest.firstIndex(where: { $0 == "--config" || $0.hasPrefix("--config=") }) {
            let given: String
            if rest[i].hasPrefix("--config=") {
                given = String(rest[i].dropFirst("--config=".count)); rest.remove(at: i)
            } else {
                guard i + 1 < rest.count, !rest[i + 1].hasPrefix("--") else { throw ConfigError("--config needs a file path") }
                given = rest[i + 1]; rest.removeSubrange(i...(i + 1))
            }
            if let path {
                throw ConfigError("--config is given twice ('\(path)' and '\(given)'); give one file and override its keys with --key value")
            }
            path = given
        }
        return try load(path: path, overrides: rest)
    }

    /// - Parameters:
    ///   - path: the YAML file (`--config`), or nil for defaults only.
    ///   - overrides: command-line words after the subcommand, e.g. ["--lr", "0.1", "--nesterov"].
    public static func load(path: String?, overrides: [String]) throws -> Config {
        var config = Config()
        if let path = path {
            for entry in try ConfigFile.read(path) {
                try set(&config, key: entry.key, value: entry.value, origin: "in \(path) (line \(entry.line))")
            }
            config.config = path
        }
        for (key, value) in try parseFlags(overrides) {
            try set(&config, key: key, value: value, origin: "on the command line")
        }
        try validate(config)
        return config
    }

    /// ["--lr", "0.1", "--nesterov", "--seed=3"] → [("lr", "0.1"), ("nesterov", true), ("seed", "3")].
    static func parseFlags(_ words: [String]) throws -> [(String, Any)] {
        var result: [(String, Any)] = []
        var i = 0
        while i < words.count {
            let word = words[i]
            guard word.hasPrefix("-"), word.count > 1 else {
                throw ConfigError("unexpected argument '\(word)': options are written --key value")
            }
            var name = String(word.drop(while: { $0 == "-" }))
            var value: Any?
            if let eq = name.firstIndex(of: "=") {
                value = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            let key = ConfigKey.canonical(name) ?? name
            if value == nil {
                let next = i + 1 < words.count ? words[i + 1] : nil
                let isSwitch = ConfigKey.table[key]?.isBool == true || ConfigKey.ignoredSwitches.contains(key)
                if isSwitch && (next == nil || next!.hasPrefix("--") || !isBoolWord(next!)) {
                    value = true
                } else if let next = next, !(next.hasPrefix("--")) || Double(next) != nil {
                    value = next
                    i += 1
                } else {
                    throw ConfigError("--\(name) needs a value")
                }
            }
            result.append((key, value!))
            i += 1
        }
        return result
    }

    private static func isBoolWord(_ s: String) -> Bool { ["true", "false", "True", "False", "1", "0"].contains(s) }

    static func set(_ config: inout Config, key raw: String, value: Any, origin: String) throws {
        guard let name = ConfigKey.canonical(raw) else {
            throw ConfigError("unknown config key '\(raw)' \(origin) (did you mean \(ConfigKey.suggestion(for: raw))?)")
        }
        if ConfigKey.ignored.contains(name) { return }
        let kind = ConfigKey.table[name]!
        func bad() -> ConfigError {
            ConfigError("config key '\(name)' \(origin) must be \(kind.typeName), got '\(value)'")
        }
        if value is YAMLCompound { throw bad() }
        // Flags arrive as strings; YAML scalars carry their text and their YAML type.
        let text = (value as? YAMLScalar)?.raw ?? "\(value)"
        let typed = (value as? YAMLScalar)?.typed ?? value
        let isNull = typed is NSNull || text == "null" || text == "None"
        switch kind {
        case .int(let p, let range):
            guard let v = int(typed), range.contains(v) else { throw bad() }
            config[keyPath: p] = v
        case .optionalInt(let p, let range):
            if isNull { config[keyPath: p] = nil; return }
            guard let v = int(typed), range.contains(v) else { throw bad() }
            config[keyPath: p] = v
        case .double(let p, let interval):
            guard let v = double(typed), interval.contains(v) else { throw bad() }
            config[keyPath: p] = v
        case .optionalDouble(let p, let interval):
            if isNull { config[keyPath: p] = nil; return }
            guard let v = double(typed), interval.contains(v) else { throw bad() }
            config[keyPath: p] = v
        case .string(let p): config[keyPath: p] = text
        case .optionalString(let p): config[keyPath: p] = isNull ? nil : text
        case .choice(let k):
            guard k.parse(&config, isNull ? nil : text) else {
                let allowed = k.choices()
                throw ConfigError("config key '\(name)' \(origin) has unknown value '\(text)' (did you mean '\(closest(text, in: allowed))'? allowed: \(allowed.joined(separator: ", ")))")
            }
        case .bool(let p): guard let v = bool(typed) else { throw bad() }; config[keyPath: p] = v
        }
    }

    /// An integer exactly: 3, 3.0 and "3e2" are, 1e30 and 2.5 are not (no wrapping, no truncation).
    static func int(_ v: Any) -> Int? {
        if let i = v as? Int { return i }
        if let d = v as? Double { return Int(exactly: d) }
        if let s = v as? String {
            let t = s.trimmingCharacters(in: .whitespaces)
            return Int(t) ?? Double(t).flatMap { Int(exactly: $0) }
        }
        return nil
    }

    static func double(_ v: Any) -> Double? {
        if let d = v as? Double { return d }
        if let i = v as? Int { return Double(i) }
        if let s = v as? String { return Double(s.trimmingCharacters(in: .whitespaces)) }
        return nil
    }

    static func bool(_ v: Any) -> Bool? {
        if let b = v as? Bool { return b }
        switch "\(v)" { case "true", "True", "1": return true; case "false", "False", "0": return false; default: return nil }
    }
}
