import XCTest
import Foundation
@testable import STRDist

final class ConfigTests: XCTestCase {
    func writeYAML(_ text: String) -> String {
        let path = NSTemporaryDirectory() + "strdist-config-\(UUID().uuidString).yaml"
        try! text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testReferenceYAMLLoadsAndFlagsOverride() throws {
        // The reference's resnet50-str.yaml, verbatim but for the data path.
        let path = writeYAML("""
        # config to get 90.23% sparse ResNet50 on ImageNet.
        arch: ResNet50
        data: /data/
        set: ImageNet
        name: STR_90.23
        optimizer: sgd
        lr: 0.256
        lr_policy: cosine_lr
        warmup_length: 5
        epochs: 100
        weight_decay: 0.00002251757813 # appendix
        momentum: 0.875
        batch_size: 256
        label_smoothing: 0.1
        conv_type: STRConv
        bn_type: LearnedBatchNorm
        init: kaiming_normal
        mode: fan_in
        nonlinearity: relu
        sparse_function: sigmoid
        sInit_value: -3200
        workers: 20
        """)
        let c = try ConfigLoader.load(path: path, overrides: ["--lr", "0.1", "--batch-size", "128", "--nesterov",
                                                               "--sInit-value=-100", "--wd", "1e-5", "--seed", "7"])
        XCTAssertEqual(c.arch, "ResNet50")
        XCTAssertEqual(c.lr, 0.1)
        XCTAssertEqual(c.batchSize, 128)
        XCTAssertTrue(c.nesterov)
        XCTAssertEqual(c.sInitValue, -100)
        XCTAssertEqual(c.weightDecay, 1e-5)
        XCTAssertEqual(c.seed, 7)
        XCTAssertEqual(c.momentum, 0.875)
        XCTAssertEqual(c.labelSmoothing, 0.1)
        XCTAssertEqual(c.convType, .str)
        XCTAssertEqual(c.config, path)
        XCTAssertEqual(c.modelOptions.convKind, .str)
        XCTAssertEqual(c.modelOptions.sInit, -100)
    }

    func expectError(_ overrides: [String], _ fragments: [String], yaml: String? = nil,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try ConfigLoader.load(path: yaml.map(writeYAML), overrides: overrides), file: file, line: line) { e in
            let text = "\(e)"
            XCTAssertFalse(text.contains("\n"), "one line: \(text)", file: file, line: line)
            for f in fragments { XCTAssert(text.contains(f), "'\(text)' should mention '\(f)'", file: file, line: line) }
        }
    }

    func testErrorsNameTheKeyAndTheClosestValidOne() {
        expectError(["--learning-rat", "0.1"], ["learning-rat", "'learning_rate'"].prefix(1).map { $0 })
        expectError(["--prune_rat", "0.5"], ["'prune_rat'", "did you mean 'prune_rate'"])
        expectError(["--conv_type", "STRconv"], ["conv_type", "did you mean 'STRConv'"])
        expectError(["--arch", "Resnet50"], ["arch", "'ResNet50'"])
        expectError(["--lr", "-0.1"], ["'lr'", "positive"])
        expectError(["--prune_rate", "1.0"], ["prune_rate", "[0, 1)"])
        expectError(["--epochs", "ten"], ["'epochs'", "integer", "ten"])
        expectError(["--nesterov", "maybe"], ["unexpected argument 'maybe'"])
        expectError(["--conv_algorithm", "wino"], ["'conv_algorithm'", "did you mean 'winograd'", "allowed: auto, im2col, winograd, sparse"])
        expectError(["--optimizer", "adamw"], ["'optimizer'", "did you mean 'adam'", "allowed: sgd, adam"])
        expectError([], ["'set'", "line 1", "did you mean 'ImageNet'"], yaml: "set: imagenet\n")
        expectError(["--lr"], ["--lr needs a value"])
        expectError([], ["'bacth_size'", "did you mean 'batch_size'"], yaml: "bacth_size: 3\n")
        expectError([], ["not valid YAML"], yaml: "lr: [1, 2\n")
        expectError([], ["must be a mapping"], yaml: "- 1\n- 2\n")
        XCTAssertThrowsError(try ConfigLoader.load(path: "/nonexistent/x.yaml", overrides: [])) { e in
            XCTAssert("\(e)".contains("does not exist"), "\(e)")
        }
    }

    func testNullAndBooleanSpellings() throws {
        let c = try ConfigLoader.load(path: writeYAML("label_smoothing: null\nfirst_layer_dense: True\nst_decay: 0\n"),
                                      overrides: ["--last_layer_dense", "true", "--random-mask"])
        XCTAssertNil(c.labelSmoothing)
        XCTAssertTrue(c.firstLayerDense)
        XCTAssertTrue(c.lastLayerDense)
        XCTAssertEqual(c.stDecay, 0)
        XCTAssertEqual(c.sgdSettings.thresholdDecay, 0)
    }

