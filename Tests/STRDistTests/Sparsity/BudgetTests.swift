// Budget transfer: per-layer sparsities from an STR model (`--use-budget`)
// or from the paper's CSV (`--budget-file`, any column) become the prune
// rates of DNW layers and the final rates of GMP layers.
import XCTest
import Foundation
@testable import STRDist

final class BudgetTests: XCTestCase {
    func csvPath() throws -> String {
        let path = NSTemporaryDirectory() + "strdist-budget-\(UUID().uuidString.prefix(8)).csv"
        // As shipped: a byte-order mark, then the header.
        try ("\u{FEFF}" + BudgetFixture.resnet50At90 + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testCSVColumnsAndErrors() throws {
        let path = try csvPath()
        let str = try Budget.fromCSV(path, column: nil)
        XCTAssertEqual(str.count, 54)
        XCTAssertEqual(str[0], 0.598, accuracy: 1e-12)
        XCTAssertEqual(str[53], 0.645, accuracy: 1e-12)
        let erk = try Budget.fromCSV(path, column: "ERK")
        XCTAssertEqual(erk[1], 0)
        XCTAssertEqual(erk[53], 0.93, accuracy: 1e-12)
        XCTAssertThrowsError(try Budget.fromCSV(path, column: "ERX")) { e in
            XCTAssert("\(e)".contains("no column 'ERX' (did you mean 'ERK'?"), "\(e)")
        }
        XCTAssertThrowsError(try Budget.fromCSV(path + ".missing", column: nil)) { e in
            XCTAssert("\(e)".contains("cannot be read"), "\(e)")
        }
    }

    func testCSVBudgetSetsEveryResNet50Layer() throws {
        var o = ModelOptions()
        o.arch = "ResNet50"; o.numClasses = 1000; o.convKind = .dnw; o.pruneRate = 0.9
        let model = try Model(o, threads: 1)
        let path = try csvPath()
        let rates = try Budget.byLayer(try Budget.fromCSV(path, column: "GS"), model: model, path: path)
        XCTAssertEqual(Budget.apply(rates, to: model), 54)
        XCTAssertEqual(model.convs[0].name, "conv1")
        XCTAssertEqual(model.convs[0].pruneRate!, 0.3511, accuracy: 1e-6)
        XCTAssertEqual(model.convs[53].name, "fc")
        XCTAssertEqual(model.convs[53].pruneRate!, 0.7343, accuracy: 1e-6)

        let small = try tinyModel(.dnw)
        XCTAssertThrowsError(try Budget.byLayer(try Budget.fromCSV(path, column: nil), model: small, path: path)) { e in
            XCTAssert("\(e)".contains("has 54 layers but ResNet18 has 21 weighted layers"), "\(e)")
        }
    }

    func testSTRBudgetBecomesDNWAndGMPRates() throws {
        let str = try tinyModel(.str, sInit: -1.5)
        let report = str.sparsityReport()
        let budget = try Budget.fromSTR(Checkpoint.modelTensors(str.network.store), what: "str")
        XCTAssertEqual(budget.count, 21)
        for l in report.layers { XCTAssertEqual(budget[l.name]!, l.sparsity / 100, accuracy: 1e-12, l.name) }

        let dnw = try tinyModel(.dnw, seed: 3)
        XCTAssertEqual(Budget.apply(budget, to: dnw), 21)
        for (a, b) in zip(dnw.sparsityReport().layers, report.layers) {
            XCTAssertEqual(a.nonzero, b.nonzero, accuracy: 1, "\(a.name): DNW keeps as many weights as STR did")
        }

        let gmp = try tinyModel(.gmp, seed: 3, pruneEpochs: (0, 4))
        Budget.apply(budget, to: gmp)
        let schedule = PruneSchedule(target: 0.9, initEpoch: 0, finalEpoch: 4)
        gmp.pruning.apply(epoch: 10)
        for c in gmp.convs {
            var own = schedule
            own.target = budget[c.name]!
            XCTAssertEqual(Double(c.pruneRate!), own.rate(epoch: 10), accuracy: 1e-6, c.name)
            XCTAssertEqual(own.rate(epoch: 10), own.target * (1 - pow(0.2, 3)), accuracy: 1e-12)
        }

        XCTAssertThrowsError(try Budget.fromSTR(Checkpoint.modelTensors(dnw.network.store), what: "dnw.safetensors")) { e in
            XCTAssert("\(e)".contains("has no sparseThreshold tensors"), "\(e)")
        }
    }
}
