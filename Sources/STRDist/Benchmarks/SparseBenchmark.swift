// The density sweep: one model timed dense (conv_algorithm auto on a
// DenseConv model, and each 3×3 stride-1 conv both ways, Winograd and im2col)
// and with every sparse-kind conv forced onto the sparse kernels at each of
// several uniform densities, training and inference — whole steps and per
// conv (StepProfile). Its per-conv rows, each with the plan it ran, are what
// SparseCostModel is fitted to (`strdist bench-sparse --fit`).

import Foundation

public struct SparseSweep: Sendable {
    /// One conv's per-step milliseconds under one plan.
    public struct Timing: Sendable {
        public var plan: ConvPlan
        public var forward: Double, total: Double
    }

    /// One conv's per-step milliseconds: dense (under `auto`, and under every dense plan timed), and
    /// sparse at each swept sparsity.
    public struct Layer: Sendable {
        public var name: String
        public var geometry: ConvGeometry
        public var denseForward = 0.0, denseTotal = 0.0
        /// Each dense plan this conv was timed under (Winograd and im2col for a 3×3 stride-1 conv).
        public var dense: [Timing] = []
        /// The sparse kernels' layout, when the sparse runs put this conv on them.
        public var sparseLayout: SparseLayout?
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
        func timings(_ train: StepProfile, _ eval: StepProfile) -> [String: SparseSweep.Timing] {
            train.layers.reduce(into: [:]) { out, entry in
                let (name, e) = entry
                out[name] = SparseSweep.Timing(plan: e.plan, forward: 1000 * (eval.layers[name]?.forward ?? 0) / Double(max(1, eval.steps)),
                                               total: 1000 * (e.forward + e.backward) / Double(max(1, train.steps)))
            }
        }
        var byPlan = [timings(dp, ep)]
        if dp.geometries.values.contains(where: { $0.winogradApplies }) {
            for algorithm in [ConvAlgorithm.winograd, .im2col] {
                let (t, p) = try run(.dense, algorithm, nil, eval: false), (_, e) = try run(.dense, algorithm, nil, eval: true)
                log(String(format: "  dense, conv_algorithm %@: train %.3f s", algorithm.rawValue, t))
                byPlan.append(timings(p, e))
            }
        }
        for name in dp.layers.sorted(by: { $0.value.order < $1.value.order }).map(\.key) {
            guard let g = dp.geometries[name], let auto = byPlan[0][name] else { continue }
            var l = SparseSweep.Layer(name: name, geometry: g)
            l.denseTotal = auto.total
            l.denseForward = auto.forward
            for t in byPlan.compactMap({ $0[name] }) where !l.dense.contains(where: { $0.plan == t.plan }) { l.dense.append(t) }
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
                if case .sparse(let layout)? = t?.plan { sweep.layers[i].sparseLayout = layout }
                sweep.layers[i].sparseTotal.append(1000 * ((t?.forward ?? 0) + (t?.backward ?? 0)) / Double(max(1, sp.steps)))
                sweep.layers[i].sparseForward.append(1000 * (f?.forward ?? 0) / Double(max(1, sep.steps)))
            }
        }
        return sweep
    }
}
