import XCTest
import Foundation
import CZlib
@testable import STRDist

final class SamplerTests: XCTestCase {
    func testShardsCoverEveryIndexOncePaddedByWrapAround() {
        for (count, world) in [(10, 3), (12, 4), (7, 1), (5, 8)] {
            var all: [Int] = []
            for r in 0..<world {
                let idx = DistributedSampler(count: count, rank: r, world: world, seed: 3, shuffle: true).indices(epoch: 2)
                XCTAssertEqual(idx.count, (count + world - 1) / world)
                all += idx
            }
            XCTAssertEqual(Set(all), Set(0..<count), "every sample appears")
            XCTAssertEqual(all.count, (count + world - 1) / world * world, "padded to a multiple of the world")
        }
    }

    func testSeedAndEpochChangeTheOrderReproducibly() {
        let s = DistributedSampler(count: 100, seed: 1, shuffle: true)
        XCTAssertEqual(s.indices(epoch: 0), s.indices(epoch: 0))
        XCTAssertNotEqual(s.indices(epoch: 0), s.indices(epoch: 1))
        XCTAssertEqual(DistributedSampler(count: 100, seed: 2, shuffle: true).indices(epoch: 0), s.indices(epoch: 1),
                       "the permutation is seeded by seed + epoch")
    }

    func testValidationCountsEverySampleOnce() {
        var all: [Int] = []
        for r in 0..<3 { all += DistributedSampler(count: 10, rank: r, world: 3, shuffle: false).indices(epoch: 0) }
        XCTAssertEqual(all.sorted(), Array(0..<10))
    }
}

final class IDXTests: XCTestCase {
    func write(_ bytes: [UInt8], gzip: Bool) -> String {
        let path = NSTemporaryDirectory() + "idx-\(UUID().uuidString)" + (gzip ? ".gz" : "")
        if gzip {
            let f = gzopen(path, "wb")!
            _ = bytes.withUnsafeBytes { gzwrite(f, $0.baseAddress, UInt32($0.count)) }
            gzclose(f)
        } else {
            FileManager.default.createFile(atPath: path, contents: Data(bytes))
        }
        return path
    }

    func testReadsGzippedAndPlain() throws {
        let bytes: [UInt8] = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 10, 20, 30, 40]
        for gz in [true, false] {
            let f = try IDXFile(path: write(bytes, gzip: gz), expectedDimensions: 3)
            XCTAssertEqual(f.dimensions, [2, 1, 2])
            XCTAssertEqual(f.bytes, [10, 20, 30, 40])
        }
    }

    func testRejectsBadMagicTruncationAndMissingFiles() {
        XCTAssertThrowsError(try IDXFile(path: write([0, 0, 9, 3, 0, 0, 0, 1], gzip: true), expectedDimensions: 3)) {
            XCTAssert("\($0)".contains("bad magic"))
        }
        XCTAssertThrowsError(try IDXFile(path: write([0, 0, 8, 1, 0, 0, 0, 5, 1, 2], gzip: true), expectedDimensions: 1)) {
            XCTAssert("\($0)".contains("promises 5"))
        }
        XCTAssertThrowsError(try ImageDataset.fashionMNIST(directory: "/nonexistent", train: true)) {
            XCTAssert("\($0)".contains("apt-get install dataset-fashion-mnist"), "\($0)")
        }
    }

    func testFashionMNISTWhenInstalled() throws {
        let dir = "/usr/share/datasets/fashion-mnist"
        try XCTSkipUnless(FileManager.default.fileExists(atPath: dir), "dataset-fashion-mnist not installed")
        let test = try ImageDataset.fashionMNIST(directory: dir, train: false)
        XCTAssertEqual(test.count, 10_000)
        XCTAssertEqual(test.height, 28)
        XCTAssertEqual(Dictionary(grouping: test.labels, by: { $0 }).mapValues(\.count), Dictionary(uniqueKeysWithValues: (0..<10).map { (Int32($0), 1000) }))
    }
}

