// torchvision's ResNet as the reference builds it: 7×7/2 stem `conv1` + `bn1`
// + ReLU + max-pool 3/2/1 (or a CIFAR-style 3×3/1 stem without pool),
// `layer1…4` of BasicBlocks or Bottlenecks (stride on the 3×3, downsample
// `layerK.0.downsample.0/1`), adaptive average pool, `fc` = 1×1 conv.
// Each block's forward and backward walk is written out explicitly.

/// A block's shortcut: identity, or `downsample.0` (1×1 conv) + `downsample.1` (BN).
struct Shortcut {
    let layers: (conv: Conv2d, bn: BatchNorm2d)?

    init(_ name: String, _ inPlanes: Int, _ outPlanes: Int, stride: Int, present: Bool, _ b: inout LayerBuilder) {
        layers = present
            ? (b.conv("\(name).downsample.0", inPlanes, outPlanes, kernel: 1, stride: stride),
               b.batchNorm("\(name).downsample.1", outPlanes, relu: false))
            : nil
    }

    func plan(_ x: ActRef, _ p: WorkspacePlanner) -> ActRef { layers.map { $0.bn.plan($0.conv.plan(x, p), p) } ?? x }
    func forward(_ ctx: StepContext) { layers?.conv.forward(ctx); layers?.bn.forward(ctx) }
    func backward(_ ctx: StepContext) { layers?.bn.backward(ctx); layers?.conv.backward(ctx) }
    func initialize(_ store: ParameterStore, seed: UInt64) {
        layers?.conv.initialize(store, seed: seed); layers?.bn.initialize(store, seed: seed)
    }
}

public final class BasicBlock: Layer {
    let conv1: Conv2d, bn1: BatchNorm2d, conv2: Conv2d, bn2: BatchNorm2d
    let shortcut: Shortcut
    let join = AddReLU()

    init(_ name: String, _ inPlanes: Int, _ planes: Int, stride: Int, downsample: Bool, _ b: inout LayerBuilder) {
        conv1 = b.conv("\(name).conv1", inPlanes, planes, kernel: 3, stride: stride)
        bn1 = b.batchNorm("\(name).bn1", planes, relu: true)
        conv2 = b.conv("\(name).conv2", planes, planes, kernel: 3)
        bn2 = b.batchNorm("\(name).bn2", planes, relu: false)
        shortcut = Shortcut(name, inPlanes, planes, stride: stride, present: downsample, &b)
    }

    public func plan(_ x: ActRef, _ p: WorkspacePlanner) -> ActRef {
        let out = bn2.plan(conv2.plan(bn1.plan(conv1.plan(x, p), p), p), p)
        return join.plan(out, shortcut.plan(x, p), p)
    }

    public func forward(_ ctx: StepContext) {
        // The shortcut goes first: bn2 computes the join, reading its output (ResidualFusion), and at
        // inference a sparse conv2 may compute all of it in its store.
        shortcut.forward(ctx)
        conv1.forward(ctx); bn1.forward(ctx); conv2.forward(ctx); bn2.forward(ctx)
        join.forward(ctx)
    }

    public func backward(_ ctx: StepContext) {
        // The shortcut after bn2: a norm that computes the join writes the shortcut's gradient.
        join.backward(ctx)
        bn2.backward(ctx)
        shortcut.backward(ctx)
        conv2.backward(ctx); bn1.backward(ctx); conv1.backward(ctx)
    }

    public func initialize(_ store: ParameterStore, seed: UInt64) {
        for l: any Layer in [conv1, bn1, conv2, bn2] { l.initialize(store, seed: seed) }
        shortcut.initialize(store, seed: seed)
    }
}

public final class Bottleneck: Layer {
    let conv1: Conv2d, bn1: BatchNorm2d, conv2: Conv2d, bn2: BatchNorm2d, conv3: Conv2d, bn3: BatchNorm2d
    let shortcut: Shortcut
    let join = AddReLU()