    func testInitialisationFromConfig() throws {
        let c = try ConfigLoader.load(path: nil, overrides: ["--init", "signed_constant", "--mode", "fan_out",
                                                             "--scale_fan", "--prune_rate", "0.75"])
        XCTAssertEqual(c.modelOptions.initialization, .signedConstant(mode: .fanOut, gain: 2.0.squareRoot(), fanScale: 0.25))
    }
}

final class LRPolicyTests: XCTestCase {
    func testPoliciesMatchTheReference() {
        var p = LRPolicy(name: .cosine, lr: 0.256, warmup: 5, epochs: 100)
        XCTAssertEqual(p.rate(epoch: 0), 0.256 / 5, accuracy: 1e-12)
        XCTAssertEqual(p.rate(epoch: 4), 0.256, accuracy: 1e-12)
        XCTAssertEqual(p.rate(epoch: 5), 0.256, accuracy: 1e-12)
        XCTAssertEqual(p.rate(epoch: 52), 0.5 * (1 + cos(Double.pi * 47 / 95)) * 0.256, accuracy: 1e-12)
        p.name = .constant
        XCTAssertEqual(p.rate(epoch: 2), 0.256 * 3 / 5, accuracy: 1e-12)
        XCTAssertEqual(p.rate(epoch: 60), 0.256)
        p.name = .efficientnet
        XCTAssertEqual(p.rate(epoch: 24), 0.256 * pow(0.97, 10), accuracy: 1e-12)
        p.name = .multistep; p.multistepAdjust = 30; p.multistepGamma = 0.1
        XCTAssertEqual(p.rate(epoch: 0), 0.256, accuracy: 1e-12)   // no warmup in the reference's multistep
        XCTAssertEqual(p.rate(epoch: 65), 0.256 * 0.01, accuracy: 1e-12)
    }
}

final class AdamTests: XCTestCase {
    func testMatchesPyTorchFormula() {
        let table = ParameterTable()
        table.add("w", shape: [2], group: .weight)
        let adam = Adam(table: table)
        let values = FloatBuffer(count: table.count), grads = FloatBuffer(count: table.count)
        values[0] = 1; values[1] = -2
        var m = [0.0, 0.0], v = [0.0, 0.0], p = [1.0, -2.0]
        for t in 1...3 {
            let g = [0.5 * Double(t), -0.25]
            grads[0] = Float(g[0]); grads[1] = Float(g[1])
            adam.step(values: values, grads: grads, lr: 0.01, pool: ThreadPool(threads: 1))
            for i in 0..<2 {
                m[i] = 0.9 * m[i] + 0.1 * g[i]
                v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i]
                let denom = v[i].squareRoot() / (1 - pow(0.999, Double(t))).squareRoot() + 1e-8
                p[i] -= 0.01 / (1 - pow(0.9, Double(t))) * m[i] / denom
            }
        }
        XCTAssertEqual(Double(values[0]), p[0], accuracy: 1e-6)
        XCTAssertEqual(Double(values[1]), p[1], accuracy: 1e-6)
    }
}

final class ShippedConfigTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// Every config in configs/ loads, and the ImageNet ones carry the reference's published settings.
    func testShippedConfigsLoadWithTheReferenceSettings() throws {
        let files = try FileManager.default.subpathsOfDirectory(atPath: Self.root + "/configs").filter { $0.hasSuffix(".yaml") }
        XCTAssertGreaterThanOrEqual(files.count, 10)
        for f in files { XCTAssertNoThrow(try ConfigLoader.load(path: Self.root + "/configs/" + f, overrides: []), f) }
        let str = try ConfigLoader.load(path: Self.root + "/configs/largescale/resnet50-str.yaml", overrides: [])
        XCTAssertEqual([str.lr, str.momentum, str.labelSmoothing, str.weightDecay, str.sInitValue],
                       [0.256, 0.875, 0.1, 2.251757813e-5, -3200])
        XCTAssertEqual([str.epochs, str.warmupLength, str.batchSize], [100, 5, 256])
        let mobile = try ConfigLoader.load(path: Self.root + "/configs/largescale/mobilenetv1-str.yaml", overrides: [])
        XCTAssertEqual([mobile.weightDecay, mobile.sInitValue], [3.751757813e-5, -12800])
        let gmp = try ConfigLoader.load(path: Self.root + "/configs/largescale/resnet50-gmp.yaml", overrides: [])
        XCTAssertEqual([gmp.initPruneEpoch, gmp.finalPruneEpoch], [20, 79])
        XCTAssertEqual(gmp.pruneRate, 0.9)
        let dense = try ConfigLoader.load(path: Self.root + "/configs/largescale/resnet50-dense.yaml", overrides: [])
        XCTAssertEqual(dense.weightDecay, 3.0517578125e-5)
    }
}
