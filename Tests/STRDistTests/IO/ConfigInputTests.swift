// Config values checked where they enter: non-finite and out-of-range
// numbers, integers that do not fit, YAML surprises (duplicates, bad UTF-8,
// syntax, depth and alias bombs), `--config` twice, and suggestions that know
// the aliases. Each error is one line naming the key or file.
import XCTest
import Foundation
@testable import STRDist

final class ConfigInputTests: TemporaryDirectoryTestCase {
    func file(_ text: String, _ name: String = "c.yaml") -> String {
        let path = dir + "/" + name
        try! text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func expectError(_ arguments: [String], _ fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try ConfigLoader.load(arguments: arguments), file: file, line: line) { e in
            let text = "\(e)"
            XCTAssertFalse(text.contains("\n"), "one line: \(text)", file: file, line: line)
            for f in fragments { XCTAssert(text.contains(f), "'\(text)' should mention '\(f)'", file: file, line: line) }
        }
    }

    func testNonFiniteFloatsAreRefusedForEveryFloatKey() {
        let floats = ConfigKey.table.compactMap { key, kind -> String? in
            switch kind { case .double, .optionalDouble: return key; default: return nil }
        }
        XCTAssertGreaterThanOrEqual(floats.count, 11)
        for key in floats.sorted() {
            for bad in ["nan", "inf", "-inf"] {
                expectError(["--\(key)", bad], ["'\(key)'", "finite", bad])
            }
            for bad in [".nan", ".inf", "-.inf"] {
                expectError(["--config", file("\(key): \(bad)\n")], ["'\(key)'", "line 1", "finite"])
            }
        }
    }

    func testIntegersThatDoNotFitNameTheKeyAndItsRange() throws {
        expectError(["--config", file("epochs: 1e30\n")], ["'epochs'", "0…1000000", "1e30"])
        expectError(["--config", file("seed: 1.0e+300\n")], ["'seed'", "0…9223372036854775807", "1.0e+300"])
        expectError(["--config", file("batch_size: .inf\n")], ["'batch_size'", "1…16777216"])
        expectError(["--seed", "9223372036854775808"], ["'seed'"])
        expectError(["--epochs", "2.5"], ["'epochs'", "integer"])
        expectError(["--start_epoch", "-1"], ["'start_epoch'", "0…"])
        expectError(["--threads", "65"], ["'threads'", "0…64"])
        expectError(["--num_classes", "1"], ["'num_classes'", "2…"])
        expectError(["--width_mult", "0"], ["'width_mult'", "(0, 64]"])
        // Whole numbers written as floats still count as integers.
        let c = try ConfigLoader.load(arguments: ["--config", file("epochs: 3.0\nseed: 7\n"), "--batch_size", "1e2"])
        XCTAssertEqual([c.epochs, c.seed, c.batchSize], [3, 7, 100])
        // Every integer key has a range that an Int holds with room to spare.
        for (key, kind) in ConfigKey.table {
            if case .int(_, let r) = kind { XCTAssertLessThan(r.lowerBound, r.upperBound, key) }
        }
    }

    func testKeyGivenTwiceNamesBothLines() {
        expectError(["--config", file("lr: 0.1\nepochs: 3\nlr: 0.2\n")], ["'lr' twice", "line 1", "line 3"])
        expectError(["--config", file("batch_size: 8\n# note\nb: 16\n")], ["'batch_size'", "'b'", "line 1", "line 3"])
    }

    func testConfigGivenTwiceIsAnError() {
        let a = file("lr: 0.1\n", "a.yaml"), b = file("lr: 0.2\n", "b.yaml")
        expectError(["--config", a, "--config=" + b], ["--config is given twice", "a.yaml", "b.yaml"])
        expectError(["--config"], ["--config needs a file path"])
    }

    func testUnreadableNonUTF8AndNonYAMLFilesSaySoWithTheLine() throws {
        let path = dir + "/latin1.yaml"
        try Data("lr: 0.1\nname: caf".utf8 + [0xE9] + Data("\n".utf8)).write(to: URL(fileURLWithPath: path))
        expectError(["--config", path], ["latin1.yaml", "not UTF-8", "line 2"])
        expectError(["--config", file("lr: 0.1\nname: [a, b\nepochs: 3\n")], ["not valid YAML", "line 3"])
        expectError(["--config", file("lr: 0.1\n\tepochs: 3\n")], ["not valid YAML", "line 2"])
        expectError(["--config", file("- 1\n- 2\n")], ["must be a mapping"])
        expectError(["--config", file("lr: [0.1, 0.2]\n")], ["'lr'", "got 'a list'"])
        expectError(["--config", dir + "/missing.yaml"], ["missing.yaml", "does not exist"])
        expectError(["--config", dir], ["is a folder"])
        // A UTF-8 byte-order mark is fine.
        let bom = dir + "/bom.yaml"
        try Data([0xEF, 0xBB, 0xBF] + Array("lr: 0.3\n".utf8)).write(to: URL(fileURLWithPath: bom))
        XCTAssertEqual(try ConfigLoader.load(arguments: ["--config", bom]).lr, 0.3)
    }

    func testDeepNestingAndAliasBombsAreRefusedBeforeParsing() throws {
        let deep = String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000)
        expectError(["--config", file("lr: 0.1\na: " + deep + "\n")], ["nests deeper than 64", "line 2"])
        let blocks = (0..<100).map { String(repeating: "  ", count: $0) + "k\($0):" }.joined(separator: "\n") + " 1\n"
        expectError(["--config", file(blocks)], ["nests deeper than 64"])
        var laughs = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        for i in 1..<10 { laughs.append("a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 9).joined(separator: ", ") + "]") }
        expectError(["--config", file(laughs.joined(separator: "\n") + "\n")], ["aliases", "100000", "line"])
        let big = String(repeating: "# padding\n", count: 120_000)
        expectError(["--config", file(big)], ["over 1 MiB"])
        // Ordinary anchors and aliases in a config still work.
        let c = try ConfigLoader.load(arguments: ["--config", file("lr: &base 0.2\nmultistep_lr_gamma: *base\n")])
        XCTAssertEqual([c.lr, c.multistepLrGamma], [0.2, 0.2])
    }

    func testSuggestionsConsiderTheAliases() {
        expectError(["--lerning_rate", "0.1"], ["'lerning_rate'", "did you mean 'lr'", "learning-rate"])
        expectError(["--wieght_decay", "0.1"], ["did you mean 'weight_decay'"])
        expectError(["--config", file("bacth_size: 3\n")], ["'bacth_size'", "line 1", "did you mean 'batch_size'"])
    }

    func testWarmupAsLongAsTheRunIsAWarningAndFollowsTheReference() throws {
        let c = try ConfigLoader.load(arguments: ["--lr_policy", "cosine_lr", "--warmup_length", "5", "--epochs", "1", "--lr", "0.256"])
        XCTAssertEqual(c.warnings.count, 1)
        XCTAssert(c.warnings[0].contains("warmup_length (5)"), c.warnings[0])
        XCTAssertEqual(c.lrPolicyValue.rate(epoch: 0), 0.256 / 5, accuracy: 1e-12)
        let three = try ConfigLoader.load(arguments: ["--lr_policy", "cosine_lr", "--warmup_length", "5", "--epochs", "5"])
        XCTAssertEqual((0..<5).map { three.lrPolicyValue.rate(epoch: $0) }, (1...5).map { 0.1 * Double($0) / 5 })
        XCTAssertTrue(try ConfigLoader.load(arguments: ["--warmup_length", "2", "--epochs", "10"]).warnings.isEmpty)
    }
}
