// strdist report RUN_FOLDER… --out report.html [--scaling CSV]
import ArgumentParser
import Foundation
import STRDist

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "One self-contained HTML page over run folders: curves, learned budgets, thresholds, accuracy against FLOPs.")

    @Argument(help: "Run folders (each holds settings.txt, logs/ and sparsity_per_layer.csv).") var runs: [String]
    @Option(help: "The HTML file to write.") var out = "report.html"
    @Option(help: "A scaling-study CSV (scripts/scaling-study.sh) to plot too.") var scaling: String?

    func run() throws {
        do {
            let records = try runs.map { try RunRecord(folder: $0) }
            try AtomicFile.write(Data(try ReportPage.html(records, scalingCSV: scaling).utf8), to: out)
            print("=> report of \(records.count) run(s) written to \(out)")
        } catch { fail(error) }
    }
}
