// Rank 0's reports of a run: TensorBoard scalars every epoch (and the
// running training meters every print_freq batches), a per-epoch CSV of each
// layer's sparsity and threshold, and at the end the reference's
// runs/results.csv row and, for STR, runs/layerwise_{sparsity,threshold}/<name>.json.

import Foundation

public final class RunReports {
    public let dir: RunDirectory
    public let events: EventWriter
    let config: Config
    let layerCSV: String

    public init(_ dir: RunDirectory, config: Config) throws {
        self.dir = dir
        self.config = config
        events = try EventWriter(directory: dir.logs)
        layerCSV = dir.path + "/sparsity_per_layer.csv"
        if !FileManager.default.fileExists(atPath: layerCSV) {
            try append("epoch,layer,kind,params,nonzero,sparsity,threshold\n", to: layerCSV)
        }
    }

    /// Scalars named as the reference names them.
    public func epoch(_ r: EpochResult, _ s: SparsityReport) throws {
        var scalars: [(tag: String, value: Double)] = [
            ("test/acc1", r.valTop1), ("test/acc5", r.valTop5), ("test/loss", r.valLoss),
            ("train/acc1", r.trainTop1), ("train/acc5", r.trainTop5), ("train/loss", r.trainLoss),
            ("lr", r.lr), ("diagnostics/epoch_time", r.seconds), ("sparsity/total", s.total),
        ]
        var rows = ""
        for l in s.layers {
            scalars.append(("sparsity/\(l.name)", l.sparsity))
            if let t = l.threshold { scalars.append(("thresh/\(l.name)", t)) }
            rows += "\(r.epoch),\(l.name),\(l.kind.rawValue),\(l.numel),\(l.nonzero),\(String(format: "%.4f", l.sparsity)),\(l.threshold.map { "\($0)" } ?? "")\n"
        }
        events.scalars(scalars, step: r.epoch)
        events.flush()
        try append(rows, to: layerCSV)
    }

    /// The training meters' current and running values at the reference's global step (samples seen).
    public func trainProgress(step: Int, loss: (Double, Double), top1: (Double, Double), top5: (Double, Double)) {
        events.scalars([("train/Loss_val", loss.0), ("train/Loss_avg", loss.1), ("train/Acc@1_val", top1.0),
                        ("train/Acc@1_avg", top1.1), ("train/Acc@5_val", top5.0), ("train/Acc@5_avg", top5.1)],
                       step: step)
    }

    /// One row of runs/results.csv, and the STR layerwise JSON files.
    public func finish(last: EpochResult?, best: (top1: Double, top5: Double, train1: Double, train5: Double),
                       _ s: SparsityReport) throws {
        let results = dir.root + "/results.csv"
        if !FileManager.default.fileExists(atPath: results) {
            try append("Date Finished, Base Config, Name, Prune Rate, Current Val Top 1, Current Val Top 5, Best Val Top 1, Best Val Top 5, Best Train Top 1, Best Train Top 5\n", to: results)
        }
        let f = DateFormatter()
        f.dateFormat = "MM-dd-yy_HH:mm:ss"
        let row = [f.string(from: Date()), config.configStem, config.runName, "\(config.pruneRate)",
                   String(format: "%.02f", last?.valTop1 ?? 0), String(format: "%.02f", last?.valTop5 ?? 0),
                   String(format: "%.02f", best.top1), String(format: "%.02f", best.top5),
                   String(format: "%.02f", best.train1), String(format: "%.02f", best.train5)]
        try append(row.joined(separator: ", ") + "\n", to: results)
        guard s.layers.contains(where: { $0.threshold != nil }) else { return }   // STR's reports
        var sparsity = s.layers.map { ($0.name, $0.sparsity) }
        sparsity.append(("total", s.total))
        let thresholds = s.layers.compactMap { l in l.threshold.map { (l.name, $0) } }
        try writeJSON(sparsity, to: dir.root + "/layerwise_sparsity/\(config.runName).json")
        try writeJSON(thresholds, to: dir.root + "/layerwise_threshold/\(config.runName).json")
    }

    func writeJSON(_ pairs: [(String, Double)], to path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        let body = pairs.map { "\(SafeTensors.jsonString($0.0)): \($0.1)" }.joined(separator: ", ")
        try AtomicFile.write(Data(("{" + body + "}\n").utf8), to: path)
    }

    func append(_ text: String, to path: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw AtomicFile.WriteError(description: "cannot create '\(path)'")
            }
        }
        guard let h = FileHandle(forWritingAtPath: path) else { throw AtomicFile.WriteError(description: "cannot write '\(path)'") }
        defer { try? h.close() }
        h.seekToEndOfFile()
        h.write(Data(text.utf8))
    }
}
