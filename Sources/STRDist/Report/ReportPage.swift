// `strdist report`: one self-contained HTML page (inline SVG and CSS, no script, no network) over
// run folders — curves per metric with the runs side by side, each run's learned per-layer budget
// beside each layer's share of parameters (the STR paper's figure), STR thresholds, top-1 against
// inference FLOPs and sparsity, and the scaling study's CSV when given.

import Foundation

public enum ReportPage {
    public static func html(_ runs: [RunRecord], scalingCSV: String? = nil) throws -> String {
        var page = """
            <!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>strdist report</title>
            <style>body{font-family:sans-serif;margin:24px;max-width:1200px;color:#111}h2{border-bottom:1px solid #999;margin-top:32px}
            table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}th{background:#eee}
            td:first-child,th:first-child{text-align:left}.grid{display:flex;flex-wrap:wrap;gap:12px}.grid svg{width:560px}
            .wide svg{width:100%;height:auto}</style></head><body>
            <h1>strdist report: \(runs.count) run(s)</h1>
            """
        page += section("summary", "Runs", table(runs))
        let curves: [(tag: String, title: String, unit: String)] = [
            ("test/acc1", "Validation top-1", "top-1 accuracy (%)"), ("train/acc1", "Training top-1", "top-1 accuracy (%)"),
            ("test/loss", "Validation loss", "cross-entropy loss (nats)"), ("train/loss", "Training loss", "cross-entropy loss (nats)"),
            ("lr", "Learning rate", "learning rate"), ("sparsity/total", "Total sparsity", "sparsity (% of prunable weights)"),
        ]
        page += section("curves", "Curves against epochs", "<div class=\"grid\">" + curves.map { c in
            SVGChart.lines(title: c.title, xLabel: "epoch", yLabel: c.unit,
                           runs.map { SVGChart.Series($0.label, ($0.scalars[c.tag] ?? []).map { (x: $0.x + 1, y: $0.y) }) })
        }.joined() + "</div>")
        page += section("budget", "Learned per-layer sparsity", runs.map { r in
            let total = Double(max(1, r.layers.reduce(0) { $0 + $1.params }))
            return "<div class=\"wide\">" + SVGChart.bars(
                title: "\(r.label): final sparsity per layer", yLabel: "percent", labels: r.layers.map(\.name),
                values: r.layers.map(\.sparsity), valueName: "sparsity (%)",
                second: r.layers.map { 100 * Double($0.params) / total }, secondName: "share of parameters (%)") + "</div>"
        }.joined())
        let str = runs.filter { r in r.scalars.keys.contains { $0.hasPrefix("thresh/") } }
        page += section("thresholds", "STR thresholds against epochs", str.isEmpty ? "<p>No STR run.</p>" : "<div class=\"grid\">" + str.map { r in
            let tags = r.scalars.keys.filter { $0.hasPrefix("thresh/") }.sorted { order(r, $0) < order(r, $1) }
            let shown = tags.count <= 8 ? tags : (0..<8).map { tags[$0 * (tags.count - 1) / 7] }
            return SVGChart.lines(title: "\(r.label): threshold" + (tags.count > 8 ? " (8 of \(tags.count) layers, evenly spaced)" : ""),
                                  xLabel: "epoch", yLabel: "threshold (weight magnitude)",
                                  shown.map { t in SVGChart.Series(String(t.dropFirst(7)), r.scalars[t]!.map { (x: $0.x + 1, y: $0.y) }) })
        }.joined() + "</div>")
        let withFlops = runs.filter { $0.flops != nil && $0.valTop1 != nil }
        page += section("comparison", "Accuracy against inference FLOPs and sparsity", "<div class=\"grid\">" +
            SVGChart.scatter(title: "Top-1 against inference FLOPs", xLabel: "inference multiply-adds per image (millions)", yLabel: "validation top-1 (%)",
                             withFlops.map { SVGChart.Series($0.label, [(x: $0.flops! / 1e6, y: $0.valTop1!)]) }) +
            SVGChart.scatter(title: "Top-1 against sparsity", xLabel: "sparsity (% of prunable weights)", yLabel: "validation top-1 (%)",
                             runs.filter { $0.sparsity != nil && $0.valTop1 != nil }.map { SVGChart.Series($0.label, [(x: $0.sparsity!, y: $0.valTop1!)]) }) +
            "</div>")
        if let scalingCSV { page += section("scaling", "Scaling study", try scaling(scalingCSV)) }
        return page + "<p>Made by strdist report from the run folders' own files.</p></body></html>\n"
    }

