// One run folder as the report reads it, from the run's own files: settings.txt (name, conv_type), every TensorBoard event file under logs/ (a resumed run has several; later values of
// an epoch win), summary.json (final numbers, FLOPs, per-layer budget) and, for a run without one,
// the last epoch of sparsity_per_layer.csv.

import Foundation

public struct RunRecord {
    public struct Layer { public var name: String, params: Int, sparsity: Double }

    public let folder: String
    public var name = "", convType = ""
    /// Tag → (epoch, value), sorted by epoch.
    public var scalars: [String: [(x: Double, y: Double)]] = [:]
    public var layers: [Layer] = []
    public var valTop1: Double?, bestTop1: Double?, sparsity: Double?, flops: Double?, denseFlops: Double?
    public var seconds: Double { (scalars["diagnostics/epoch_time"] ?? []).reduce(0) { $0 + $1.y } }

    /// A short label: the run's name and its method.
    public var label: String { "\(name) (\(convType))" }

    public init(folder: String) throws {
        self.folder = folder
        guard let settings = try? String(contentsOfFile: folder + "/settings.txt", encoding: .utf8) else {
            throw ConfigError("'\(folder)' is not a run folder: it has no settings.txt (give the folder that holds settings.txt, logs/ and checkpoints/)")
        }
        var keys: [String: String] = [:]
        for line in settings.split(whereSeparator: \.isNewline) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            keys[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                .trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        name = keys["name"].flatMap { $0 == "null" ? nil : $0 } ?? (folder as NSString).lastPathComponent
        convType = keys["conv_type"] ?? "?"
        try readEvents()
        readSummary()
        if layers.isEmpty { readLayerCSV() }
        valTop1 = valTop1 ?? scalars["test/acc1"]?.last?.y
        bestTop1 = bestTop1 ?? scalars["test/acc1"]?.map(\.y).max()
        sparsity = sparsity ?? scalars["sparsity/total"]?.last?.y
    }

    mutating func readEvents() throws {
        let logs = folder + "/logs"
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: logs)) ?? []).filter { $0.contains("tfevents") }.sorted()
        var byTag: [String: [Int: Double]] = [:]
        for f in files {
            for (tag, values) in try EventReader.scalars(logs + "/" + f) {
                for v in values { byTag[tag, default: [:]][v.step] = Double(v.value) }
            }
        }
        scalars = byTag.mapValues { $0.sorted { $0.key < $1.key }.map { (x: Double($0.key), y: $0.value) } }
    }

    mutating func readSummary() {
        guard let data = FileManager.default.contents(atPath: folder + "/summary.json"),
              let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return }
        valTop1 = json["val_top1"] as? Double; bestTop1 = json["best_val_top1"] as? Double
        sparsity = json["sparsity"] as? Double
        flops = (json["flops"] as? NSNumber)?.doubleValue; denseFlops = (json["dense_flops"] as? NSNumber)?.doubleValue
        layers = ((json["layers"] as? [[String: Any]]) ?? []).compactMap { l in
            guard let n = l["name"] as? String, let p = (l["params"] as? NSNumber)?.intValue, let s = (l["sparsity"] as? NSNumber)?.doubleValue else { return nil }
            return Layer(name: n, params: p, sparsity: s)
        }
    }

    mutating func readLayerCSV() {
        guard let text = try? String(contentsOfFile: folder + "/sparsity_per_layer.csv", encoding: .utf8) else { return }
        let rows = text.split(whereSeparator: \.isNewline).dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        guard let last = rows.compactMap({ Int($0.first ?? "") }).max() else { return }
        layers = rows.filter { $0.count >= 6 && Int($0[0]) == last }.compactMap { r in
            guard let p = Int(r[3]), let s = Double(r[5]) else { return nil }
            return Layer(name: String(r[1]), params: p, sparsity: s)
        }
    }
}
