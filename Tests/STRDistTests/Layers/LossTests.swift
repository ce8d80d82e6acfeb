import XCTest
import Foundation
@testable import STRDist

final class LossTests: XCTestCase {
    // Two classes-major samples: logits [K=3, N=2].
    let logits: [Float] = [1, 0.5, 2, -1, 0.5, 3]   // sample 0: (1, 2, 0.5); sample 1: (0.5, −1, 3)
    let labels: [Int32] = [1, 0]

    func expected(_ eps: Double) -> Double {
        var total = 0.0
        for (z, y) in [([1.0, 2, 0.5], 1), ([0.5, -1, 3], 0)] {
            let logZ = log(z.map { exp($0) }.reduce(0, +))
            let nll = logZ - z[y]
            let smooth = z.map { logZ - $0 }.reduce(0, +) / 3
            total += (1 - eps) * nll + eps * smooth
        }
        return total / 2
    }

    func testValueByHand() {
        for eps in [0.0, 0.1] {
            let loss = LossKernels.crossEntropy(logits: logits, labels: labels, classes: 3, batch: 2,
                                                smoothing: Float(eps), dlogits: nil)
            assertClose(loss, Float(expected(eps)), rtol: 1e-6)
        }
    }

    func testGradientMatchesFiniteDifferences() {
        for eps: Float in [0, 0.1] {
            var d = [Float](repeating: 0, count: 6)
            _ = LossKernels.crossEntropy(logits: logits, labels: labels, classes: 3, batch: 2, smoothing: eps, dlogits: &d)
            var numeric = [Float]()
            for i in 0..<6 {
                var p = logits, m = logits
                p[i] += 1e-2; m[i] -= 1e-2
                let fp = LossKernels.crossEntropy(logits: p, labels: labels, classes: 3, batch: 2, smoothing: eps, dlogits: nil)
                let fm = LossKernels.crossEntropy(logits: m, labels: labels, classes: 3, batch: 2, smoothing: eps, dlogits: nil)
                numeric.append((fp - fm) / 2e-2)
            }
            assertClose(d, numeric, rtol: 1e-2, atol: 1e-4, "eps \(eps)")
        }
    }

    func testTopKCounts() {
        // Sample 0 (label 1) is top-1; sample 1 (label 0) is second.
        let c = LossKernels.correctCounts(logits: logits, labels: labels, classes: 3, batch: 2, topK: (1, 2))
        XCTAssertEqual(c.0, 1)
        XCTAssertEqual(c.1, 2)
    }
}
