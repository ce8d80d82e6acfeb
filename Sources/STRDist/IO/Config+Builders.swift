// What the config means for the model, the optimizer and the schedules.

extension Config {
    public var modelOptions: ModelOptions {
        var o = ModelOptions()
        o.arch = arch
        // TrainingJob resolves an unset num_classes from the data; without data (predict reads the
        // checkpoint's fc) it stays ModelOptions' 1000.
        if let numClasses { o.numClasses = numClasses }
        o.convKind = convType
        o.firstLayerDense = firstLayerDense
        o.firstLayerKind = firstLayerType
        o.lastLayerDense = lastLayerDense
        o.affineBatchNorm = bnType == .learned
        let gain = WeightInit.gain(nonlinearity)
        let fanScale = scaleFan ? 1 - pruneRate : 1
        switch initialization {
        case .kaimingNormal: o.initialization = .kaimingNormal(mode: mode, gain: gain, fanScale: fanScale)
        case .signedConstant: o.initialization = .signedConstant(mode: mode, gain: gain, fanScale: fanScale)
        case .unsignedConstant: o.initialization = .unsignedConstant(mode: mode, gain: gain, fanScale: fanScale)
        case .standard: o.initialization = .standard
        }
        o.pruneRate = pruneRate
        o.pruneEpochs = (initPruneEpoch, finalPruneEpoch)
        o.sInit = Float(sInitValue)
        o.widthMultiplier = widthMult
        o.inputWidth = inputSize
        o.hiddenSize = hiddenSize
        o.wRank = wRank
        o.uRank = uRank
        o.smallInputStem = cifarStem
        o.stemStride = stemStride
        o.convAlgorithm = convAlgorithm
        o.precision = precision
        return o
    }

    public var sgdSettings: SGDSettings {
        var s = SGDSettings()
        s.momentum = Float(momentum)
        s.nesterov = nesterov
        s.weightDecay = Float(weightDecay)
        s.batchNormDecay = noBnDecay ? 0 : nil
        s.thresholdDecay = stDecay.map(Float.init)
        return s
    }

    /// `target_sparsity`'s controller of the thresholds' decay, or nil when the key is unset.
    public var sparsityController: SparsityController? {
        guard let p = targetSparsity else { return nil }
        let setPoint = SparsitySetPoint(target: p, schedule: targetSchedule,
                                        initEpoch: initPruneEpoch, finalEpoch: finalPruneEpoch)
        return SparsityController(setPoint: setPoint, base: Double(sgdSettings.thresholdDecayInEffect), referenceRate: lr)
    }

    public var lrPolicyValue: LRPolicy {
        var p = LRPolicy(name: lrPolicy, lr: lr, warmup: warmupLength, epochs: epochs)
        p.multistepAdjust = multistepLrAdjust
        p.multistepGamma = multistepLrGamma
        return p
    }

    /// Conv weights (and biases) that `freeze_weights` keeps fixed.
    public func frozenKeys(_ table: ParameterTable) -> Set<String> {
        guard freezeWeights else { return [] }
        return Set(table.entries.filter { $0.group == .weight }.map(\.key))
    }

    public func makeOptimizer(_ table: ParameterTable) -> any Optimizer {
        optimizer == .adam
            ? Adam(table: table, frozen: frozenKeys(table))
            : SGD(sgdSettings, table: table, frozen: frozenKeys(table))
    }
}