    static func order(_ r: RunRecord, _ tag: String) -> Int {
        r.layers.firstIndex { "thresh/" + $0.name == tag } ?? Int.max
    }

    static func section(_ id: String, _ title: String, _ body: String) -> String {
        "<section id=\"\(id)\"><h2>\(title)</h2>\(body)</section>\n"
    }

    static func table(_ runs: [RunRecord]) -> String {
        func f(_ v: Double?, _ format: String) -> String { v.map { String(format: format, $0) } ?? "–" }
        var t = "<table><tr><th>run</th><th>method</th><th>epochs</th><th>val top-1 (%)</th><th>best val top-1 (%)</th><th>sparsity (%)</th><th>inference MFLOPs</th><th>of dense (%)</th><th>training time (s)</th></tr>"
        for r in runs {
            let epochs = r.scalars["test/acc1"]?.count ?? 0
            let share = r.flops.flatMap { f in r.denseFlops.map { 100 * f / max(1, $0) } }
            t += "<tr><td>\(SVGChart.escape(r.name))</td><td>\(SVGChart.escape(r.convType))</td><td>\(epochs)</td><td>\(f(r.valTop1, "%.2f"))</td><td>\(f(r.bestTop1, "%.2f"))</td>"
            t += "<td>\(f(r.sparsity, "%.2f"))</td><td>\(f(r.flops.map { $0 / 1e6 }, "%.2f"))</td><td>\(f(share, "%.1f"))</td><td>\(f(r.seconds, "%.0f"))</td></tr>"
        }
        return t + "</table>"
    }

    /// The scaling study's CSV (scripts/scaling-study.sh): images/s and efficiency against ranks, a
    /// series per link and mode.
    static func scaling(_ path: String) throws -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigError("scaling CSV '\(path)' cannot be read (scripts/scaling-study.sh writes one)")
        }
        var lines = text.split(whereSeparator: \.isNewline).map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        guard let header = lines.first, let r = header.firstIndex(of: "ranks"), let l = header.firstIndex(of: "link"),
              let m = header.firstIndex(of: "mode"), let i = header.firstIndex(of: "images_per_s"), let e = header.firstIndex(of: "efficiency") else {
            throw ConfigError("'\(path)' is not a scaling-study CSV (needs ranks, link, mode, images_per_s, efficiency columns)")
        }
        lines.removeFirst()
        var groups: [String: [(x: Double, y: Double, e: Double)]] = [:]
        for row in lines where row.count == header.count {
            guard let ranks = Double(row[r]), let ips = Double(row[i]), let eff = Double(row[e]) else { continue }
            groups["\(row[l]) \(row[m])", default: []].append((ranks, ips, eff))
        }
        let keys = groups.keys.sorted()
        return "<div class=\"grid\">" +
            SVGChart.lines(title: "Throughput", xLabel: "ranks", yLabel: "images per second", keys.map { k in SVGChart.Series(k, groups[k]!.sorted { $0.x < $1.x }.map { (x: $0.x, y: $0.y) }) }, yFromZero: true) +
            SVGChart.lines(title: "Scaling efficiency", xLabel: "ranks", yLabel: "efficiency against 1 rank (%)", keys.map { k in SVGChart.Series(k, groups[k]!.sorted { $0.x < $1.x }.map { (x: $0.x, y: $0.e) }) }, yFromZero: true) +
            "</div>"
    }
}
