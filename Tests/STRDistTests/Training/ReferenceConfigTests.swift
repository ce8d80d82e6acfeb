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

    /// The trainer, its progress lines and its warnings (standard output's and standard error's).
    func run(_ arguments: [String]) throws -> (Trainer, [String], [String]) {
        var lines: [String] = []
        let warnings = Locked<[String]>([])
        let config = try ConfigLoader.load(arguments: arguments)
        let trainer = try TrainingJob(config: config, print: { lines.append($0) },
                                      warnings: { line in warnings.update { $0.append(line) } }).run()
        return (trainer, lines, warnings.value)
    }

    func testEachReferenceConfigRunsOneEpochUnchanged() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.fixtures).filter { $0.hasSuffix(".yaml") }.sorted()
        XCTAssertEqual(files, ["mobilenetv1-dense.yaml", "mobilenetv1-str.yaml", "resnet50-dense.yaml",
                               "resnet50-dnw.yaml", "resnet50-gmp.yaml", "resnet50-str.yaml"])
        let data = try tree()
        for f in files {
            let text = try String(contentsOfFile: Self.fixtures + "/" + f, encoding: .utf8)
            XCTAssertFalse(text.contains("num_classes"), "\(f) is the reference's file, which has no num_classes")
            let (trainer, lines, warnings) = try run(["--config", Self.fixtures + "/" + f, "--data", data, "--epochs", "1",
                                            "--batch_size", "6", "--log-dir", dir + "/runs"])
            XCTAssertEqual(trainer.history.count, 1, f)
            XCTAssertEqual(trainer.model.network.classes, 3, f)
            XCTAssert(lines.contains { $0.contains("num_classes: 3") }, "\(f): \(lines.prefix(4))")
            XCTAssert(warnings.contains { $0.hasPrefix("warmup_length (5)") }, "\(f): \(warnings)")
            XCTAssertFalse(lines.contains { $0.contains("warmup_length") }, "\(f): a warning is not a progress line")
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
        let (trainer, _, warnings) = try run(base + ["--num_classes", "5"])
        XCTAssertEqual(trainer.model.network.classes, 5)
        XCTAssert(warnings.contains { $0.hasPrefix("num_classes 5 is more than the 3 classes") }, "\(warnings)")
    }

    /// The program itself: warnings on standard error, progress on standard output, so a user who
    /// redirects or pipes the progress still sees the warnings.
    func testWarningsGoToStandardErrorAndProgressToStandardOutput() throws {
        let data = try tree()
        let r = ChildProcess.shell("'\(TinyRun.binary)' --arch ResNet18 --width_mult 0.125 --set ImageNet --data '\(data)' " +
                                   "--image_size 32 --epochs 1 --batch_size 6 --num_classes 5 --log-dir '\(dir)/runs' --workers 0 " +
                                   "--threads 1 >'\(dir)/out' 2>'\(dir)/err'")
        XCTAssertEqual(r.status, 0, r.output)
        let out = try String(contentsOfFile: dir + "/out", encoding: .utf8), err = try String(contentsOfFile: dir + "/err", encoding: .utf8)
        XCTAssert(err.contains("=> warning: num_classes 5 is more than the 3 classes"), err)
        XCTAssertFalse(out.contains("warning"), out)
        XCTAssert(out.contains("=> epoch 0: lr"), out)
    }

    func testAPlanLargerThanTheMachineIsRefusedBeforeAllocating() throws {
        let data = try tree()
        let base = ["--config", Self.fixtures + "/resnet50-str.yaml", "--data", data, "--epochs", "1", "--log-dir", dir + "/runs"]
        for extra in [["--batch_size", "12", "--image_size", "8192"], ["--batch_size", "6", "--width_mult", "48"]] {
            // (About 1.6 TiB and 0.7 TiB: a machine that holds one would rightly start it.)
            let c = try ConfigLoader.load(arguments: base + extra)
            let plan = try MemoryPlan.estimate(c.modelOptions, input: ActShape(channels: 3, batch: c.batchSize, height: c.inputSize,
                                                                               width: c.inputSize), threads: 1, optimizerCopies: 1, loaderBatches: 0)
            guard plan.totalBytes > MachineMemory.bytes else { continue }
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
