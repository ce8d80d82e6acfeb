import XCTest
@testable import STRDist

/// ImageFolder scanning and caching, bad files, and the prefetching loader's determinism.
final class ImagePipelineTests: TemporaryDirectoryTestCase {
    var root: String { dir }

    private func jpeg(_ seed: Int, size: Int = 28) throws -> [UInt8] {
        var p = [UInt8](repeating: 0, count: size * size * 3)
        for i in 0..<p.count { p[i] = UInt8((i * (seed + 3) / 7 + seed * 31) % 256) }
        return try encodeJPEG(p, width: size, height: size, channels: 3, quality: 90)
    }

    private func put(_ bytes: [UInt8], _ path: String) throws {
        let full = root + "/" + path
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.createFile(atPath: full, contents: Data(bytes)))
    }

    func testScanSortsClassesAndFilesSkipsOtherFormatsAndCaches() throws {
        try put(jpeg(1), "train/b_class/y.jpg")
        try put(jpeg(2), "train/b_class/X.JPEG")
        try put(jpeg(3), "train/b_class/nested/w.JPEG")
        try put(Array("png".utf8), "train/b_class/z.png")
        try put(jpeg(4), "train/a_class/k.jpeg")
        try FileManager.default.createDirectory(atPath: root + "/train/c_empty", withIntermediateDirectories: true)
        let f = try ImageFolder.load(root + "/train")
        XCTAssertEqual(f.classes, ["a_class", "b_class", "c_empty"])
        XCTAssertEqual(f.files, ["a_class/k.jpeg", "b_class/X.JPEG", "b_class/y.jpg", "b_class/nested/w.JPEG"])
        XCTAssertEqual(f.labels, [0, 1, 1, 1])
        XCTAssertEqual(f.skipped, [".png": 1])
        XCTAssertEqual(f.emptyClasses, ["c_empty"])
        XCTAssertFalse(f.fromCache)

        let again = try ImageFolder.load(root + "/train")
        XCTAssertTrue(again.fromCache)
        XCTAssertEqual(again.files, f.files); XCTAssertEqual(again.labels, f.labels); XCTAssertEqual(again.skipped, f.skipped)
        XCTAssertEqual(again.emptyClasses, ["c_empty"])

        try put(jpeg(5), "train/c_empty/new.JPEG")      // the tree changed: scanned afresh
        // Kernels before 6.13 stamp with a coarse clock (1–4 ms): the folder's new mtime could equal the
        // cached one, which is the file system's limit, not the cache's. Set it a second later, as any real
        // change between two runs would be.
        var later = [timespec(tv_sec: time(nil) + 1, tv_nsec: 0), timespec(tv_sec: time(nil) + 1, tv_nsec: 0)]
        XCTAssertEqual(utimensat(AT_FDCWD, root + "/train/c_empty", &later, 0), 0)
        let changed = try ImageFolder.load(root + "/train")
        XCTAssertFalse(changed.fromCache)
        XCTAssertEqual(changed.count, 5)
        XCTAssertEqual(changed.emptyClasses, [])
    }

    func testMissingOrEmptySplitIsAClearError() throws {
        XCTAssertThrowsError(try ImageFolder.load(root + "/val")) {
            XCTAssertTrue("\($0)".contains("not found") && "\($0)".contains("prepare-data"), "\($0)")
        }
        try FileManager.default.createDirectory(atPath: root + "/val", withIntermediateDirectories: true)
        XCTAssertThrowsError(try ImageFolder.load(root + "/val")) { XCTAssertTrue("\($0)".contains("no class folders"), "\($0)") }
        try FileManager.default.createDirectory(atPath: root + "/val/only_empty", withIntermediateDirectories: true)
        XCTAssertThrowsError(try ImageFolder.load(root + "/val")) { XCTAssertTrue("\($0)".contains("no JPEG"), "\($0)") }
    }

    /// Zero-byte, truncated, corrupt, not-an-image and unreadable files are skipped, named once and counted.
    func testBadFilesAreSkippedNamedAndCountedOrFatalWhenStrict() throws {
        let good = try jpeg(7, size: 40)
        try put(good, "val/a/0_good.JPEG")
        try put([], "val/a/1_empty.JPEG")
        try put(Array(good.prefix(good.count / 4)), "val/a/2_truncated.JPEG")
        var corrupt = good; for i in 20..<200 { corrupt[i] = 0xFF }
        try put(corrupt, "val/a/3_corrupt.JPEG")
        try put(Array("hello, I am text\n".utf8), "val/a/4_text.JPEG")
        try FileManager.default.createSymbolicLink(atPath: root + "/val/a/5_unreadable.JPEG", withDestinationPath: root + "/nowhere")
        try put(try jpeg(8, size: 40), "val/b/6_good.JPEG")
        let folder = try ImageFolder.load(root + "/val")
        XCTAssertEqual(folder.count, 7)

        let warnings = Locked<[String]>([])
        let source = ImageFolderSamples(folder, size: 16, seed: 1, warn: { line in warnings.set(warnings.value + [line]) })
        let loader = BatchLoader(source: source, batch: 7, workers: 2)
        var input = [Float](repeating: 0, count: 3 * 7 * 16 * 16), labels = [Int32](repeating: -1, count: 7)
        for epoch in 0..<2 {
            loader.start(epoch: epoch, indices: Array(0..<7), train: false, dropLast: false)
            XCTAssertEqual(try loader.next(input: &input, labels: &labels), 7)
        }
        // Bad slots 1…5 take the next good sample (6, class b).
        XCTAssertEqual(labels, [0, 1, 1, 1, 1, 1, 1])
        XCTAssertEqual(source.badImages.distinct, 5)
        XCTAssertEqual(source.badImages.total, 2 * (5 + 4 + 3 + 2 + 1))
        XCTAssertEqual(warnings.value.count, 5)
        for name in ["1_empty", "2_truncated", "3_corrupt", "4_text", "5_unreadable"] {
            XCTAssertTrue(warnings.value.contains { $0.contains(name) }, "no warning names \(name): \(warnings.value)")
        }
        XCTAssertTrue(input.allSatisfy(\.isFinite))

        let strict = ImageFolderSamples(folder, size: 16, seed: 1, strict: true)
        for workers in [0, 2] {
            let l = BatchLoader(source: strict, batch: 7, workers: workers)
            l.start(epoch: 0, indices: Array(0..<7), train: false, dropLast: false)
            XCTAssertThrowsError(try l.next(input: &input, labels: &labels)) {
                XCTAssertTrue("\($0)".contains("bad image") && "\($0)".contains("strict_images"), "\($0)")
            }
        }
    }

    /// The same batches whatever the number of loader threads, for training (random crops, flips) and validation.
    func testBatchesDoNotDependOnWorkerCount() throws {
        for i in 0..<23 { try put(jpeg(i, size: 30 + i), "train/c\(i % 3)/img\(i).JPEG") }
        let folder = try ImageFolder.load(root + "/train")
        let source = ImageFolderSamples(folder, size: 24, seed: 9)
        let order = DistributedSampler(count: folder.count, seed: 9, shuffle: true).indices(epoch: 3)
        func epoch(workers: Int, train: Bool) throws -> ([Float], [Int32]) {
            let loader = BatchLoader(source: source, batch: 5, workers: workers, depth: 2)
            loader.start(epoch: 3, indices: order, train: train, dropLast: train)
            var all: [Float] = [], labels: [Int32] = []
            var input = [Float](repeating: 0, count: 3 * 5 * 24 * 24), l = [Int32](repeating: 0, count: 5)
            for _ in 0..<loader.batchCount { _ = try loader.next(input: &input, labels: &l); all += input; labels += l }
            return (all, labels)
        }
        for train in [true, false] {
            let reference = try epoch(workers: 0, train: train)
            XCTAssertEqual(reference.1.count, train ? 20 : 25)
            for workers in [1, 3] {
                let other = try epoch(workers: workers, train: train)
                XCTAssertEqual(other.1, reference.1)
                XCTAssertTrue(other.0 == reference.0, "\(workers) workers, train \(train): batches differ")
            }
        }
        // Another epoch draws other crops.
        let loader = BatchLoader(source: source, batch: 5, workers: 0)
        var a = [Float](repeating: 0, count: 3 * 5 * 24 * 24), b = a, l = [Int32](repeating: 0, count: 5)
        loader.start(epoch: 3, indices: order, train: true, dropLast: true); _ = try loader.next(input: &a, labels: &l)
        loader.start(epoch: 4, indices: order, train: true, dropLast: true); _ = try loader.next(input: &b, labels: &l)
        XCTAssertNotEqual(a, b)
    }

    func testPreparedFashionMNISTTreeTrainsThroughTheJPEGPath() throws {
        guard FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz") else {
            throw XCTSkip("dataset-fashion-mnist is not installed")
        }
        let n = try PrepareData.fashionMNIST(from: "/usr/share/datasets/fashion-mnist", to: root, limit: 40)
        XCTAssertEqual(n, 80)
        let train = try ImageFolder.load(root + "/train")
        XCTAssertEqual(train.classes.count, 10)
        XCTAssertEqual(train.classes.first, "0_T-shirt-top")
        // Labels survive the trip: the folder of sample i is its IDX label.
        let idx = try ImageDataset.fashionMNIST(directory: "/usr/share/datasets/fashion-mnist", train: true).prefix(40)
        for (file, label) in zip(train.files, train.labels) {
            let i = Int(file.split(separator: "_").last!.prefix(5))!
            XCTAssertEqual(label, idx.labels[i], file)
        }
    }
}
