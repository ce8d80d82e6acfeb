// Input that tries to break us: each class of crafted file or value gets a one-line error naming the
// file and what is wrong (or, for a derived cache, a quiet rebuild) — never a crash, a hang or an
// allocation the machine cannot hold.
import XCTest
import Foundation
import CZlib
@testable import STRDist

final class HostileInputTests: TemporaryDirectoryTestCase {
    func message(_ body: () throws -> Void) -> String {
        do { try body(); return "(no error)" } catch { return "\(error)" }
    }

    /// A safetensors file whose header is given as JSON text, followed by `data` bytes.
    func safetensors(_ header: String, data: Int = 8) -> Data {
        var out = Data()
        var n = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(Data(header.utf8))
        out.append(Data(count: data))
        return out
    }

    func testTensorOffsetsAndShapesThatOverflowAreRefused() {
        let offsets = safetensors(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[9223372036854775000,9223372036854775800]}}"#)
        XCTAssertTrue(message { _ = try SafeTensors.decode(offsets, what: "evil.safetensors") }
            .contains("'evil.safetensors' is not a valid safetensors file: tensor 'w' lies past the end of the file"))
        // 2^32 · 2^32 · 4 bytes overflows Int: a product that wraps must not pass for 8 bytes.
        let shape = safetensors(#"{"x":{"dtype":"F32","shape":[4294967296,4294967296,1],"data_offsets":[0,8]}}"#)
        XCTAssertTrue(message { _ = try SafeTensors.decode(shape, what: "evil.safetensors") }
            .contains("tensor 'x' has 8 bytes for shape [4294967296, 4294967296, 1] of F32"))
        XCTAssertNil(SafeTensors.elementCount([1 << 62, 4]))
        XCTAssertNil(SafeTensors.elementCount([3, -1]))
        XCTAssertEqual(SafeTensors.elementCount([2, 3, 0]), 0)
    }

    /// Found by fuzzing (scripts/fuzz.sh tfrecord): a record length past Int's range, with a valid CRC.
    func testAnEventRecordLengthPastIntsRangeIsAnError() throws {
        let length = Data(repeating: 0xFF, count: 8)
        var file = length
        appendLE(&file, CRC32C.masked(length))
        file.append(Data(count: 8))
        let path = dir + "/events.out.tfevents.1"
        try file.write(to: URL(fileURLWithPath: path))
        let m = message { _ = try EventReader.scalars(path) }
        XCTAssertTrue(m.contains("'\(path)' is not a valid TensorBoard event file: bad length record at byte 0"), m)
        XCTAssertThrowsError(try Proto.fields(Data([0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])))
    }

    func testPredictInputWhoseShapeOverflowsIsRefused() throws {
        var config = Config()
        config.arch = "ResNet18"
        let m = message { _ = try Inference.logits(config: config, checkpoint: dir + "/none", input: [0, 0, 0],
                                                   shape: [1 << 31, 3, 1 << 31, 1 << 31]) }
        XCTAssertTrue(m.contains("the input must be an [N, C, S, S] float tensor"), m)
    }

