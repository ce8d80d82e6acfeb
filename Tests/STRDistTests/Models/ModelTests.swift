import XCTest
@testable import STRDist

final class ModelTests: XCTestCase {
    func planned(_ arch: String, classes: Int = 1000, size: Int = 224, configure: (inout ModelOptions) -> Void = { _ in })
        throws -> Model {
        var o = ModelOptions()
        o.arch = arch
        o.numClasses = classes
        configure(&o)
        let model = try Model(o, threads: 1)
        model.network.plan(ActShape(channels: o.inputChannels, batch: 1, height: size, width: size))
        model.network.initialize(seed: 0)
        return model
    }

    func testResNet50MatchesPublishedParamsAndFlopsPerLayer() throws {
        let report = try planned("ResNet50").sparsityReport()
        XCTAssertEqual(report.layers.count, ResNet50Reference.layers.count)
        for (ours, ref) in zip(report.layers, ResNet50Reference.layers) {
            XCTAssertEqual(ours.name, ref.0)
            XCTAssertEqual(ours.numel, ref.1, ref.0)
            XCTAssertEqual(ours.denseFlops, ref.2, ref.0)
        }
        XCTAssertEqual(report.params, ResNet50Reference.params)
        XCTAssertEqual(report.poolFlops, ResNet50Reference.poolFlops)
        XCTAssertEqual(report.denseFlops, ResNet50Reference.flops)
    }

    func testParameterCountsIncludingBatchNorm() throws {
        // torchvision's totals less the classifier bias (ours is a bias-free 1×1 conv).
        XCTAssertEqual(try planned("ResNet50").layout.parameters.scalarCount, 25_557_032 - 1000)
        XCTAssertEqual(try planned("ResNet18").layout.parameters.scalarCount, 11_689_512 - 1000)
        XCTAssertEqual(try planned("MobileNetV1").layout.parameters.scalarCount, 4_231_976 - 1000)
    }

    func testStateDictKeysAndShapes() throws {
        let r50 = try planned("ResNet50").layout
        XCTAssertEqual(r50.parameters["conv1.weight"]?.shape, [64, 3, 7, 7])
        XCTAssertEqual(r50.parameters["layer2.0.downsample.0.weight"]?.shape, [512, 256, 1, 1])
        XCTAssertEqual(r50.parameters["layer4.2.bn3.bias"]?.shape, [2048])
        XCTAssertEqual(r50.parameters["fc.weight"]?.shape, [1000, 2048, 1, 1])
        XCTAssertNil(r50.parameters["fc.bias"])
        XCTAssertEqual(r50.buffers["layer1.0.downsample.1.running_mean"]?.shape, [256])
        XCTAssertEqual(r50.buffers["bn1.num_batches_tracked"]?.storedType, .int64)
        let mobile = try planned("MobileNetV1").layout
        XCTAssertEqual(mobile.parameters["model.0.0.weight"]?.shape, [32, 3, 3, 3])
        XCTAssertEqual(mobile.parameters["model.1.0.weight"]?.shape, [32, 1, 3, 3])
        XCTAssertEqual(mobile.parameters["model.1.3.weight"]?.shape, [64, 32, 1, 1])
        XCTAssertEqual(mobile.buffers["model.13.4.running_var"]?.shape, [1024])
        XCTAssertEqual(mobile.parameters["fc.weight"]?.shape, [1000, 1024, 1, 1])
    }

    func testLayerKindsFollowFirstAndLastLayerOptions() throws {
        let m = try planned("ResNet18", classes: 10, size: 32) {
            $0.convKind = .str; $0.firstLayerDense = true; $0.lastLayerDense = true; $0.sInit = -5
        }
        XCTAssertEqual(m.convs.first?.kind, .dense)
        XCTAssertEqual(m.convs.last?.kind, .dense)
        XCTAssertNotNil(m.layout.parameters["fc.bias"])
        XCTAssertEqual(m.convs[1].kind, .str)
        XCTAssertEqual(m.network.store.value("layer1.0.conv1.sparseThreshold")[0], -5)
        XCTAssertNil(m.layout.parameters["conv1.sparseThreshold"])
        let g = try planned("ResNet18", classes: 10, size: 32) { $0.convKind = .dnw; $0.firstLayerKind = .gmp }
        XCTAssertEqual(g.convs.first?.kind, .gmp)
        XCTAssertEqual(g.convs.last?.kind, .dnw)
    }

    func testAnyInputSizeAndClassCount() throws {
        for arch in ["ResNet18", "MobileNetV1"] {
            let m = try planned(arch, classes: 7, size: 96)
            m.network.forward(training: false)
            XCTAssertEqual(m.network.outputRef.shape, ActShape(channels: 7, batch: 1, height: 1, width: 1))
            XCTAssert((0..<7).allSatisfy { m.network.logits[$0].isFinite })
        }
    }

    func testSmallVariantShapes() throws {
        let m = try planned("ResNet18", classes: 10, size: 32) { $0.smallInputStem = true; $0.widthMultiplier = 0.25 }
        XCTAssertEqual(m.layout.parameters["conv1.weight"]?.shape, [16, 3, 3, 3])
        XCTAssertEqual(m.layout.parameters["fc.weight"]?.shape, [10, 128, 1, 1])
        XCTAssertEqual(m.convs[0].geometry.outH, 32)
    }

    func testUnknownArchitectureIsAnError() {
        var o = ModelOptions()
        o.arch = "ResNet51"
        XCTAssertThrowsError(try Model(o, threads: 1)) { e in
            XCTAssert("\(e)".contains("ResNet50"), "\(e)")
        }
    }
}

extension ModelTests {
    /// Architectures are a registry: the reference's answer to their names, and a new one is one value plus one
    /// registration line; its layers report their own FLOPs, and the stem reads the data's channels.
    func testArchitecturesRegisterAndTheStemReadsTheDataChannels() throws {
        XCTAssertEqual(Set(ModelOptions.architectures), ["ResNet18", "ResNet34", "ResNet50", "ResNet101", "MobileNetV1", "FastGRNN"])
        Architecture.register(Architecture(names: ["TinyNet"]) { _, o, b in
            [b.conv("conv1", o.inputChannels, 8, kernel: 3, stride: 2, role: .stem), b.batchNorm("bn1", 8, relu: true),
             GlobalAvgPool(), b.conv("fc", 8, o.numClasses, kernel: 1, role: .classifier)]
        })
        XCTAssert(ModelOptions.architectures.contains("TinyNet"))
        XCTAssertNoThrow(try ConfigLoader.load(path: nil, overrides: ["--arch", "TinyNet"]))
        var o = ModelOptions()
        o.arch = "TinyNet"; o.numClasses = 5; o.inputChannels = 1
        let tiny = try Model(o, threads: 1)
        tiny.network.plan(ActShape(channels: 1, batch: 2, height: 16, width: 16))
        tiny.network.initialize(seed: 0)
        XCTAssertEqual(tiny.layout.parameters["conv1.weight"]?.shape, [8, 1, 3, 3])
        let report = tiny.sparsityReport()
        XCTAssertEqual(report.poolFlops, 8 * 8 * 8, "the pool reports C·H·W")
        XCTAssertEqual(report.denseFlops, 8 * 9 * 64 + 8 * 8 * 8 + 5 * 8)
        tiny.network.forward(training: false)
        let grey = try planned("ResNet18", size: 32) { $0.inputChannels = 1 }
        XCTAssertEqual(grey.layout.parameters["conv1.weight"]?.shape, [64, 1, 7, 7])
    }
}
