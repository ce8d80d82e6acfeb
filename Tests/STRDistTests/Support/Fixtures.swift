// Fixtures shared by several test files: the tiny CNN and its SGD step, the toy
// quadrant task, and the tiny ResNet18 the checkpoint, sparse-plan and
// sparse-kind tests start from.
import XCTest
@testable import STRDist

/// conv3×3 → BN+ReLU → maxpool → depthwise 3×3/2 → BN+ReLU → 1×1 → BN+ReLU → avgpool → fc (1×1 conv + bias).
func tinyNetwork(classes: Int = 4, threads: Int) -> (Network, ParameterLayout) {
    let layout = ParameterLayout()
    let root = Sequential([
        Conv2d("conv1", inChannels: 3, outChannels: 8, kernelSize: 3, padding: 1, layout: layout),
        BatchNorm2d("bn1", channels: 8, fuseReLU: true, layout: layout),
        MaxPool2d(kernelSize: 3, stride: 2, padding: 1),
        Conv2d("dw", inChannels: 8, outChannels: 8, kernelSize: 3, stride: 2, padding: 1, groups: 8, layout: layout),
        BatchNorm2d("bn2", channels: 8, fuseReLU: true, layout: layout),
        Conv2d("pw", inChannels: 8, outChannels: 16, kernelSize: 1, layout: layout),
        BatchNorm2d("bn3", channels: 16, fuseReLU: true, layout: layout),
        GlobalAvgPool(),
        Conv2d("fc", inChannels: 16, outChannels: classes, kernelSize: 1, bias: true, layout: layout),
    ])
    return (Network(root: root, layout: layout, threads: threads), layout)
}

/// The trainer's step (forward, loss with label smoothing 0.1, backward, SGD) on `net`.
func sgdStep(_ net: Network, _ sgd: SGD) -> TrainingStep {
    TrainingStep(network: net, optimizer: sgd, smoothing: 0.1)
}

/// A learnable toy task: the class is which quadrant holds a bright blob.
func fillToyBatch(_ net: Network, step: Int) {
    let s = net.inputRef.shape
    var rng = RNG(seed: 100, stream: UInt64(step))
    for i in 0..<s.count { net.input[i] = Float(rng.normal() * 0.3) }
    for n in 0..<s.batch {
        let label = rng.below(4)
        net.labels[n] = Int32(label)
        let (h0, w0) = (label / 2 * s.height / 2, label % 2 * s.width / 2)
        for c in 0..<s.channels {
            for h in h0..<(h0 + s.height / 2) {
                for w in w0..<(w0 + s.width / 2) { net.input[(c * s.batch + n) * s.plane + h * s.width + w] += 1 }
            }
        }
    }
}

/// A tiny ResNet18 (width 1/16, 16×16 inputs, batch 4) with random parameters and inputs.
func tinyModel(_ kind: SparseKind, width: Double = 1.0 / 16, seed: UInt64 = 1, sInit: Float = -2,
                      inputSeed: UInt64 = 11, pruneEpochs: (Int, Int) = (0, 100),
                      algorithm: ConvAlgorithm = .auto) throws -> Model {
    var o = ModelOptions()
    o.convAlgorithm = algorithm
    o.arch = "ResNet18"; o.numClasses = 10; o.widthMultiplier = width; o.smallInputStem = true
    o.convKind = kind; o.pruneRate = 0.5; o.sInit = sInit; o.pruneEpochs = pruneEpochs
    let model = try Model(o, threads: 1)
    let net = model.network
    net.plan(ActShape(channels: 3, batch: 4, height: 16, width: 16))
    net.initialize(seed: seed)
    let x = randomArray(net.inputRef.shape.count, seed: inputSeed)
    for i in 0..<x.count { net.input[i] = x[i] }
    for i in 0..<4 { net.labels[i] = Int32(i * 2) }
    return model
}
