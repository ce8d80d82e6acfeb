// The resolved config as text: every key, sorted, one `key: value` line —
// what `settings.txt` holds and what a checkpoint's state records. It is
// valid YAML, so `strdist --config settings.txt` repeats the run.

import Foundation

extension Config {
    public var settingsText: String {
        var lines: [String] = []
        for (key, kind) in ConfigKey.table.sorted(by: { $0.key < $1.key }) where key != "config" {
            let value: String
            switch kind {
            case .int(let p, _): value = "\(self[keyPath: p])"
            case .optionalInt(let p, _): value = self[keyPath: p].map { "\($0)" } ?? "null"
            case .double(let p, _): value = "\(self[keyPath: p])"
            case .optionalDouble(let p, _): value = self[keyPath: p].map { "\($0)" } ?? "null"
            case .string(let p): value = Self.yamlString(self[keyPath: p])
            case .optionalString(let p): value = self[keyPath: p].map(Self.yamlString) ?? "null"
            case .bool(let p): value = self[keyPath: p] ? "true" : "false"
            case .choice(let k): value = k.text(self).map(Self.yamlString) ?? "null"
            }
            lines.append("\(key): \(value)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Plain when YAML reads it back as the same string, else double-quoted.
    static func yamlString(_ s: String) -> String {
        let plain = !s.isEmpty && s.allSatisfy { $0.isLetter || $0.isNumber || "/._-+".contains($0) }
            && Double(s) == nil && !["true", "false", "null", "yes", "no", "on", "off", "~"].contains(s.lowercased())
        return plain ? s : SafeTensors.jsonString(s)
    }

    /// The run's name (`--name`; "default" when none is given).
    public var runName: String { name ?? "default" }
    /// The config file's stem (`runs/<stem>/…`; "default" without a file).
    public var configStem: String {
        config.map { (($0 as NSString).lastPathComponent as NSString).deletingPathExtension } ?? "default"
    }
}
