// The reference's weight workflows: `--pretrained` takes every tensor whose
// key and shape fit and names the ones it ignores (as the reference's
// `pretrained()` does); `--dense-conv-model` writes a sparse model's
// effective weights as a plain dense model (no thresholds), which a
// DenseConv model — ours or torchvision's — loads strictly.

import Foundation

extension Checkpoint {
    /// Loads what fits; returns how many tensors were taken and the keys ignored.
    public static func loadMatching(_ tensors: [SafeTensor], into store: ParameterStore) -> (loaded: Int, ignored: [String]) {
        var loaded = 0, ignored: [String] = []
        for t in tensors {
            let key = t.name.hasPrefix("module.") ? String(t.name.dropFirst(7)) : t.name
            if let e = store.parameters[key], t.shape.reduce(1, *) == e.count, t.shape == e.shape {
                copy(t, to: store.values.base + e.offset); loaded += 1
            } else if let e = store.buffers[key], t.shape.reduce(1, *) == e.count {
                copy(t, to: store.bufferValues.base + e.offset); loaded += 1
            } else {
                ignored.append(t.name)
            }
        }
        return (loaded, ignored)
    }

    /// The model as a dense one: each sparse conv's `weight` is its effective weight, thresholds dropped.
    public static func denseTensors(_ model: Model) -> [SafeTensor] {
        let ctx = model.network.context!
        var effective: [String: Conv2d] = [:]
        for c in model.convs where !c.transform.isIdentity { effective["\(c.name).weight"] = c }
        return modelTensors(model.network.store).compactMap { t in
            if t.name.hasSuffix(".sparseThreshold") { return nil }
            guard let conv = effective[t.name] else { return t }
            return .float32(t.name, shape: t.shape, conv.computeEffectiveWeight(ctx), count: conv.weightCount)
        }
    }
}