final class BatcherTests: XCTestCase {
    /// Two 2×2 images: pixel values 0, 51, 102, 255.
    let data = ImageDataset(pixels: [0, 51, 102, 255, 255, 255, 255, 255], labels: [4, 9], height: 2, width: 2,
                            classNames: ["a", "b"])

    func testValidationCentresReplicatesAndNormalises() {
        let b = SmallImageBatcher(dataset: data, size: 4, mean: 0.5, std: 0.25)
        var input = [Float](repeating: .nan, count: 3 * 2 * 16), labels = [Int32](repeating: -1, count: 2)
        b.fill(&input, labels: &labels, batch: 2, indices: [1, 0][...], train: false, seed: 0, epoch: 0)
        XCTAssertEqual(labels, [9, 4])
        // Sample 0 (image 1) channel 0: background −2 around a centred block of (1 − 0.5)/0.25 = 2.
        XCTAssertEqual(Array(input[0..<16]), [-2, -2, -2, -2, -2, 2, 2, -2, -2, 2, 2, -2, -2, -2, -2, -2])
        // Sample 1 (image 0): values (v/255 − 0.5)/0.25 at rows 1–2, columns 1–2.
        assertClose([input[16 + 5], input[16 + 6], input[16 + 9], input[16 + 10]], [-2, -1.2, -0.4, 2], rtol: 1e-5)
        // Channels 1 and 2 repeat channel 0 (CNHW: channel c of sample n at (c·2 + n)·16).
        XCTAssertEqual(Array(input[32..<48]), Array(input[0..<16]))
        XCTAssertEqual(Array(input[80..<96]), Array(input[16..<32]))
    }

    func testTrainingAugmentationIsPerSampleDeterministic() {
        let big = ImageDataset(pixels: (0..<(3 * 28 * 28)).map { UInt8($0 % 251) }, labels: [0, 1, 2],
                               height: 28, width: 28, classNames: ["a", "b", "c"])
        let b = SmallImageBatcher(dataset: big, size: 32)
        func batch(_ idx: [Int], epoch: Int) -> [Float] {
            var input = [Float](repeating: 0, count: 3 * idx.count * 1024), labels = [Int32](repeating: 0, count: idx.count)
            b.fill(&input, labels: &labels, batch: idx.count, indices: idx[...], train: true, seed: 5, epoch: epoch)
            return input
        }
        let ab = batch([0, 2], epoch: 1), single = batch([2], epoch: 1)
        XCTAssertEqual(Array(ab[1024..<2048]), Array(single[0..<1024]), "sample 2's crop/flip ignores its batch position")
        XCTAssertNotEqual(batch([2], epoch: 1), batch([2], epoch: 2), "a new epoch draws anew")
    }

    /// For a recurrent model (the sequential-MNIST protocol): one channel, the image as it is, in training too.
    func testSequencesAreOneChannelAndNeverAugmented() throws {
        let big = ImageDataset(pixels: (0..<(2 * 28 * 28)).map { UInt8($0 % 251) }, labels: [0, 1],
                               height: 28, width: 28, classNames: ["a", "b"])
        let b = SmallImageBatcher(dataset: big, size: 28, sequences: true)
        XCTAssertEqual(b.channels, 1)
        func batch(train: Bool, epoch: Int) -> [Float] {
            var input = [Float](repeating: .nan, count: 2 * 784), labels = [Int32](repeating: 0, count: 2)
            b.fill(&input, labels: &labels, batch: 2, indices: [0, 1][...], train: train, seed: 5, epoch: epoch)
            return input
        }
        let eval = batch(train: false, epoch: 0)
        XCTAssertEqual(batch(train: true, epoch: 1), eval)
        XCTAssertEqual(batch(train: true, epoch: 2), eval)
        XCTAssertEqual(eval[784 + 29], (Float((784 + 29) % 251) / 255 - b.mean) / b.std, accuracy: 1e-6)
        var config = Config()
        config.arch = "FastGRNN"
        XCTAssertEqual(config.inputSize, 28, "a recurrent model reads Fashion-MNIST's own 28 rows")
        config.arch = "ResNet18"
        XCTAssertEqual(config.inputSize, 32)
    }
}
