import XCTest
@testable import STRDist

final class SGDTests: XCTestCase {
    /// PyTorch SGD by hand for one scalar.
    func reference(p0: Float, grads: [Float], lr: Float, m: Float, wd: Float, nesterov: Bool) -> Float {
        var p = p0, buf: Float = 0
        for (i, g) in grads.enumerated() {
            var d = g + wd * p
            buf = i == 0 ? d : m * buf + d
            d = nesterov ? d + m * buf : buf
            p -= lr * d
        }
        return p
    }

    func testGroupsAndNesterovMatchReference() {
        let table = ParameterTable()
        table.add("conv.weight", shape: [3], group: .weight)
        table.add("bn.weight", shape: [2], group: .batchNorm)
        table.add("conv.sparseThreshold", shape: [1, 1], group: .threshold)
        table.add("frozen.weight", shape: [2], group: .weight)
        for nesterov in [false, true] {
            var s = SGDSettings()
            s.momentum = 0.875; s.nesterov = nesterov; s.weightDecay = 0.01
            s.batchNormDecay = 0; s.thresholdDecay = 0.5
            let sgd = SGD(s, table: table, frozen: ["frozen.weight"])
            let values = FloatBuffer(count: table.count), grads = FloatBuffer(count: table.count)
            for e in table.entries { for i in 0..<e.count { values[e.offset + i] = Float(i + 1) } }
            let gs: [Float] = [0.3, -0.2, 0.7]
            let pool = ThreadPool(threads: 2)
            for g in gs {
                for e in table.entries { for i in 0..<e.count { grads[e.offset + i] = g * Float(i + 1) } }
                sgd.step(values: values, grads: grads, lr: 0.1, pool: pool)
            }
            for e in table.entries {
                for i in 0..<e.count {
                    let wd: Float = e.group == .batchNorm ? 0 : e.group == .threshold ? 0.5 : 0.01
                    let want = e.key == "frozen.weight" ? Float(i + 1)
                        : reference(p0: Float(i + 1), grads: gs.map { $0 * Float(i + 1) }, lr: 0.1, m: 0.875, wd: wd,
                                    nesterov: nesterov)
                    assertClose(values[e.offset + i], want, rtol: 1e-6, "\(e.key)[\(i)] nesterov \(nesterov)")
                }
            }
        }
    }

    /// The sparsity controller sets the thresholds' decay between steps; nothing else changes.
    func testThresholdDecaySetBetweenStepsAppliesToThresholdsAlone() {
        let table = ParameterTable()
        table.add("a.weight", shape: [3], group: .weight)
        table.add("a.sparseThreshold", shape: [1, 1], group: .threshold)
        table.add("b.weight", shape: [2], group: .weight)
        table.add("b.sparseThreshold", shape: [1, 1], group: .threshold)
        var s = SGDSettings()
        s.momentum = 0; s.weightDecay = 0.01
        let sgd = SGD(s, table: table)
        XCTAssertEqual(sgd.thresholdDecay, 0.01, "st_decay unset: weight_decay")
        let values = FloatBuffer(count: table.count), grads = FloatBuffer(count: table.count)
        for e in table.entries { values[e.offset] = -2 }
        let pool = ThreadPool(threads: 2)
        sgd.step(values: values, grads: grads, lr: 0.5, pool: pool)
        sgd.thresholdDecay = -0.3
        sgd.step(values: values, grads: grads, lr: 0.5, pool: pool)
        for e in table.entries {
            let want: Float = e.group == .threshold ? -2 * (1 - 0.5 * 0.01) * (1 + 0.5 * 0.3) : -2 * (1 - 0.5 * 0.01) * (1 - 0.5 * 0.01)
            assertClose(values[e.offset], want, rtol: 1e-6, e.key)
        }
    }
}
