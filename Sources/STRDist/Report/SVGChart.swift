// Charts as inline SVG, readable without colour: the Okabe–Ito palette (distinguishable with the
// common colour-vision deficiencies), and each series also has its own dash pattern and marker
// shape; axes carry labels with units, and every series is named in a legend.

import Foundation

public enum SVGChart {
    public struct Series {
        public var label: String
        public var points: [(x: Double, y: Double)]
        public init(_ label: String, _ points: [(x: Double, y: Double)]) { self.label = label; self.points = points }
    }

    static let palette = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#000000", "#F0E442"]
    static let dashes = ["", "6 3", "2 3", "8 3 2 3", "4 4", "1 2", "10 4", "3 6"]
    static let width = 560.0, height = 300.0
    static let left = 64.0, right = 16.0, top = 28.0, bottom = 44.0

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func number(_ v: Double) -> String {
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 1e9 { return String(format: "%.3gG", v / 1e9) }
        if a >= 1e6 { return String(format: "%.3gM", v / 1e6) }
        if a >= 1e4 { return String(format: "%.3gk", v / 1e3) }
        return String(format: "%.3g", v)
    }

    /// Five round ticks over lo…hi.
    static func ticks(_ lo: Double, _ hi: Double) -> [Double] {
        let span = max(hi - lo, 1e-12)
        let raw = span / 4, mag = pow(10, floor(log10(raw)))
        let step = [1, 2, 2.5, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? raw
        var out: [Double] = [], t = (lo / step).rounded(.down) * step
        while t <= hi + step * 1e-9 { if t >= lo - step * 1e-9 { out.append(t) }; t += step }
        return out
    }

    /// Series k's dash pattern: from the ninth series on (colours come round again) another pattern
    /// than the series of the same colour.
    static func dash(_ k: Int) -> String { dashes[(k + 3 * (k / palette.count)) % dashes.count] }

    /// A marker of series `k`'s shape at (x, y) (shifted like its dash from the ninth series on).
    static func marker(_ k: Int, _ x: Double, _ y: Double, _ colour: String) -> String {
        let p = String(format: "%.1f", x), q = String(format: "%.1f", y)
        switch (k + k / palette.count) % 4 {
        case 0: return "<circle cx=\"\(p)\" cy=\"\(q)\" r=\"3.5\" fill=\"\(colour)\"/>"
        case 1: return "<rect x=\"\(String(format: "%.1f", x - 3.5))\" y=\"\(String(format: "%.1f", y - 3.5))\" width=\"7\" height=\"7\" fill=\"\(colour)\"/>"
        case 2: return "<path d=\"M\(p) \(String(format: "%.1f", y - 4.5))L\(String(format: "%.1f", x + 4)) \(String(format: "%.1f", y + 3))L\(String(format: "%.1f", x - 4)) \(String(format: "%.1f", y + 3))Z\" fill=\"\(colour)\"/>"
        default: return "<path d=\"M\(p) \(String(format: "%.1f", y - 4.5))L\(String(format: "%.1f", x + 4.5)) \(q)L\(p) \(String(format: "%.1f", y + 4.5))L\(String(format: "%.1f", x - 4.5)) \(q)Z\" fill=\"\(colour)\"/>"
        }
    }

    /// Axes, grid, labels and legend around `body(xScale, yScale)`.
    static func frame(title: String, xLabel: String, yLabel: String, xRange: (Double, Double), yRange: (Double, Double),
                      legend: [String], lines: Bool, _ body: ((Double) -> Double, (Double) -> Double) -> String) -> String {
        // A flat range (one point, a constant learning rate) is widened around its value.
        func widen(_ r: (Double, Double)) -> (Double, Double) {
            guard r.0 == r.1 else { return r }
            let pad = r.0 == 0 ? 1 : abs(r.0) * 0.1
            return (r.0 - pad, r.1 + pad)
        }
        let (x0, x1) = widen(xRange), (y0, y1) = widen(yRange)
        let sx = { (v: Double) in left + (v - x0) / (x1 - x0) * (width - left - right) }
        let sy = { (v: Double) in height - bottom - (v - y0) / (y1 - y0) * (height - top - bottom) }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height + 18 * Double((legend.count + 2) / 3)))\" role=\"img\" aria-label=\"\(escape(title))\" font-family=\"sans-serif\" font-size=\"11\">"
        svg += "<title>\(escape(title))</title><text x=\"\(Int(left))\" y=\"16\" font-size=\"13\" font-weight=\"bold\">\(escape(title))</text>"
        for t in ticks(y0, y1) {
            svg += String(format: "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>", left, width - right, sy(t), sy(t))
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%@</text>", left - 4, sy(t) + 4, number(t))
        }
        for t in ticks(x0, x1) {
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%@</text>", sx(t), height - bottom + 14, number(t))
        }
        svg += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#444\"/>",
                      left, top, width - left - right, height - top - bottom)
        svg += "<text x=\"\(Int((left + width - right) / 2))\" y=\"\(Int(height - 8))\" text-anchor=\"middle\">\(escape(xLabel))</text>"
        svg += "<text transform=\"translate(14 \(Int((top + height - bottom) / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))</text>"
        svg += body(sx, sy)
        for (k, name) in legend.enumerated() {
            let lx = left + Double(k % 3) * 165, ly = height + 8 + 18 * Double(k / 3)
            let c = palette[k % palette.count]
            if lines { svg += String(format: "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%@\" stroke-width=\"2\" stroke-dasharray=\"%@\"/>", lx, lx + 26, ly, ly, c, dash(k)) }
            svg += marker(k, lx + 13, ly, c)
            svg += "<text x=\"\(Int(lx + 32))\" y=\"\(Int(ly + 4))\">\(escape(name))</text>"
        }
        return svg + "</svg>"
    }

    static func range(_ values: [Double], floor zero: Bool = false) -> (Double, Double) {
        let finite = values.filter(\.isFinite)
        guard let lo = finite.min(), let hi = finite.max() else { return (0, 1) }
        return (zero ? min(0, lo) : lo, hi)
    }

    /// Lines with markers, one per series.
    public static func lines(title: String, xLabel: String, yLabel: String, _ series: [Series], yFromZero: Bool = false) -> String {
        let xs = series.flatMap { $0.points.map(\.x) }, ys = series.flatMap { $0.points.map(\.y) }
        return frame(title: title, xLabel: xLabel, yLabel: yLabel, xRange: range(xs), yRange: range(ys, floor: yFromZero),
                     legend: series.map(\.label), lines: true) { sx, sy in
            var out = ""
            for (k, s) in series.enumerated() where !s.points.isEmpty {
                let c = palette[k % palette.count]
                let d = s.points.enumerated().map { String(format: "%@%.1f %.1f", $0.offset == 0 ? "M" : "L", sx($0.element.x), sy($0.element.y)) }.joined()
                out += "<path d=\"\(d)\" fill=\"none\" stroke=\"\(c)\" stroke-width=\"2\" stroke-dasharray=\"\(dash(k))\"/>"
                let every = max(1, s.points.count / 12)
                for (i, p) in s.points.enumerated() where i % every == 0 || i == s.points.count - 1 { out += marker(k, sx(p.x), sy(p.y), c) }
            }
            return out
        }
    }

    /// Points only, each series one marker shape, labelled.
    public static func scatter(title: String, xLabel: String, yLabel: String, _ series: [Series]) -> String {
        let xs = series.flatMap { $0.points.map(\.x) }, ys = series.flatMap { $0.points.map(\.y) }
        // Points keep off the frame: 5% of room on each side.
        func pad(_ r: (Double, Double)) -> (Double, Double) { let m = max(r.1 - r.0, abs(r.1), 1e-9) * 0.05; return (r.0 - m, r.1 + m) }
        return frame(title: title, xLabel: xLabel, yLabel: yLabel, xRange: pad(range(xs, floor: true)), yRange: pad(range(ys)),
                     legend: series.map(\.label), lines: false) { sx, sy in
            series.enumerated().map { k, s in s.points.map { marker(k, sx($0.x), sy($0.y), palette[k % palette.count]) }.joined() }.joined()
        }
    }

    /// Per-layer bars (in layer order) of `values` (0…100), with a second series drawn as thin bars.
    public static func bars(title: String, yLabel: String, labels: [String], values: [Double], valueName: String,
                            second: [Double], secondName: String) -> String {
        let n = max(1, labels.count)
        let chartWidth = max(2 * width, 14 * Double(n) + left + right)
        let plot = chartWidth - left - right, slot = plot / Double(n)
        let sy = { (v: Double) in height - bottom - v / 100 * (height - top - bottom) }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(chartWidth)) \(Int(height + 40))\" role=\"img\" aria-label=\"\(escape(title))\" font-family=\"sans-serif\" font-size=\"11\">"
        svg += "<title>\(escape(title))</title><text x=\"\(Int(left))\" y=\"16\" font-size=\"13\" font-weight=\"bold\">\(escape(title))</text>"
        for t in stride(from: 0.0, through: 100, by: 25) {
            svg += String(format: "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.0f</text>", left, chartWidth - right, sy(t), sy(t), left - 4, sy(t) + 4, t)
        }
        for i in 0..<labels.count {
            let x = left + slot * Double(i)
            svg += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%@\"><title>%@: %.2f%%</title></rect>", x + slot * 0.1, sy(values[i]), slot * 0.55, sy(0) - sy(values[i]), palette[0], escape(labels[i]), values[i])
            if i < second.count {
                svg += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%@\" stroke=\"#000\" stroke-width=\"0.5\"/>", x + slot * 0.65, sy(second[i]), slot * 0.25, sy(0) - sy(second[i]), palette[1])
            }
        }
        svg += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#444\"/>", left, top, plot, height - top - bottom)
        svg += "<text x=\"\(Int(left + plot / 2))\" y=\"\(Int(height - 22))\" text-anchor=\"middle\">layers in order (input → classifier), \(n) in all</text>"
        svg += "<text transform=\"translate(14 \(Int((top + height - bottom) / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))</text>"
        svg += "<rect x=\"\(Int(left))\" y=\"\(Int(height - 8))\" width=\"14\" height=\"10\" fill=\"\(palette[0])\"/><text x=\"\(Int(left + 18))\" y=\"\(Int(height + 1))\">\(escape(valueName))</text>"
        svg += "<rect x=\"\(Int(left + 200))\" y=\"\(Int(height - 8))\" width=\"6\" height=\"10\" fill=\"\(palette[1])\" stroke=\"#000\" stroke-width=\"0.5\"/><text x=\"\(Int(left + 212))\" y=\"\(Int(height + 1))\">\(escape(secondName))</text>"
        return svg + "</svg>"
    }
}
