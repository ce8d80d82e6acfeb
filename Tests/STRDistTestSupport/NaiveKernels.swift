// Naive reference kernels: direct loops in Double over CNHW arrays, written
// for clarity only. The tests compare every fast kernel against these.
import Foundation
import STRDistKernels


public enum Naive {
    /// Direct convolution: y[o, n, oh, ow] = Σ w[o, c, i, j]·x[g·C_g + c, n, ih, iw] + b[o].
    public static func convForward(x: [Float], w: [Float], bias: [Float]?, _ g: ConvGeometry) -> [Float] {
        var y = [Float](repeating: 0, count: g.outChannels * g.columns)
        for o in 0..<g.outChannels {
            let gi = o / g.groupOut
            for n in 0..<g.batch {
                for oh in 0..<g.outH {
                    for ow in 0..<g.outW {
                        var s = Double(bias?[o] ?? 0)
                        forEachTap(g, oh, ow) { c, i, j, ih, iw in
                            s += Double(w[((o * g.groupIn + c) * g.kernelH + i) * g.kernelW + j])
                                * Double(x[((gi * g.groupIn + c) * g.batch + n) * g.inPlane + ih * g.inW + iw])
                        }
                        y[(o * g.batch + n) * g.outPlane + oh * g.outW + ow] = Float(s)
                    }
                }
            }
        }
        return y
    }

    /// Returns (dx, dw, dbias) for output gradient dy.
    public static func convBackward(x: [Float], w: [Float], dy: [Float], _ g: ConvGeometry)
        -> (dx: [Float], dw: [Float], db: [Float]) {
        var dx = [Double](repeating: 0, count: g.inChannels * g.batch * g.inPlane)
        var dw = [Double](repeating: 0, count: g.weightCount)
        var db = [Double](repeating: 0, count: g.outChannels)
        for o in 0..<g.outChannels {
            let gi = o / g.groupOut
            for n in 0..<g.batch {
                for oh in 0..<g.outH {
                    for ow in 0..<g.outW {
                        let d = Double(dy[(o * g.batch + n) * g.outPlane + oh * g.outW + ow])
                        db[o] += d
                        forEachTap(g, oh, ow) { c, i, j, ih, iw in
                            let xi = ((gi * g.groupIn + c) * g.batch + n) * g.inPlane + ih * g.inW + iw
                            let wi = ((o * g.groupIn + c) * g.kernelH + i) * g.kernelW + j
                            dw[wi] += d * Double(x[xi])
                            dx[xi] += d * Double(w[wi])
                        }
                    }
                }
            }
        }
        return (dx.map(Float.init), dw.map(Float.init), db.map(Float.init))
    }

    /// Calls body(c, i, j, ih, iw) for every in-image tap of output (oh, ow), c within the group.
    private static func forEachTap(_ g: ConvGeometry, _ oh: Int, _ ow: Int, _ body: (Int, Int, Int, Int, Int) -> Void) {
        for c in 0..<g.groupIn {
            for i in 0..<g.kernelH {
                for j in 0..<g.kernelW {
                    let ih = oh * g.strideH - g.padH + i * g.dilationH
                    let iw = ow * g.strideW - g.padW + j * g.dilationW
                    if ih >= 0 && ih < g.inH && iw >= 0 && iw < g.inW { body(c, i, j, ih, iw) }
                }
            }
        }
    }

    /// Training-mode BatchNorm (biased variance), optional ReLU.
    public static func batchNorm(x: [Float], channels: Int, m: Int, gamma: [Float]?, beta: [Float]?,
                                 eps: Double = 1e-5, relu: Bool) -> (y: [Float], mean: [Double], variance: [Double]) {
        var y = [Float](repeating: 0, count: x.count)
        var means = [Double](), vars = [Double]()
        for c in 0..<channels {
            let xs = x[(c * m)..<((c + 1) * m)].map(Double.init)
            let mean = xs.reduce(0, +) / Double(m)
            let v = xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(m)
            means.append(mean); vars.append(v)
            for i in 0..<m {
                var r = (xs[i] - mean) / (v + eps).squareRoot() * Double(gamma?[c] ?? 1) + Double(beta?[c] ?? 0)
                if relu { r = max(0, r) }
                y[c * m + i] = Float(r)
            }
        }
        return (y, means, vars)
    }

    /// Max or average pooling of each plane (average counts padding).
    public static func pool(x: [Float], _ g: PoolGeometry, max isMax: Bool) -> [Float] {
        var y = [Float]()
        for p in 0..<g.planes {
            for oh in 0..<g.outH {
                for ow in 0..<g.outW {
                    var best = -Double.infinity, sum = 0.0
                    for i in 0..<g.kernel {
                        for j in 0..<g.kernel {
                            let ih = oh * g.stride - g.padding + i, iw = ow * g.stride - g.padding + j
                            guard ih >= 0 && ih < g.inH && iw >= 0 && iw < g.inW else { continue }
                            let v = Double(x[p * g.inH * g.inW + ih * g.inW + iw])
                            best = Swift.max(best, v); sum += v
                        }
                    }
                    y.append(Float(isMax ? best : sum / Double(g.kernel * g.kernel)))
                }
            }
        }
        return y
    }
}
