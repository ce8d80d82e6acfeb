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
    /// Logs that cannot be written (a full disk) are warned about and skipped; the run goes on.
    let warn: (String) -> Void
    static let layerHeader = "epoch,layer,kind,params,nonzero,sparsity,threshold\n"
    static let resultsHeader = "Date Finished, Base Config, Name, Prune Rate, Current Val Top 1, Current Val Top 5, Best Val Top 1, Best Val Top 5, Best Train Top 1, Best Train Top 5\n"

    public init(_ dir: RunDirectory, config: Config, warn: @escaping (String) -> Void = Warnings.standardError) throws {
        self.dir = dir
        self.config = config
        self.warn = warn
        events = try EventWriter(directory: dir.logs, warn: warn)
        layerCSV = dir.path + "/sparsity_per_layer.csv"
    }

    /// Scalars named as the reference names them; with `target_sparsity`, also the controller's
    /// set point and st_decay at the epoch's end (`sparsity/target`, `sparsity/st_decay`).
    public func epoch(_ r: EpochResult, _ s: SparsityReport, controller: SparsityController? = nil) throws {
        var scalars: [(tag: String, value: Double)] = [
            ("test/acc1", r.valTop1), ("test/acc5", r.valTop5), ("test/loss", r.valLoss),
            ("train/acc1", r.trainTop1), ("train/acc5", r.trainTop5), ("train/loss", r.trainLoss),
            ("lr", r.lr), ("diagnostics/epoch_time", r.seconds), ("sparsity/total", s.total),
        ]
        if let c = controller {
            scalars += [("sparsity/target", 100 * c.last.setPoint), ("sparsity/st_decay", Double(c.decay))]
        }
        var rows = ""
        for l in s.layers {
            scalars.append(("sparsity/\(l.name)", l.sparsity))
            if let t = l.threshold { scalars.append(("thresh/\(l.name)", t)) }
            rows += "\(r.epoch),\(l.name),\(l.kind.rawValue),\(l.numel),\(l.nonzero),\(String(format: "%.4f", l.sparsity)),\(l.threshold.map { "\($0)" } ?? "")\n"
        }
        events.scalars(scalars, step: r.epoch)
        events.flush()
        log(rows, to: layerCSV, header: Self.layerHeader)
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
        let f = DateFormatter()
        f.dateFormat = "MM-dd-yy_HH:mm:ss"
        let row = [f.string(from: Date()), config.configStem, config.runName, "\(config.pruneRate)",
                   String(format: "%.02f", last?.valTop1 ?? 0), String(format: "%.02f", last?.valTop5 ?? 0),
                   String(format: "%.02f", best.top1), String(format: "%.02f", best.top5),
                   String(format: "%.02f", best.train1), String(format: "%.02f", best.train5)]
        log(row.joined(separator: ", ") + "\n", to: results, header: Self.resultsHeader)
        writeSummary(last: last, best: best.top1, s)
        guard s.layers.contains(where: { $0.threshold != nil }) else { return }   // STR's reports
        var sparsity = s.layers.map { ($0.name, $0.sparsity) }
        sparsity.append(("total", s.total))
        let thresholds = s.layers.compactMap { l in l.threshold.map { (l.name, $0) } }
        do {
            try writeJSON(sparsity, to: dir.root + "/layerwise_sparsity/\(config.runName).json")
            try writeJSON(thresholds, to: dir.root + "/layerwise_threshold/\(config.runName).json")
        } catch { warn("\(error); the layerwise JSON reports are missing (the checkpoints hold the same numbers)") }
    }

    /// `summary.json` in the run folder: the final numbers and per-layer budget that `strdist report`
    /// reads (FLOPs are counted by the model, which the report does not rebuild).
    func writeSummary(last: EpochResult?, best: Double, _ s: SparsityReport) {
        let layers = s.layers.map { l in
            "{\"name\": \(SafeTensors.jsonString(l.name)), \"params\": \(l.numel), \"sparsity\": \(l.sparsity)" +
            (l.threshold.map { ", \"threshold\": \($0)" } ?? "") + "}"
        }
        let body = "{\"name\": \(SafeTensors.jsonString(config.runName)), \"config\": \(SafeTensors.jsonString(config.configStem)), " +
            "\"conv_type\": \(SafeTensors.jsonString(config.convType.rawValue)), \"epochs\": \(last.map { $0.epoch + 1 } ?? 0), " +
            "\"val_top1\": \(last?.valTop1 ?? 0), \"best_val_top1\": \(best), \"sparsity\": \(s.total), " +
            "\"params\": \(s.params), \"flops\": \(s.flops), \"dense_flops\": \(s.denseFlops),\n \"layers\": [" +
            layers.joined(separator: ",\n  ") + "]}\n"
        do { try AtomicFile.write(Data(body.utf8), to: dir.path + "/summary.json") } catch {
            warn("\(error); the run's summary.json is missing (strdist report falls back to the CSV)")
        }
    }

    func writeJSON(_ pairs: [(String, Double)], to path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        let body = pairs.map { "\(SafeTensors.jsonString($0.0)): \($0.1)" }.joined(separator: ", ")
        try AtomicFile.write(Data(("{" + body + "}\n").utf8), to: path)
    }

    /// Appends whole rows (the file created with its header when missing), or warns and goes on.
    func log(_ text: String, to path: String, header: String) {
        do { try AppendFile.append(text, to: path, header: header) } catch {
            warn("\(error); these rows are skipped (earlier rows are intact; training goes on)")
        }
    }
}