    func testIntegerTensorsWhereFloatsBelongAreRefusedAndOtherFloatsConvertByValue() throws {
        let model = try tinyModel(.dense)
        let store = model.network.store
        var tensors = Checkpoint.modelTensors(store)
        let k = tensors.firstIndex { $0.name == "conv1.weight" }!
        let count = tensors[k].bytes.count / 4
        var ints = [Int32](repeating: 1_065_353_216, count: count)   // the bits of 1.0f, as integers
        tensors[k] = SafeTensor(name: "conv1.weight", dtype: "I32", shape: tensors[k].shape, bytes: Data(bytes: &ints, count: count * 4))
        let path = dir + "/int.safetensors"
        try SafeTensors.encode(tensors).write(to: URL(fileURLWithPath: path))
        let m = message { try Checkpoint.loadModel(path, into: store) }
        XCTAssertTrue(m.contains("'\(path)' does not fit this model") && m.contains("stored as integers where floats belong: conv1.weight (I32)"), m)
        // --pretrained follows the same rule (it converted the integers silently): refused, nothing copied.
        let fresh = try tinyModel(.dense, seed: 9)
        let before = Array(fresh.network.store.value("layer1.0.conv1.weight"))
        let p = message { _ = try Checkpoint.loadMatching(try Checkpoint.readModel(path).tensors, into: fresh.network.store, what: path) }
        XCTAssertTrue(p.contains("'\(path)' does not fit this model") && p.contains("stored as integers where floats belong: conv1.weight (I32)"), p)
        XCTAssertEqual(Array(fresh.network.store.value("layer1.0.conv1.weight")), before, "nothing loaded from a refused file")
        // Values convert, bits are never reinterpreted.
        var half: [UInt16] = [Float16(1.5).bitPattern, Float16(-2).bitPattern]
        XCTAssertEqual(SafeTensor(name: "h", dtype: "F16", shape: [2], bytes: Data(bytes: &half, count: 4)).floats(), [1.5, -2])
        XCTAssertEqual(SafeTensor(name: "i", dtype: "I32", shape: [1], bytes: Data(bytes: &ints, count: 4)).floats(), [1_065_353_216])
        var bf: [UInt16] = [0x3FC0]   // 1.5 in bfloat16
        XCTAssertEqual(SafeTensor(name: "b", dtype: "BF16", shape: [1], bytes: Data(bytes: &bf, count: 2)).floats(), [1.5])
    }

    /// A real checkpoint pair, then its state rewritten with `epoch` (the model checksum kept).
    func stateWithEpoch(_ epoch: String) throws -> (base: String, model: Model) {
        let model = try tinyModel(.str)
        let sgd = SGD(SGDSettings(), table: model.network.store.parameters)
        var s = TrainingState()
        s.epoch = 3
        let base = dir + "/ck"
        try Checkpoint.save(base, store: model.network.store, optimizer: sgd, state: s)
        let statePath = base + ".state"
        let (tensors, meta) = try SafeTensors.decode(try Data(contentsOf: URL(fileURLWithPath: statePath)), what: statePath)
        var m = meta
        m["epoch"] = epoch
        try SafeTensors.encode(tensors, metadata: m).write(to: URL(fileURLWithPath: statePath))
        return (base, model)
    }

    func testNaNNegativeOrHugeEpochsInAStateAreRefused() throws {
        for bad in ["nan", "-3", "1e300", "inf", "2.5"] {
            let (base, model) = try stateWithEpoch(bad)
            let sgd = SGD(SGDSettings(), table: model.network.store.parameters)
            let m = message { _ = try Checkpoint.resume(base, store: model.network.store, optimizer: sgd) }
            XCTAssertTrue(m.contains("training state '\(base).state' has epoch \(bad)"), "\(bad): \(m)")
        }
        let (base, model) = try stateWithEpoch("3")
        let sgd = SGD(SGDSettings(), table: model.network.store.parameters)
        XCTAssertEqual(try Checkpoint.resume(base, store: model.network.store, optimizer: sgd).epoch, 3)
    }

    func gzipIDX(_ path: String, dims: [UInt32], dataBytes: Int) {
        let f = gzopen(path, "wb")!
        var header: [UInt8] = [0, 0, 8, UInt8(dims.count)]
        for d in dims { header += [UInt8(d >> 24), UInt8(d >> 16 & 255), UInt8(d >> 8 & 255), UInt8(d & 255)] }
        _ = header.withUnsafeBytes { gzwrite(f, $0.baseAddress, UInt32($0.count)) }
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var left = dataBytes
        while left > 0 {
            let n = min(left, zeros.count)
            _ = zeros.withUnsafeBytes { gzwrite(f, $0.baseAddress, UInt32(n)) }
            left -= n
        }
        gzclose(f)
    }

