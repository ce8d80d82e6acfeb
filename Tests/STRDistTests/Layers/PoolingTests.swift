import XCTest
@testable import STRDist

final class PoolingTests: XCTestCase {
    func testMaxAndAvgMatchNaive() {
        for (k, s, p) in [(3, 2, 1), (2, 2, 0), (3, 1, 1), (3, 3, 0)] {
            let g = PoolGeometry(kernel: k, stride: s, padding: p, planes: 6, inH: 9, inW: 8)
            let x = randomArray(6 * 9 * 8, seed: 11)
            let pool = ThreadPool(threads: 2)
            var y = [Float](repeating: 0, count: 6 * g.outH * g.outW), arg = y
            PoolingKernels.maxForward(x, &y, argmax: &arg, g, pool: pool)
            assertClose(y, Naive.pool(x: x, g, max: true), rtol: 0, atol: 0, "max k\(k) s\(s) p\(p)")
            PoolingKernels.avgForward(x, &y, g, pool: pool)
            assertClose(y, Naive.pool(x: x, g, max: false), rtol: 1e-5, atol: 1e-6, "avg k\(k) s\(s) p\(p)")
        }
    }

    /// Stride 2 on rows long enough for 16 outputs at a time: values, the argmax of the first maximum under
    /// ties (values on a coarse grid), a NaN taking its window, −∞ cells, and no argmax at inference.
    func testWideStride2MaxPoolMatchesTheWindowRule() {
        // The last two: one block of 16 outputs whose last load would end exactly at the row's end.
        for (k, p, h, w) in [(3, 1, 5, 112), (3, 1, 4, 71), (2, 0, 3, 70), (3, 0, 4, 69), (5, 2, 3, 80), (2, 0, 2, 32),
                             (3, 0, 2, 33)] {
            let g = PoolGeometry(kernel: k, stride: 2, padding: p, planes: 3, inH: h, inW: w)
            var x = randomArray(3 * h * w, seed: 12).map { ($0 * 4).rounded() }
            x[w + 40] = .nan
            x[2 * h * w + 17] = -.infinity
            let pool = ThreadPool(threads: 2)
            var y = [Float](repeating: 0, count: 3 * g.outH * g.outW), arg = y, yEval = y
            PoolingKernels.maxForward(x, &y, argmax: &arg, g, pool: pool)
            PoolingKernels.maxForward(x, &yEval, argmax: nil, g, pool: pool)
            for plane in 0..<3 {
                for oh in 0..<g.outH {
                    for ow in 0..<g.outW {
                        var best = -Float.infinity, at = -1
                        for i in (oh * 2 - p)..<(oh * 2 - p + k) where i >= 0 && i < h {
                            for j in (ow * 2 - p)..<(ow * 2 - p + k) where j >= 0 && j < w {
                                let v = x[plane * h * w + i * w + j]
                                if at < 0 || v > best || v.isNaN { best = v; at = i * w + j }
                            }
                        }
                        let o = plane * g.outH * g.outW + oh * g.outW + ow
                        let label = "k\(k) p\(p) \(h)×\(w) plane \(plane) (\(oh), \(ow))"
                        XCTAssertEqual(y[o].bitPattern, best.bitPattern, label)
                        XCTAssertEqual(yEval[o].bitPattern, best.bitPattern, "inference " + label)
                        XCTAssertEqual(Int(arg[o]), at, label)
                    }
                }
            }
        }
    }

    func testResNetStemPoolSize() {
        XCTAssertEqual(PoolGeometry(kernel: 3, stride: 2, padding: 1, planes: 1, inH: 112, inW: 112).outH, 56)
    }
}
