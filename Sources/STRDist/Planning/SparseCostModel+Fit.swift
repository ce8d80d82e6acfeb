// Fitting SparseCostModel to a density sweep: non-negative least squares on
// relative error (each measurement divided by itself, so small layers count
// as much as large ones), dense and sparse terms separately, for training
// steps and for inference.

extension SparseCostModel {
    /// One set of coefficients over the layers of every sweep (several models: their shapes differ).
    public static func fit(_ sweeps: [SparseSweep]) -> SparseCostModel {
        SparseCostModel(train: coefficients(sweeps, training: true), eval: coefficients(sweeps, training: false))
    }

    static func coefficients(_ sweeps: [SparseSweep], training: Bool) -> Coefficients {
        var denseRows: [([Double], Double)] = [], sparseRows: [([Double], Double)] = []
        func row(_ f: SIMD16<Double>, _ n: Int) -> [Double] { (0..<n).map { f[$0] } }
        for sweep in sweeps {
            for l in sweep.layers where !l.geometry.isDepthwise {
                let g = l.geometry
                for d in l.dense {
                    let t = (training ? d.total : d.forward) / 1000
                    if t > 0 { denseRows.append((row(features(g, d.plan, density: 1, training: training), denseFeatures), t)) }
                }
                guard let layout = l.sparseLayout else { continue }
                for (i, p) in sweep.sparsities.enumerated() {
                    let t = (training ? l.sparseTotal[i] : l.sparseForward[i]) / 1000
                    guard t > 0 else { continue }
                    let f = features(g, .sparse(layout), density: 1 - p, training: training)
                    sparseRows.append((row(f, sparseFeatures), t))
                }
            }
        }
        return Coefficients(dense: nonNegativeLeastSquares(denseRows, features: denseFeatures),
                            sparse: nonNegativeLeastSquares(sparseRows, features: sparseFeatures))
    }

    /// min Σ ((f·x − t)/t)² over x ≥ 0: least squares, then features whose coefficient went negative are
    /// dropped and the rest refitted, until none is negative.
    static func nonNegativeLeastSquares(_ rows: [([Double], Double)], features n: Int) -> [Double] {
        var active = Array(0..<n)
        while !active.isEmpty {
            let k = active.count
            var a = [[Double]](repeating: [Double](repeating: 0, count: k + 1), count: k)
            for (f, t) in rows {
                let r = active.map { f[$0] / t }
                for i in 0..<k {
                    for j in 0..<k { a[i][j] += r[i] * r[j] }
                    a[i][k] += r[i]
                }
            }
            for i in 0..<k { a[i][i] += 1e-12 * max(a[i][i], 1e-300) }   // a touch of ridge for unused features
            let x = solve(a)
            if let worst = x.indices.filter({ !(x[$0] >= 0) }).min(by: { x[$0] < x[$1] }) {
                active.remove(at: worst)
                continue
            }
            var out = [Double](repeating: 0, count: n)
            for (i, f) in active.enumerated() { out[f] = x[i] }
            return out
        }
        return [Double](repeating: 0, count: n)
    }

    /// Gaussian elimination with partial pivoting on an augmented k×(k+1) system.
    static func solve(_ m: [[Double]]) -> [Double] {
        var a = m
        let k = a.count
        for c in 0..<k {
            let p = (c..<k).max { abs(a[$0][c]) < abs(a[$1][c]) }!
            a.swapAt(c, p)
            guard abs(a[c][c]) > 0 else { continue }
            for r in 0..<k where r != c {
                let f = a[r][c] / a[c][c]
                for j in c...k { a[r][j] -= f * a[c][j] }
            }
        }
        return (0..<k).map { abs(a[$0][$0]) > 0 ? a[$0][k] / a[$0][$0] : 0 }
    }
}