    func testAGzipIDXBombIsRefusedWithoutInflatingIt() throws {
        // 10 images promised, 200 MB of zeros behind them (the file is ~200 KB).
        let bomb = dir + "/bomb-idx3-ubyte.gz"
        gzipIDX(bomb, dims: [10, 28, 28], dataBytes: 200 << 20)
        let m = message { _ = try IDXFile(path: bomb, expectedDimensions: 3) }
        XCTAssertTrue(m.contains("'\(bomb)' holds more data than its header promises (10×28×28 = 7840 bytes)"), m)
        // A header promising 2^32·2^32·2^32 bytes is refused before allocating.
        let huge = dir + "/huge-idx3-ubyte.gz"
        gzipIDX(huge, dims: [UInt32.max, UInt32.max, UInt32.max], dataBytes: 16)
        let h = message { _ = try IDXFile(path: huge, expectedDimensions: 3) }
        XCTAssertTrue(h.contains("promises 4294967295×4294967295×4294967295 bytes of data, more than half this machine's"), h)
        let fair = dir + "/fair-idx3-ubyte.gz"
        gzipIDX(fair, dims: [2, 3, 4], dataBytes: 24)
        XCTAssertEqual(try IDXFile(path: fair, expectedDimensions: 3).dimensions, [2, 3, 4])
    }

    func testFashionMNISTImagesOfNoPixelsOrNoImagesAreRefusedNamingTheFile() throws {
        for dims: [UInt32] in [[5, 0, 0], [5, 28, 0], [0, 28, 28]] {
            let data = dir + "/fm-\(dims.map(String.init).joined(separator: "x"))"
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
            gzipIDX(data + "/train-images-idx3-ubyte.gz", dims: dims, dataBytes: Int(dims[0] * dims[1] * dims[2]))
            gzipIDX(data + "/train-labels-idx1-ubyte.gz", dims: [dims[0]], dataBytes: Int(dims[0]))
            let m = message { _ = try ImageDataset.fashionMNIST(directory: data, train: true) }
            XCTAssertTrue(m.contains("'\(data)/train-images-idx3-ubyte.gz' holds \(dims[0]) images of \(dims[1])×\(dims[2]) pixels: nothing to train on"), m)
        }
    }

    func testAnIndexCacheClaimingAQuadrillionFilesIsRebuilt() throws {
        let root = dir + "/data"
        _ = try PrepareData.synthetic(to: root, split: "train", classes: 2, perClass: 3, width: 8, height: 8)
        let first = try ImageFolder.load(root + "/train")
        XCTAssertEqual(first.count, 6)
        let cache = ImageFolder.cacheLocations(root + "/train")[0]
        var text = try String(contentsOfFile: cache, encoding: .utf8)
        text = text.replacingOccurrences(of: "files 6", with: "files 1000000000000000")
        try text.write(toFile: cache, atomically: true, encoding: .utf8)
        let again = try ImageFolder.load(root + "/train")
        XCTAssertEqual(again.count, 6)
        XCTAssertFalse(again.fromCache, "the broken index is not trusted")
        let negative = text.replacingOccurrences(of: "files 1000000000000000", with: "files 6").replacingOccurrences(of: "classes 2", with: "classes -5")
        try negative.write(toFile: cache, atomically: true, encoding: .utf8)
        XCTAssertEqual(try ImageFolder.load(root + "/train").count, 6)
    }

    func testASyntheticTreeLargerThanTheDiskIsRefusedBeforeWriting() {
        let m = message { _ = try PrepareData.synthetic(to: dir + "/big", classes: 1000, perClass: 1_000_000, width: 4000, height: 4000) }
        XCTAssertTrue(m.contains("prepare-data synthetic would write about") && m.contains("under '\(dir)/big' but its disk has"), m)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/big"), "nothing written")
        // (Only on a machine that cannot hold it: one that can would generate and write the 2.4 GB image.)
        guard 65_000 * 65_000 * 3 * 4 > MachineMemory.bytes else { return }
        let memory = message { _ = try PrepareData.synthetic(to: dir + "/wide", classes: 1, perClass: 1, width: 65_000, height: 65_000) }
        XCTAssertTrue(memory.contains("of memory per image") || memory.contains("its disk has"), memory)
    }