    init(_ name: String, _ inPlanes: Int, _ planes: Int, stride: Int, downsample: Bool, _ b: inout LayerBuilder) {
        let outPlanes = planes * 4
        conv1 = b.conv("\(name).conv1", inPlanes, planes, kernel: 1)
        bn1 = b.batchNorm("\(name).bn1", planes, relu: true)
        conv2 = b.conv("\(name).conv2", planes, planes, kernel: 3, stride: stride)
        bn2 = b.batchNorm("\(name).bn2", planes, relu: true)
        conv3 = b.conv("\(name).conv3", planes, outPlanes, kernel: 1)
        bn3 = b.batchNorm("\(name).bn3", outPlanes, relu: false)
        shortcut = Shortcut(name, inPlanes, outPlanes, stride: stride, present: downsample, &b)
    }

    public func plan(_ x: ActRef, _ p: WorkspacePlanner) -> ActRef {
        let a = bn2.plan(conv2.plan(bn1.plan(conv1.plan(x, p), p), p), p)
        let out = bn3.plan(conv3.plan(a, p), p)
        return join.plan(out, shortcut.plan(x, p), p)
    }

    public func forward(_ ctx: StepContext) {
        // The shortcut goes first: bn3 computes the join, reading its output (ResidualFusion), and at
        // inference a sparse conv3 may compute all of it in its store.
        shortcut.forward(ctx)
        conv1.forward(ctx); bn1.forward(ctx); conv2.forward(ctx); bn2.forward(ctx); conv3.forward(ctx); bn3.forward(ctx)
        join.forward(ctx)
    }

    public func backward(_ ctx: StepContext) {
        // The shortcut after bn3: a norm that computes the join writes the shortcut's gradient.
        join.backward(ctx)
        bn3.backward(ctx)
        shortcut.backward(ctx)
        conv3.backward(ctx); bn2.backward(ctx); conv2.backward(ctx); bn1.backward(ctx); conv1.backward(ctx)
    }

    public func initialize(_ store: ParameterStore, seed: UInt64) {
        for l: any Layer in [conv1, bn1, conv2, bn2, conv3, bn3] { l.initialize(store, seed: seed) }
        shortcut.initialize(store, seed: seed)
    }
}

public enum ResNet {
    /// Blocks per stage and whether they are bottlenecks, by `arch`.
    static let stages: KeyValuePairs<String, ([Int], Bool)> = [
        "ResNet18": ([2, 2, 2, 2], false), "ResNet34": ([3, 4, 6, 3], false),
        "ResNet50": ([3, 4, 6, 3], true), "ResNet101": ([3, 4, 23, 3], true),
    ]

    static let architecture = Architecture(names: stages.map(\.key)) { arch, options, b in build(arch, options, &b) }

    static func build(_ arch: String, _ options: ModelOptions, _ b: inout LayerBuilder) -> [any Layer] {
        guard let (counts, bottleneck) = stages.first(where: { $0.key == arch })?.value else { preconditionFailure("not a ResNet: \(arch)") }
        let expansion = bottleneck ? 4 : 1
        var inPlanes = options.width(64)
        var layers: [any Layer] = []
        if options.smallInputStem {
            layers.append(b.conv("conv1", options.inputChannels, inPlanes, kernel: 3, stride: options.stemStride, role: .stem))
            layers.append(b.batchNorm("bn1", inPlanes, relu: true))
        } else {
            layers.append(b.conv("conv1", options.inputChannels, inPlanes, kernel: 7, stride: 2, role: .stem))
            layers.append(b.batchNorm("bn1", inPlanes, relu: true))
            layers.append(MaxPool2d(kernelSize: 3, stride: 2, padding: 1))
        }
        for (stage, count) in counts.enumerated() {
            let planes = options.width(64 << stage)
            for i in 0..<count {
                let name = "layer\(stage + 1).\(i)"
                let stride = i == 0 && stage > 0 ? 2 : 1
                let downsample = i == 0 && (stride != 1 || inPlanes != planes * expansion)
                layers.append(bottleneck
                    ? Bottleneck(name, inPlanes, planes, stride: stride, downsample: downsample, &b)
                    : BasicBlock(name, inPlanes, planes, stride: stride, downsample: downsample, &b))
                inPlanes = planes * expansion
            }
        }
        layers.append(GlobalAvgPool())
        layers.append(b.conv("fc", inPlanes, options.numClasses, kernel: 1, role: .classifier))
        return layers
    }
}
