// The density sweep: one model timed dense (conv_algorithm auto on a
// DenseConv model) and with every sparse-kind conv forced onto the sparse
// kernels at each of several uniform densities, training and inference —
// whole steps and per conv (StepProfile). Its per-conv rows are what
// SparseCostModel is fitted to (`strdist bench-sparse --fit`).

import Foundation

public struct SparseSweep: Sendable {
    /// One conv's per-step milliseconds: dense, and sparse at each swept sparsity.
    public struct Layer: Sendable {
        public var name: String
        public var geometry: ConvGeometry
        public var denseForward = 0.0, denseTotal = 0.0
        public var sparseForward: [Double] = [], sparseTotal: [Double] = []
    }

    public var arch: String, batch: Int, size: Int, threads: Int
    public var sparsities: [Double]
    /// Whole steps, seconds: dense, and each sparsity; training and inference.
    public var denseTrain = 0.0, denseEval = 0.0
    public var sparseTrain: [Double] = [], sparseEval: [Double] = []
    public var layers: [Layer] = []
}

public enum SparseBenchmark {
    /// - Parameter sparsities: fractions in [0, 1), e.g. [0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98].
    public static func sweep(arch: String, batch: Int, size: Int, threads: Int, steps: Int, sparsities: [Double],
                             kind: SparseKind = .str, widthMultiplier: Double = 1, cifarStem: Bool = false,
                             log: (String) -> Void = { _ in }) throws -> SparseSweep {
        var sweep = SparseSweep(arch: arch, batch: batch, size: size, threads: threads, sparsities: sparsities)
        func run(_ k: SparseKind, _ algorithm: ConvAlgorithm, _ sparsity: Double?, eval: Bool) throws -> (Double, StepProfile) {
            let profile = StepProfile()
            let r = try StepBenchmark.run(arch: arch, kind: k, batch: batch, size: size, threads: threads, steps: steps,
                                          eval: eval, widthMultiplier: widthMultiplier, cifarStem: cifarStem,
                                          algorithm: algorithm, profile: profile,
                                          sparsity: sparsity.map { .uniform($0) })
            return (r.stepSecondsMedian, profile)
        }
        let (dt, dp) = try run(.dense, .auto, nil, eval: false)
        let (de, ep) = try run(.dense, .auto, nil, eval: true)
        sweep.denseTrain = dt; sweep.denseEval = de
        log(String(format: "  dense: train %.3f s, inference %.3f s", dt, de))
        let n = Double(max(1, dp.steps))
        for (name, e) in dp.layers.sorted(by: { $0.value.order < $1.value.order }) {
            guard let g = dp.geometries[name] else { continue }
            var l = SparseSweep.Layer(name: name, geometry: g)
            l.denseTotal = 1000 * (e.forward + e.backward) / n
            l.denseForward = 1000 * (ep.layers[name]?.forward ?? 0) / Double(max(1, ep.steps))
            sweep.layers.append(l)
        }
        for p in sparsities {
            let (st, sp) = try run(kind, .sparse, p, eval: false)
            let (se, sep) = try run(kind, .sparse, p, eval: true)
            sweep.sparseTrain.append(st); sweep.sparseEval.append(se)
            log(String(format: "  swept %.0f%%: train %.3f s (%.2f× dense), inference %.3f s (%.2f×)", 100 * p, st, dt / st, se, de / se))
            for i in sweep.layers.indices {
                let name = sweep.layers[i].name
                let t = sp.layers[name], f = sep.layers[name]
                sweep.layers[i].sparseTotal.append(1000 * ((t?.forward ?? 0) + (t?.backward ?? 0)) / Double(max(1, sp.steps)))
                sweep.layers[i].sparseForward.append(1000 * (f?.forward ?? 0) / Double(max(1, sep.steps)))
            }
        }
        return sweep
    }
}
