// safetensors encode/decode and every refusal; checkpoints round trip
// (parameters, BN buffers as PyTorch types, optimizer state, training
// state); loads that do not fit name what is wrong; a dense conversion of an
// STR model gives a DenseConv model the same logits.
import XCTest
import Foundation
@testable import STRDist

final class CheckpointTests: TemporaryDirectoryTestCase {
    func logits(_ m: Model) -> [Float] {
        m.network.forward(training: false)
        return Array(UnsafeBufferPointer(start: m.network.logits, count: 40))
    }

    func testSafeTensorsRoundTripAndAlignment() throws {
        var v: [Float] = [1, -2, 3.5, 0, 7, 8]
        var n: [Int64] = [42]
        let tensors = [SafeTensor(name: "a.weight", dtype: "F32", shape: [2, 3], bytes: Data(bytes: &v, count: 24)),
                       SafeTensor(name: "bn.num_batches_tracked", dtype: "I64", shape: [], bytes: Data(bytes: &n, count: 8))]
        let data = SafeTensors.encode(tensors, metadata: ["format": "pt", "note": "quote \" and \\ kept"])
        let headerLength = data.withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        XCTAssertEqual((8 + headerLength) % 8, 0, "tensor data starts 8-byte aligned")
        let (back, meta) = try SafeTensors.decode(data, what: "x")
        XCTAssertEqual(back.map(\.name), ["a.weight", "bn.num_batches_tracked"])
        XCTAssertEqual(back[0].shape, [2, 3]); XCTAssertEqual(back[0].floats(), v)
        XCTAssertEqual(back[1].shape, []); XCTAssertEqual(back[1].floats(), [42])
        XCTAssertEqual(meta["note"], "quote \" and \\ kept")
    }

    func testDamagedFilesAreRefusedWithAReason() throws {
        var v = [Float](repeating: 1, count: 64)
        let good = SafeTensors.encode([SafeTensor(name: "w", dtype: "F32", shape: [8, 8], bytes: Data(bytes: &v, count: 256))])
        func refused(_ d: Data, _ why: String, line: UInt = #line) {
            XCTAssertThrowsError(try SafeTensors.decode(d, what: "f"), line: line) { e in
                XCTAssert("\(e)".contains(why), "\(e)", line: line)
                XCTAssert("\(e)".contains("'f' is not a valid safetensors file"), line: line)
            }
        }
        refused(Data(), "shorter than the 8-byte header")
        refused(good.prefix(good.count - 1), "past the end of the file")
        refused(good.prefix(20), "does not fit the file")
        refused(good + Data([0]), "1 bytes after the last tensor")
        var corrupt = good
        corrupt[9] = UInt8(ascii: "#")
        refused(corrupt, "not a JSON object")
        refused(Data(repeating: 0xFF, count: 64), "does not fit the file")
    }

    func testCheckpointRoundTripRestoresEverything() throws {
        let a = try tinyModel(.str)
        let sgd = SGD(SGDSettings(), table: a.layout.parameters)
        for _ in 0..<2 {   // momentum buffers and BN running statistics that are not initial values
            a.network.forward(training: true); _ = a.network.loss(); a.network.backward()
            sgd.step(values: a.network.store.values, grads: a.network.store.grads, lr: 0.1, pool: a.network.pool)
        }
        var state = TrainingState()
        state.epoch = 3; state.optimizerSteps = sgd.steps; state.bestTop1 = 12.5; state.bestTrainTop5 = 99
        state.seed = 7; state.worldSize = 2; state.settings = "arch: ResNet18\n"
        try Checkpoint.save(dir + "/latest", store: a.network.store, optimizer: sgd, state: state)

        let b = try tinyModel(.str, seed: 2)
        let sgdB = SGD(SGDSettings(), table: b.layout.parameters)
        let back = try Checkpoint.resume(dir + "/latest.safetensors", store: b.network.store, optimizer: sgdB)
        XCTAssertEqual(back, state)
        XCTAssertEqual(sgdB.steps, 2)
        let (sa, sb) = (a.network.store, b.network.store)
        XCTAssertEqual(Array(sa.values.buffer), Array(sb.values.buffer))
        XCTAssertEqual(Array(sa.bufferValues.buffer), Array(sb.bufferValues.buffer))
        XCTAssertEqual(Array(sgd.momentumBuffer.buffer), Array(sgdB.momentumBuffer.buffer))
        XCTAssertEqual(sb.value("bn1.num_batches_tracked")[0], 2)
        // PyTorch's types: num_batches_tracked is int64, everything else float32.
        let (tensors, _) = try Checkpoint.readModel(dir + "/latest")
        XCTAssertEqual(Set(tensors.filter { $0.dtype == "I64" }.map(\.name)),
                       Set(sa.buffers.entries.filter { $0.key.hasSuffix("num_batches_tracked") }.map(\.key)))
        XCTAssert(tensors.contains { $0.name == "conv1.sparseThreshold" && $0.shape == [1, 1] })
    }

