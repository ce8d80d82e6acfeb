// The reference's weight workflows: `--pretrained` takes every tensor whose
// key and shape fit and names the ones it ignores (as the reference's
// `pretrained()` does); `--dense-conv-model` writes a sparse model's
// effective weights as a plain dense model (no thresholds), which a
// DenseConv model — ours or torchvision's — loads strictly.

import Foundation

extension Checkpoint {
    /// Loads what fits from `what`; returns how many tensors were taken and the keys ignored. A tensor
    /// stored as integers where a float belongs is refused, as `--resume` refuses it, before anything is copied.
    public static func loadMatching(_ tensors: [SafeTensor], into store: ParameterStore,
                                    what: String) throws -> (loaded: Int, ignored: [String]) {
        var taken: [(SafeTensor, UnsafeMutablePointer<Float>)] = [], ignored: [String] = [], integral: [String] = []
        for t in tensors {
            let key = t.name.hasPrefix("module.") ? String(t.name.dropFirst(7)) : t.name
            if let e = store.parameters[key], t.shape.reduce(1, *) == e.count, t.shape == e.shape {
                taken.append((t, store.values.base + e.offset))
                if let bad = integerWhereFloatBelongs(t, e) { integral.append(bad) }
            } else if let e = store.buffers[key], t.shape.reduce(1, *) == e.count {
                taken.append((t, store.bufferValues.base + e.offset))
                if let bad = integerWhereFloatBelongs(t, e) { integral.append(bad) }
            } else {
                ignored.append(t.name)
            }
        }
        if let problem = listed("stored as integers where floats belong", integral) {
            throw SafeTensorsError("checkpoint '\(what)' does not fit this model — \(problem) (a checkpoint holds its weights as floats: was it written by another tool?)")
        }
        for (t, p) in taken { copy(t, to: p) }
        return (taken.count, ignored)
    }

    /// The model as a dense one: each sparse layer's weight is its effective weight, and the tensors
    /// its kind added (STR's thresholds) are dropped.
    public static func denseTensors(_ model: Model) -> [SafeTensor] {
        let ctx = model.network.context!
        var effective: [String: any SparseWeighted] = [:]
        for l in model.weighted where !l.transform.isIdentity { effective[l.weightKey] = l }
        let own = Set(model.weighted.flatMap(\.transform.ownTensors))
        return modelTensors(model.network.store).compactMap { t in
            if own.contains(t.name) { return nil }
            guard let layer = effective[t.name] else { return t }
            return .float32(t.name, shape: t.shape, layer.computeEffectiveWeight(ctx), count: layer.weightCount)
        }
    }
}
