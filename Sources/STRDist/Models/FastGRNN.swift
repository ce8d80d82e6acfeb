// FastGRNN on images read as sequences (the "sequential MNIST" protocol):
// `rnn` is the FastGRNN cell over the image's rows (EdgeML's parameter names
// under `rnn.`), `classifier` a linear layer on h_T (nn.Linear's keys). W
// (W1, W2) takes `first_layer_type` / `first_layer_dense` like a CNN's stem,
// U (U1, U2) `conv_type`, the classifier `last_layer_dense` like a CNN's fc.

public enum FastGRNN {
    static let architecture = Architecture(names: ["FastGRNN"], readsSequences: true, samplesIndependent: true) { _, options, b in build(options, &b) }

    static func build(_ options: ModelOptions, _ b: inout LayerBuilder) -> [any Layer] {
        let settings = TransformSettings(sInit: options.sInit)
        let cell = FastGRNNCell("rnn", inputSize: options.inputChannels * options.inputWidth, hidden: options.hiddenSize,
                                wRank: options.wRank, uRank: options.uRank,
                                wKind: b.kindAndInit(.stem, defaultInit: true).0, uKind: b.kindAndInit(.inner, defaultInit: true).0,
                                settings: settings, algorithm: options.convAlgorithm, layout: b.layout)
        for m in cell.matrices { b.register(m) }
        let (kind, _, _) = b.kindAndInit(.classifier, defaultInit: true)
        let classifier = Linear("classifier", inFeatures: options.hiddenSize, outFeatures: options.numClasses, kind: kind,
                                settings: settings, layout: b.layout)
        b.register(classifier.matrix)
        return [cell, classifier]
    }
}