    func testASymbolicLinkLoopInTheDataTreeIsAnErrorNotAHang() throws {
        let root = dir + "/data"
        _ = try PrepareData.synthetic(to: root, split: "train", classes: 2, perClass: 2, width: 8, height: 8)
        let cls = try FileManager.default.contentsOfDirectory(atPath: root + "/train").sorted()[0]
        try FileManager.default.createSymbolicLink(atPath: root + "/train/\(cls)/again", withDestinationPath: "..")
        let m = message { _ = try ImageFolder.load(root + "/train") }
        XCTAssertTrue(m.contains("'\(root)/train/\(cls)/again' leads back to a folder above it (a symbolic-link loop)"), m)
        // A link to a folder outside the tree is followed.
        try FileManager.default.removeItem(atPath: root + "/train/\(cls)/again")
        _ = try PrepareData.synthetic(to: dir + "/other", split: "extra", classes: 1, perClass: 2, width: 8, height: 8)
        let extra = try FileManager.default.contentsOfDirectory(atPath: dir + "/other/extra")[0]
        try FileManager.default.createSymbolicLink(atPath: root + "/train/\(cls)/more", withDestinationPath: dir + "/other/extra/" + extra)
        XCTAssertEqual(try ImageFolder.load(root + "/train", cache: false).count, 6)
    }

    func testRunsStartedTogetherIntoOneLogDirEachGetTheirOwnFolder() throws {
        var c = Config()
        c.logDir = dir + "/runs"
        let paths = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 16) { _ in
            if let d = try? RunDirectory.create(c) {
                try? AtomicFile.write(Data("x".utf8), to: d.settings)
                paths.update { $0.append(d.path) }
            }
        }
        XCTAssertEqual(paths.value.count, 16)
        XCTAssertEqual(Set(paths.value).count, 16, "every run claimed a folder of its own: \(paths.value.sorted())")
        XCTAssertEqual(RunDirectory.existing(c).count, 16)
    }

    /// Runs ending together into one results.csv: one header, every row.
    func testRowsAppendedTogetherToANewFileAreAllKept() {
        let path = dir + "/results.csv"
        DispatchQueue.concurrentPerform(iterations: 16) { k in
            try? AppendFile.append("row \(k)\n", to: path, header: "header\n")
        }
        let lines = ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n")
        XCTAssertEqual(lines.first, "header")
        XCTAssertEqual(lines.filter { $0 == "header" }.count, 1)
        XCTAssertEqual(Set(lines.dropFirst()), Set((0..<16).map { "row \($0)" }[...].map { Substring($0) }))
    }

    func testANameThatLeavesTheLogDirIsRefused() {
        for name in ["../../etc", "a/b", "..", ""] {
            let m = message { _ = try ConfigLoader.load(arguments: ["--name", name]) }
            XCTAssertTrue(m.contains("config key 'name' ('\(name)') must be a plain folder name"), "\(name): \(m)")
        }
        XCTAssertEqual(try ConfigLoader.load(arguments: ["--name", "str-90.1"]).name, "str-90.1")
    }

    /// A name past the file system's limit (from the command line or a YAML file) is refused in a short line.
    func testANameLongerThanAFileNameMayBeIsRefusedInAShortLine() throws {
        let long = String(repeating: "a", count: 100_000)
        let yaml = dir + "/long.yaml"
        try "name: \(long)\n".write(toFile: yaml, atomically: true, encoding: .utf8)
        for args in [["--name", long], ["--config", yaml]] {
            let m = message { _ = try ConfigLoader.load(arguments: args) }
            XCTAssertTrue(m.contains("config key 'name' is 100000 bytes long, more than a file name may be (250 bytes"), m)
            XCTAssertLessThan(m.count, 400, "a short line, not the name: \(m.prefix(400))")
        }
        let longest = String(repeating: "é", count: 125)   // 250 bytes of UTF-8
        XCTAssertEqual(try ConfigLoader.load(arguments: ["--name", longest]).name, longest)
        XCTAssertThrowsError(try ConfigLoader.load(arguments: ["--name", longest + "a"]))
    }
}
