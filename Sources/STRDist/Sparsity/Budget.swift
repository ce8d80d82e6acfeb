// Per-layer sparsity budgets for DNW and GMP layers: taken from a trained
// STR model (`--use-budget`: each layer's density under its learned
// threshold) or from a CSV such as the paper's SparsityDistributions table
// (`--budget-file`: a `Layer` column numbering the convs 1…L in forward
// order, then one column per method, values like `59.80%`).

import Foundation

public enum Budget {
    /// Layer name → sparsity in [0, 1] of an STR model's effective weights, from its tensors.
    public static func fromSTR(_ tensors: [SafeTensor], what: String) throws -> [String: Double] {
        let byName = Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var out: [String: Double] = [:]
        let suffix = STRWeight.thresholdSuffix
        for t in tensors where t.name.hasSuffix(suffix) {
            let layer = String(t.name.dropLast(suffix.count))
            guard let w = byName[layer + ".weight"], let s = t.floats().first else { continue }
            let g = Float(sigmoid(s))
            let weights = w.floats()
            let kept = weights.reduce(0) { $0 + (abs($1) > g ? 1 : 0) }
            out[layer] = 1 - Double(kept) / Double(max(1, weights.count))
        }
        guard !out.isEmpty else {
            throw ConfigError("--use-budget needs a pretrained STR model, but '\(what)' has no sparseThreshold tensors")
        }
        return out
    }

    /// Per-layer sparsities (fractions) from a CSV column; `column` nil takes the first after `Layer`.
    public static func fromCSV(_ path: String, column: String?) throws -> [Double] {
        guard let raw = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigError("budget file '\(path)' cannot be read (check --budget-file)")
        }
        let text = raw.replacingOccurrences(of: "\u{FEFF}", with: "")
        let rows = text.split(whereSeparator: \.isNewline).map { $0.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) } }
        guard let header = rows.first, header.count >= 2 else {
            throw ConfigError("budget file '\(path)' needs a header line like 'Layer,STR,Uniform,…'")
        }
        let methods = Array(header.dropFirst())
        let name = column ?? methods[0]
        guard let index = header.firstIndex(of: name), index > 0 else {
            throw ConfigError("budget file '\(path)' has no column '\(name)' (did you mean '\(closest(name, in: methods))'? columns: \(methods.joined(separator: ", ")))")
        }
        return try rows.dropFirst().enumerated().map { i, row in
            guard row.count > index, let v = Double(row[index].replacingOccurrences(of: "%", with: "")), (0...100).contains(v) else {
                throw ConfigError("budget file '\(path)' line \(i + 2): '\(row.count > index ? row[index] : "")' in column '\(name)' is not a percentage")
            }
            return v / 100
        }
    }

    /// Gives DNW layers their prune rate and GMP layers their final rate; returns how many layers got one.
    @discardableResult
    public static func apply(_ sparsity: [String: Double], to model: Model) -> Int {
        var applied = 0
        for layer in model.weighted {
            if let s = sparsity[layer.name], model.pruning.setTarget(s, for: layer.name) { applied += 1 }
        }
        model.network.parametersChanged()
        return applied
    }

    /// A CSV's rows matched to the model's sparse-kind layers (convs, matrices) in forward order.
    public static func byLayer(_ rates: [Double], model: Model, path: String) throws -> [String: Double] {
        guard rates.count == model.weighted.count else {
            throw ConfigError("budget file '\(path)' has \(rates.count) layers but \(model.options.arch) has \(model.weighted.count) weighted layers (convs and matrices in forward order, the classifier included)")
        }
        return Dictionary(uniqueKeysWithValues: zip(model.weighted.map(\.name), rates))
    }
}