    func testLoadsThatDoNotFitNameTheProblem() throws {
        let a = try tinyModel(.str)
        try Checkpoint.save(dir + "/a", store: a.network.store, optimizer: SGD(SGDSettings(), table: a.layout.parameters),
                            state: TrainingState())
        let dense = try tinyModel(.dense)
        XCTAssertThrowsError(try Checkpoint.loadModel(dir + "/a", into: dense.network.store)) { e in
            XCTAssert("\(e)".contains("21 unexpected: conv1.sparseThreshold"), "\(e)")
        }
        let wider = try tinyModel(.str, width: 1.0 / 8)
        XCTAssertThrowsError(try Checkpoint.loadModel(dir + "/a", into: wider.network.store)) { e in
            XCTAssert("\(e)".contains("mis-shaped: conv1.weight [4, 3, 3, 3] (model: [8, 3, 3, 3])"), "\(e)")
        }
        XCTAssertThrowsError(try Checkpoint.loadModel(dir + "/none", into: a.network.store)) { e in
            XCTAssert("\(e)".contains("cannot be read"), "\(e)")
        }
        // A state that belongs to another save (the model file was replaced after it).
        let b = try tinyModel(.str, seed: 5)
        let sgdB = SGD(SGDSettings(), table: b.layout.parameters)
        try Checkpoint.save(dir + "/b", store: b.network.store, optimizer: sgdB, state: TrainingState())
        try FileManager.default.removeItem(atPath: dir + "/b.safetensors")
        try FileManager.default.copyItem(atPath: dir + "/a.safetensors", toPath: dir + "/b.safetensors")
        XCTAssertThrowsError(try Checkpoint.resume(dir + "/b", store: b.network.store, optimizer: sgdB)) { e in
            XCTAssert("\(e)".contains("belongs to another save"), "\(e)")
        }
        try FileManager.default.removeItem(atPath: dir + "/b.state")
        XCTAssertThrowsError(try Checkpoint.resume(dir + "/b", store: b.network.store, optimizer: sgdB)) { e in
            XCTAssert("\(e)".contains("resuming needs it beside the model file"), "\(e)")
        }
    }

    func testDenseConversionGivesIdenticalLogits() throws {
        // sigmoid(−1) = 0.27: most weights pruned. Both on the dense kernels, so the sums are the same
        // (`auto` may run the sparse ones on the STR model, which round differently).
        let str = try tinyModel(.str, sInit: -1, algorithm: .im2col)
        let report = str.sparsityReport()
        XCTAssertGreaterThan(report.total, 50)
        let path = dir + "/dense.safetensors"
        try AtomicFile.write(SafeTensors.encode(Checkpoint.denseTensors(str)), to: path)
        let dense = try tinyModel(.dense, seed: 9, algorithm: .im2col)
        try Checkpoint.loadModel(path, into: dense.network.store)
        dense.network.parametersChanged()
        XCTAssertEqual(logits(dense), logits(str))
        XCTAssertEqual(dense.sparsityReport().layers.map(\.nonzero), report.layers.map(\.nonzero))
    }

    func testPretrainedTakesWhatFitsAndNamesTheRest() throws {
        let str = try tinyModel(.str)
        let dnw = try tinyModel(.dnw, seed: 4)
        let tensors = Checkpoint.modelTensors(str.network.store).map { t -> SafeTensor in
            var t = t; t.name = "module." + t.name; return t   // DataParallel's prefix is dropped
        }
        let (loaded, ignored) = try Checkpoint.loadMatching(tensors, into: dnw.network.store, what: "str")
        XCTAssertEqual(loaded, tensors.count - 21)
        XCTAssertEqual(ignored.count, 21)
        XCTAssert(ignored.allSatisfy { $0.hasSuffix("sparseThreshold") })
        XCTAssertEqual(Array(dnw.network.store.value("layer1.0.conv1.weight")),
                       Array(str.network.store.value("layer1.0.conv1.weight")))
    }
}
