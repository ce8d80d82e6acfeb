// What a run leaves behind, as the reference lays it out; TensorBoard files
// read back (and refused when damaged); settings.txt reloads as the same
// config; a run stopped after an epoch and resumed ends bit-identical to the
// uninterrupted one.
import XCTest
import Foundation
@testable import STRDist

final class RunOutputTests: TemporaryDirectoryTestCase {
    func testTensorBoardEventsReadBack() throws {
        let w = try EventWriter(directory: dir + "/logs")
        w.scalars([("test/acc1", 12.5), ("sparsity/layer1.0.conv1", 90.25)], step: 0)
        w.scalars([("test/acc1", 50)], step: 1)
        w.scalars([("train/Loss_val", 2.5)], step: 1 << 40)
        w.flush()
        let s = try EventReader.scalars(w.path)
        XCTAssertEqual(s["test/acc1"]!.map(\.step), [0, 1])
        XCTAssertEqual(s["test/acc1"]!.map(\.value), [12.5, 50])
        XCTAssertEqual(s["sparsity/layer1.0.conv1"]!.first!.value, 90.25)
        XCTAssertEqual(s["train/Loss_val"]!.first!.step, 1 << 40)
        // The CRC-32C of TFRecord: the check value of "123456789" is 0xE3069283.
        XCTAssertEqual(CRC32C.checksum(Data("123456789".utf8)), 0xE306_9283)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: w.path))
        bytes[bytes.count - 7] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: w.path))
        XCTAssertThrowsError(try EventReader.scalars(w.path)) { e in XCTAssert("\(e)".contains("bad CRC"), "\(e)") }
    }

    func testSettingsReloadAsTheSameConfig() throws {
        let c = try ConfigLoader.load(path: nil, overrides: ["--arch", "ResNet50", "--lr", "0.256", "--name", "a b:c",
                                                              "--label_smoothing", "0.1", "--nesterov", "--data", "/x/y"])
        let path = dir + "/settings.txt"
        try c.settingsText.write(toFile: path, atomically: true, encoding: .utf8)
        let back = try ConfigLoader.load(path: path, overrides: [])
        XCTAssertEqual(back.settingsText, c.settingsText)
        XCTAssertEqual(back.name, "a b:c")
        XCTAssert(c.settingsText.contains("label_smoothing: 0.1\n"))
    }

    func config(_ extra: [String]) throws -> Config {
        let data = "/usr/share/datasets/fashion-mnist"
        try XCTSkipUnless(FileManager.default.fileExists(atPath: data), "dataset-fashion-mnist not installed")
        return try ConfigLoader.load(path: nil, overrides: [
            "--arch", "ResNet18", "--cifar_stem", "--stem_stride", "2", "--width_mult", "0.25", "--data", data,
            "--batch_size", "64", "--train_subset", "256", "--lr", "0.05", "--lr_policy", "multistep_lr",
            "--multistep_lr_adjust", "1", "--multistep_lr_gamma", "0.5", "--label_smoothing", "0.1",
            "--conv_type", "STRConv", "--sInit_value", "-5", "--weight_decay", "0.001", "--threads", "2",
            "--seed", "3", "--print_freq", "2", "--log_dir", dir, "--workers", "2",
        ] + extra)
    }

    func testRunTreeAndReports() throws {
        let c = try config(["--epochs", "2", "--name", "tree", "--save_every", "1"])
        try TrainingJob(config: c, print: { _ in }).run()
        let run = dir + "/default/tree/prune_rate=0.0/width_mult=0.25"
        let files = Set(try FileManager.default.subpathsOfDirectory(atPath: run))
        for f in ["settings.txt", "sparsity_per_layer.csv", "checkpoints/initial.safetensors", "checkpoints/initial.state",
                  "checkpoints/latest.safetensors", "checkpoints/latest.state", "checkpoints/model_best.safetensors",
                  "checkpoints/epoch_0.safetensors", "checkpoints/epoch_1.state"] {
            XCTAssert(files.contains(f), "\(f) missing from \(files.sorted())")
        }
        let events = try XCTUnwrap(files.first { $0.hasPrefix("logs/events.out.tfevents.") })
        let s = try EventReader.scalars(run + "/" + events)
        XCTAssertEqual(s["test/acc1"]?.map(\.step), [0, 1])
        XCTAssertEqual(s["lr"]?.map(\.value), [0.05, 0.025])
        XCTAssertEqual(s["thresh/layer1.0.conv1"]?.count, 2)
        XCTAssertNotNil(s["sparsity/total"]); XCTAssertNotNil(s["sparsity/fc"])
        XCTAssertEqual(s["train/Loss_val"]?.map(\.step), [0, 128, 192, 256, 384, 448], "every print_freq batches, samples seen")

        let results = try String(contentsOfFile: dir + "/results.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(results.count, 2)
        XCTAssertEqual(results[0], "Date Finished, Base Config, Name, Prune Rate, Current Val Top 1, Current Val Top 5, Best Val Top 1, Best Val Top 5, Best Train Top 1, Best Train Top 5")
        XCTAssertEqual(results[1].components(separatedBy: ", ")[1...3], ["default", "tree", "0.0"])
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/layerwise_sparsity/tree.json"))) as! [String: Double]
        XCTAssertEqual(json.count, 22, "21 convs and the total")
        let thresholds = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/layerwise_threshold/tree.json"))) as! [String: Double]
        XCTAssertEqual(thresholds["conv1"]!, 1 / (1 + exp(5)), accuracy: 1e-3)
        let csv = try String(contentsOfFile: run + "/sparsity_per_layer.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.count, 1 + 2 * 21)
        var resolved = c
        resolved.numClasses = 10   // unset in the config: settings.txt records the data's count
        XCTAssertEqual(try ConfigLoader.load(path: run + "/settings.txt", overrides: []).settingsText, resolved.settingsText)

        // The same config and name again: the next free numbered folder.
        try TrainingJob(config: try config(["--epochs", "0", "--name", "tree"]), print: { _ in }).run()
        XCTAssert(FileManager.default.fileExists(atPath: run + "/0/settings.txt"))
        XCTAssertEqual(try String(contentsOfFile: dir + "/results.csv", encoding: .utf8).split(separator: "\n").count, 2,
                       "a run that trained no epoch adds no results row")
    }

    func testResumedRunIsBitIdentical() throws {
        try TrainingJob(config: try config(["--epochs", "2", "--name", "full"]), print: { _ in }).run()
        try TrainingJob(config: try config(["--epochs", "1", "--name", "part"]), print: { _ in }).run()
        var lines: [String] = []
        try TrainingJob(config: try config(["--epochs", "2", "--name", "part", "--resume", "auto"]),
                        print: { lines.append($0) }).run()
        XCTAssert(lines.contains { $0.hasPrefix("=> resumed from ") && $0.hasSuffix("after epoch 0") }, lines.joined(separator: "\n"))
        XCTAssertFalse(lines.contains { $0.hasPrefix("Epoch: [0]") }, "epoch 0 is not trained again")
        let logs = "\(dir)/default/part/prune_rate=0.0/width_mult=0.25/logs"
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: logs).count, 2, "the resumed run adds an event file")
        let ckpt = "prune_rate=0.0/width_mult=0.25/checkpoints/latest"
        let a = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/default/full/\(ckpt).safetensors"))
        let b = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/default/part/\(ckpt).safetensors"))
        XCTAssert(a == b, "the model differs between the uninterrupted and the resumed run")
        func optimizerState(_ run: String) throws -> [Data] {
            try SafeTensors.decode(Data(contentsOf: URL(fileURLWithPath: "\(dir)/default/\(run)/\(ckpt).state")), what: run)
                .tensors.map(\.bytes)
        }
        XCTAssertEqual(try optimizerState("full"), try optimizerState("part"), "momentum buffers")
        let full = try Checkpoint.readModel("\(dir)/default/full/\(ckpt)").tensors
        XCTAssertEqual(full.first { $0.name == "bn1.num_batches_tracked" }?.floats(), [8], "2 epochs × 4 steps")
    }
}
