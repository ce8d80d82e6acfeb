// The main job end to end on real Fashion-MNIST (a slice of it): the loss must
// fall and the model must beat chance clearly on the untouched test set.
import XCTest
import Foundation
@testable import STRDist

final class TrainingJobTests: XCTestCase {
    func testShortFashionMNISTRunLearns() throws {
        let dir = "/usr/share/datasets/fashion-mnist"
        try XCTSkipUnless(FileManager.default.fileExists(atPath: dir), "dataset-fashion-mnist not installed")
        let config = try ConfigLoader.load(path: nil, overrides: [
            "--arch", "ResNet18", "--cifar_stem", "--stem_stride", "2", "--width_mult", "0.25", "--data", dir,
            "--epochs", "2", "--batch_size", "64", "--train_subset", "3200", "--lr", "0.05", "--label_smoothing", "0.1",
            "--conv_type", "STRConv", "--sInit_value", "-5", "--weight_decay", "0.001", "--threads", "2", "--seed", "3",
            "--print_freq", "1000", "--log_dir", NSTemporaryDirectory() + "strdist-job-\(getpid())",
        ])
        var lines: [String] = []
        let trainer = try TrainingJob(config: config, print: { lines.append($0) }).run()
        let h = trainer.history
        XCTAssertEqual(h.count, 2)
        XCTAssertLessThan(h[1].trainLoss, h[0].trainLoss)
        XCTAssertGreaterThan(trainer.bestTop1, 60, "10 classes: chance is 10%")
        XCTAssert(lines.contains { $0.hasPrefix("Epoch: [0][ 0/50]\tTime ") }, lines.prefix(3).joined(separator: "\n"))
        XCTAssert(lines.contains { $0.hasPrefix("Test: [157/157]") })
        XCTAssert(lines.contains { $0.contains("sparseThreshold") == false && $0.contains("threshold 0.0") })
    }
}

final class MetersTests: XCTestCase {
    func testReferenceProgressLineFormat() {
        var time = AverageMeter("Time", "%6.3f"), loss = AverageMeter("Loss", "%.3f")
        time.update(0.5); time.update(0.25)
        loss.update(2.0, n: 2); loss.update(1.0, n: 2)
        XCTAssertEqual(ProgressMeter(batches: 468, prefix: "Epoch: [3]").line(7, [time, loss]),
                       "Epoch: [3][  7/468]\tTime  0.250 ( 0.375)\tLoss 1.000 (1.500)")
    }

    func testBarText() {
        XCTAssertEqual(ProgressBar(total: 10, enabled: false).text(5), "  50%|###############               | 5/10")
    }
}
