// Reads a YAML config, applies `--key value` overrides, and checks every
// value. Errors are one line naming the key and, for a misspelt key or
// value, the closest valid one.

import Foundation
import Yams

public struct ConfigError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

public enum ConfigLoader {
    /// - Parameters:
    ///   - path: the YAML file (`--config`), or nil for defaults only.
    ///   - overrides: command-line words after the subcommand, e.g. ["--lr", "0.1", "--nesterov"].
    public static func load(path: String?, overrides: [String]) throws -> Config {
        var config = Config()
        if let path = path {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigError("config file '\(path)' cannot be read (check the path given to --config)")
            }
            let yaml: Any?
            do { yaml = try Yams.load(yaml: text) } catch {
                throw ConfigError("config file '\(path)' is not valid YAML: \("\(error)".split(separator: "\n").first ?? "")")
            }
            guard let map = (yaml ?? [String: Any]()) as? [String: Any] else {
                throw ConfigError("config file '\(path)' must be a mapping of key: value lines")
            }
            for (key, value) in map.sorted(by: { $0.key < $1.key }) {
                try set(&config, key: key, value: value, origin: "in \(path)")
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
            let hint = closest(raw, in: Array(ConfigKey.table.keys))
            throw ConfigError("unknown config key '\(raw)' \(origin) (did you mean '\(hint)'?)")
        }
        if ConfigKey.ignored.contains(name) { return }
        let kind = ConfigKey.table[name]!
        func bad() -> ConfigError {
            ConfigError("config key '\(name)' \(origin) must be \(kind.typeName), got '\(value)'")
        }
        let isNull = value is NSNull || "\(value)" == "null" || "\(value)" == "None"
        switch kind {
        case .int(let p): guard let v = int(value) else { throw bad() }; config[keyPath: p] = v
        case .optionalInt(let p): if isNull { config[keyPath: p] = nil } else { guard let v = int(value) else { throw bad() }; config[keyPath: p] = v }
        case .double(let p): guard let v = double(value) else { throw bad() }; config[keyPath: p] = v
        case .optionalDouble(let p): if isNull { config[keyPath: p] = nil } else { guard let v = double(value) else { throw bad() }; config[keyPath: p] = v }
        case .string(let p): config[keyPath: p] = "\(value)"
        case .optionalString(let p): config[keyPath: p] = isNull ? nil : "\(value)"
        case .bool(let p): guard let v = bool(value) else { throw bad() }; config[keyPath: p] = v
        }
    }

    static func int(_ v: Any) -> Int? {
        if let i = v as? Int { return i }
        if let d = v as? Double, d == d.rounded() { return Int(d) }
        if let s = v as? String { return Int(s) ?? Double(s).flatMap { $0 == $0.rounded() ? Int($0) : nil } }
        return nil
    }

    static func double(_ v: Any) -> Double? {
        if let d = v as? Double { return d }
        if let i = v as? Int { return Double(i) }
        if let s = v as? String { return Double(s) }
        return nil
    }

    static func bool(_ v: Any) -> Bool? {
        if let b = v as? Bool { return b }
        switch "\(v)" { case "true", "True", "1": return true; case "false", "False", "0": return false; default: return nil }
    }
}
