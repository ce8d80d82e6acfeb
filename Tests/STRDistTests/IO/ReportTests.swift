// `strdist report` over two real runs (STR and GMP, Fashion-MNIST in miniature): every section is on
// the page with the runs' final numbers, and headless Chromium renders it to a screenshot that is
// not blank (far larger than an empty page's). CI has Chromium (scripts/setup.sh installs it).
import XCTest
import Foundation
@testable import STRDist

final class ReportTests: TemporaryDirectoryTestCase {
    func run(_ name: String, _ extra: [String]) throws -> String {
        let data = "/usr/share/datasets/fashion-mnist"
        try XCTSkipUnless(FileManager.default.fileExists(atPath: data), "dataset-fashion-mnist not installed")
        let c = try ConfigLoader.load(path: nil, overrides: [
            "--arch", "ResNet18", "--cifar_stem", "--stem_stride", "2", "--width_mult", "0.25", "--data", data,
            "--batch_size", "64", "--train_subset", "192", "--lr", "0.05", "--epochs", "2", "--threads", "2",
            "--seed", "3", "--print_freq", "100", "--log_dir", dir + "/runs", "--workers", "0", "--name", name,
        ] + extra)
        try TrainingJob(config: c, print: { _ in }).run()
        return try RunDirectory.latestResumable(c).map(\.path) ?? XCTUnwrap(nil as String?)
    }

    func testTheReportShowsEverySectionAndRendersInChromium() throws {
        let str = try run("str", ["--conv_type", "STRConv", "--sInit_value", "-3", "--weight_decay", "0.005"])
        let gmp = try run("gmp", ["--conv_type", "GMPConv", "--prune_rate", "0.8", "--init_prune_epoch", "0", "--final_prune_epoch", "1"])
        let runs = try [str, gmp].map { try RunRecord(folder: $0) }
        let scaling = dir + "/scaling.csv"
        // CRLF, as a spreadsheet saves it ("\r\n" is one Character in Swift: split on newlines, not "\n").
        try "ranks,hosts,link,mode,batch_per_rank,images_per_s,efficiency\r\n1,1,shm,weak,16,50,100\r\n2,1,shm,weak,16,95,95\r\n"
            .write(toFile: scaling, atomically: true, encoding: .utf8)
        let html = try ReportPage.html(runs, scalingCSV: scaling)
        for id in ["summary", "curves", "budget", "thresholds", "comparison", "scaling"] {
            XCTAssertTrue(html.contains("<section id=\"\(id)\">"), "section \(id) missing")
        }
        XCTAssertFalse(html.contains("<script"), "readable without JavaScript")
        XCTAssertFalse(html.contains("src=") || html.contains("href=\"http") || html.contains("url("), "nothing fetched from the network")
        for r in runs {
            let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: r.folder + "/summary.json"))) as! [String: Any]
            let top1 = String(format: "%.2f", summary["val_top1"] as! Double), sparsity = String(format: "%.2f", summary["sparsity"] as! Double)
            XCTAssertTrue(html.contains("<td>\(top1)</td>") && html.contains("<td>\(sparsity)</td>"), "\(r.name): final top-1 \(top1), sparsity \(sparsity)")
            XCTAssertEqual(r.layers.count, 21)
        }
        XCTAssertTrue(html.contains("str (STRConv): threshold"), "STR thresholds plotted")
        let scalingPart = html[html.range(of: "<section id=\"scaling\">")!.lowerBound...]
        XCTAssertEqual(scalingPart.components(separatedBy: "<path d=\"M").count - 1, 2, "a throughput and an efficiency line")
        XCTAssertTrue(html.contains("inference multiply-adds per image (millions)") && html.contains("epoch"), "axes labelled with units")

        let page = dir + "/report.html"
        try html.write(toFile: page, atomically: true, encoding: .utf8)
        try "<!DOCTYPE html><html><body></body></html>".write(toFile: dir + "/blank.html", atomically: true, encoding: .utf8)
        guard let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: FileManager.default.isExecutableFile) else {
            if getuid() == 0 { XCTFail("chromium is missing (scripts/setup.sh installs it)") }
            throw XCTSkip("chromium not installed")
        }
        func shot(_ file: String, _ png: String) -> Int {
            // Its own profile (HOME may be read-only or unset) and no /dev/shm (a container's is 64 MB).
            let r = ChildProcess.run(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1240,2900",
                                                "--user-data-dir=\(dir)/chromium-profile", "--disable-dev-shm-usage",
                                                "--screenshot=\(png)", "file://\(file)"], limit: 120)
            XCTAssertEqual(r.status, 0, r.output)
            return ((try? FileManager.default.attributesOfItem(atPath: png)[.size]) as? Int) ?? 0
        }
        let blank = shot(dir + "/blank.html", dir + "/blank.png"), report = shot(page, dir + "/report.png")
        XCTAssertGreaterThan(blank, 0)
        XCTAssertGreaterThan(report, 10 * blank, "the screenshot is not blank: \(report) bytes against an empty page's \(blank)")
    }

    /// Sixteen runs (the methods comparison has ten) each get a style of their own: colour, dash, marker.
    func testSeriesStylesStayDistinctPastThePalette() {
        let styles = (0..<16).map { k in
            "\(SVGChart.palette[k % SVGChart.palette.count]) \(SVGChart.dash(k)) " + SVGChart.marker(k, 0, 0, "")
        }
        XCTAssertEqual(Set(styles).count, 16, styles.joined(separator: "\n"))
    }
}
