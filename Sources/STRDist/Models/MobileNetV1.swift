// MobileNetV1 as the reference builds it: `model.0` = conv 3×3/2 (3→32) +
// BN + ReLU, then 13 depthwise-separable blocks `model.i` = depthwise 3×3
// (`.0`) + BN (`.1`) + ReLU + 1×1 conv (`.3`) + BN (`.4`) + ReLU, average
// pool (adaptive here, so any input size works), `fc` = 1×1 conv. The body
// keeps PyTorch's default init; only `fc` gets `init`. BNs are always affine.

public enum MobileNetV1 {
    /// (output channels, stride) of the 13 depthwise-separable blocks.
    static let blocks: [(Int, Int)] = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                                       (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]

    static let architecture = Architecture(names: ["MobileNetV1"]) { _, options, b in build(options, &b) }

    static func build(_ options: ModelOptions, _ b: inout LayerBuilder) -> [any Layer] {
        var c = options.width(32)
        var layers: [any Layer] = [
            b.conv("model.0.0", options.inputChannels, c, kernel: 3, stride: options.smallInputStem ? 1 : 2, role: .stem, defaultInit: true),
            b.batchNorm("model.0.1", c, relu: true, affine: true),
        ]
        for (i, (out, stride)) in blocks.enumerated() {
            let o = options.width(out)
            layers.append(b.conv("model.\(i + 1).0", c, c, kernel: 3, stride: stride, groups: c, defaultInit: true))
            layers.append(b.batchNorm("model.\(i + 1).1", c, relu: true, affine: true))
            layers.append(b.conv("model.\(i + 1).3", c, o, kernel: 1, defaultInit: true))
            layers.append(b.batchNorm("model.\(i + 1).4", o, relu: true, affine: true))
            c = o
        }
        layers.append(GlobalAvgPool())
        layers.append(b.conv("fc", c, options.numClasses, kernel: 1, role: .classifier))
        return layers
    }
}
