// VectorMath's exp, sigmoid and tanh against libm (in Double) over their range.
import XCTest
import Foundation
@testable import STRDistKernels

final class VectorMathTests: XCTestCase {
    /// 8 points at a time from `values`, through `f`, against `reference`: the worst error relative to
    /// max(|reference|, `floor`).
    func worst(_ values: [Float], _ f: (VectorMath.V) -> VectorMath.V, _ reference: (Double) -> Double, floor: Double) -> Double {
        var worst = 0.0
        for i in stride(from: 0, to: values.count - 7, by: 8) {
            let y = f(values.withUnsafeBufferPointer { VectorMath.load($0.baseAddress! + i) })
            for l in 0..<8 {
                let want = reference(Double(values[i + l]))
                worst = max(worst, abs(Double(y[l]) - want) / max(abs(want), floor))
            }
        }
        return worst
    }

    let points: [Float] = (0..<40_000).map { -87 + 175 * Float($0) / 40_000 } + (0..<8_000).map { -4 + Float($0) / 1_000 }

    func testExpIsWithinTwoULPs() {
        XCTAssertLessThan(worst(points, VectorMath.exp, Foundation.exp, floor: 0), 2.4e-7)
        // Clamped, not infinite or zero, outside [−87, 88].
        let y = VectorMath.exp(VectorMath.V(-200, -88, 89, 200, 0, 1, -1, 88))
        XCTAssert(y[0] > 0 && y[1] > 0 && y[2].isFinite && y[3].isFinite, "\(y)")
        XCTAssertEqual(y[4], 1)
    }

    func testSigmoidAndTanh() {
        XCTAssertLessThan(worst(points, VectorMath.sigmoid, { 1 / (1 + Foundation.exp(-$0)) }, floor: 0), 4e-7)
        // tanh as 2·sigmoid(2x) − 1 loses relative precision near 0: bounded in absolute terms there.
        XCTAssertLessThan(worst(points, VectorMath.tanh, Foundation.tanh, floor: 1), 3e-7)
        let t = VectorMath.tanh(VectorMath.V(-100, -20, 20, 100, 0, 0.5, -0.5, 1e-3))
        XCTAssertEqual([t[0], t[1], t[2], t[3], t[4]], [-1, -1, 1, 1, 0])
    }
}
