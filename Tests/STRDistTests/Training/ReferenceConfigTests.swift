// The reference's six ImageNet configs, verbatim (Fixtures/reference-configs),
// run one epoch on a small ImageNet-layout tree with only --data, --epochs,
// --batch_size and --log-dir given; and what the data decides: an unset
// num_classes is the tree's class count, fewer is an error, more a warning.
import XCTest
import Foundation
@testable import STRDist

final class ReferenceConfigTests: TemporaryDirectoryTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/reference-configs").path

    /// 3 classes × 4 train images, 1 val image each, 40×32 JPEGs.
    func tree() throws -> String {
        let data = dir + "/data"
        try PrepareData.synthetic(to: data, split: "train", classes: 3, perClass: 4, width: 40, height: 32)
        try PrepareData.synthetic(to: data, split: "val", classes: 3, perClass: 1, width: 40, height: 32)
        return data
    }

    func run(_ arguments: [String]) throws -> (Trainer, [String]) {
        var lines: [String] = []
        let config = try ConfigLoader.load(arguments: arguments)
        let trainer = try TrainingJob(config: config, print: { lines.append($0) }).run()
        return (trainer, lines)
    }

    func testEachReferenceConfigRunsOneEpochUnchanged() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.fixtures).filter { $0.hasSuffix(".yaml") }.sorted()
        XCTAssertEqual(files, ["mobilenetv1-dense.yaml", "mobilenetv1-str.yaml", "resnet50-dense.yaml",
                               "resnet50-dnw.yaml", "resnet50-gmp.yaml", "resnet50-str.yaml"])
        let data = try tree()
        for f in files {
            let text = try String(contentsOfFile: Self.fixtures + "/" + f, encoding: .utf8)
            XCTAssertFalse(text.contains("num_classes"), "\(f) is the reference's file, which has no num_classes")
            let (trainer, lines) = try run(["--config", Self.fixtures + "/" + f, "--data", data, "--epochs", "1",
                                            "--batch_size", "6", "--log-dir", dir + "/runs"])
            XCTAssertEqual(trainer.history.count, 1, f)
            XCTAssertEqual(trainer.model.network.classes, 3, f)
            XCTAssert(lines.contains { $0.contains("num_classes: 3") }, "\(f): \(lines.prefix(4))")
            XCTAssert(lines.contains { $0.contains("warning: warmup_length (5)") }, f)
            XCTAssertEqual(trainer.history[0].lr, 0.256 / 5, accuracy: 1e-9, "\(f): the reference's warm-up formula")
            XCTAssert(trainer.history[0].trainLoss.isFinite, f)
        }
        let settings = try FileManager.default.subpathsOfDirectory(atPath: dir + "/runs").filter { $0.hasSuffix("settings.txt") }
        XCTAssertEqual(settings.count, 6)
        for s in settings {
            XCTAssert(try String(contentsOfFile: dir + "/runs/" + s, encoding: .utf8).contains("num_classes: 3\n"),
                      "\(s) records the resolved class count")
        }
    }

    func testExplicitNumClassesBelowTheDataIsAnErrorAboveItAWarning() throws {
        let data = try tree()
        let base = ["--arch", "ResNet18", "--width_mult", "0.125", "--set", "ImageNet", "--data", data, "--image_size", "32",
                    "--epochs", "1", "--batch_size", "6", "--log-dir", dir + "/runs", "--workers", "0"]
        XCTAssertThrowsError(try run(base + ["--num_classes", "2"])) { e in
            XCTAssert("\(e)".contains("'num_classes' is 2") && "\(e)".contains("has 3 classes"), "\(e)")
        }
        let (trainer, lines) = try run(base + ["--num_classes", "5"])
        XCTAssertEqual(trainer.model.network.classes, 5)
        XCTAssert(lines.contains { $0.contains("warning: num_classes 5 is more than the 3 classes") }, "\(lines.prefix(5))")
    }

    func testAPlanLargerThanTheMachineIsRefusedBeforeAllocating() throws {
        let data = try tree()
        let base = ["--config", Self.fixtures + "/resnet50-str.yaml", "--data", data, "--epochs", "1", "--log-dir", dir + "/runs"]
        for extra in [["--batch_size", "12", "--image_size", "8192"], ["--batch_size", "6", "--width_mult", "48"]] {
            XCTAssertThrowsError(try run(base + extra)) { e in
                let text = "\(e)"
                XCTAssert(text.contains("needs") && text.contains("but this machine has") && text.contains("GiB"), text)
                XCTAssertFalse(text.contains("\n"))
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/runs"), "refused before any run folder is made")
    }

    /// The estimate is what the network then allocates.
    func testMemoryPlanMatchesTheAllocatedArenas() throws {
        var o = ModelOptions()
        o.arch = "ResNet18"; o.numClasses = 10; o.widthMultiplier = 0.25; o.smallInputStem = true; o.convKind = .gmp
        let input = ActShape(channels: 3, batch: 8, height: 32, width: 32)
        let plan = try MemoryPlan.estimate(o, input: input, threads: 3, optimizerCopies: 1, loaderBatches: 4)
        let model = try Model(o, threads: 3)
        model.network.plan(input)
        XCTAssertEqual(plan.workspaceBytes, model.network.context.workspace.bytes)
        let store = model.network.store
        XCTAssertEqual(plan.parameterBytes, 4 * (3 * store.values.count + store.bufferValues.count))
        XCTAssertEqual(plan.loaderBytes, 4 * 4 * input.count)
    }
}
