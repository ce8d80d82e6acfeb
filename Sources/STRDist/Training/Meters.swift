// Running averages and the reference's progress line:
// "Epoch: [e][ i/N]\tTime  0.123 ( 0.120)\tData …\tLoss 2.303 (2.310)\tAcc@1 …\tAcc@5 …"

import Foundation

public struct AverageMeter {
    public let name: String, format: String
    public private(set) var value = 0.0, sum = 0.0, count = 0.0

    public init(_ name: String, _ format: String) { self.name = name; self.format = format }

    public var average: Double { count > 0 ? sum / count : 0 }

    public mutating func update(_ v: Double, n: Int = 1) {
        value = v; sum += v * Double(n); count += Double(n)
    }

    /// Restores a saved meter (a resumed epoch): its sum and count.
    public mutating func restore(sum: Double, count: Double) { self.sum = sum; self.count = count }

    /// Replaces the running average (e.g. by one summed over ranks).
    public mutating func set(average: Double, count n: Int) {
        value = average; sum = average * Double(n); count = Double(n)
    }

    public var text: String { "\(name) \(String(format: format, value)) (\(String(format: format, average)))" }
}

public struct ProgressMeter {
    public let prefix: String
    public let batches: Int

    public init(batches: Int, prefix: String) { self.batches = batches; self.prefix = prefix }

    public func line(_ batch: Int, _ meters: [AverageMeter]) -> String {
        let width = String(batches).count
        let head = prefix + "[" + String(repeating: " ", count: max(0, width - String(batch).count)) + "\(batch)/\(batches)]"
        return ([head] + meters.map(\.text)).joined(separator: "\t")
    }
}

/// A one-line bar redrawn in place (like tqdm), only when stdout is a terminal.
public struct ProgressBar {
    public let enabled: Bool
    public let total: Int

    public init(total: Int, enabled: Bool = isatty(STDOUT_FILENO) == 1) {
        self.total = total
        self.enabled = enabled
    }

    /// The bar after `done` of `total` steps, e.g. "  42%|########            | 197/468".
    public func text(_ done: Int) -> String {
        let width = 30, filled = total > 0 ? width * done / total : width
        let percent = total > 0 ? 100 * done / total : 100
        return String(format: "%4d%%|", percent) + String(repeating: "#", count: filled)
            + String(repeating: " ", count: width - filled) + "| \(done)/\(total)"
    }

    public func draw(_ done: Int) {
        guard enabled else { return }
        FileHandle.standardOutput.write(("\r" + text(done)).data(using: .utf8)!)
    }

    /// Clears the bar so a normal line can be printed.
    public func clear() {
        guard enabled else { return }
        FileHandle.standardOutput.write(("\r" + String(repeating: " ", count: 50) + "\r").data(using: .utf8)!)
    }
}
