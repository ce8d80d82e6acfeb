// What every test target shares: assertClose (element-wise |a − b| ≤ atol + rtol·|b|, reporting the worst
// element at the caller's line) and seeded random arrays.
import XCTest
import STRDistKernels

public func assertClose(_ actual: [Float], _ expected: [Float], rtol: Float = 1e-4, atol: Float = 1e-5,
                 _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "sizes differ \(message)", file: file, line: line)
    var worst = -1, worstExcess: Float = 0
    for i in 0..<min(actual.count, expected.count) {
        let excess = abs(actual[i] - expected[i]) - (atol + rtol * abs(expected[i]))
        if !(excess <= 0) && (worst < 0 || !(excess <= worstExcess)) { worst = i; worstExcess = excess }
    }
    if worst >= 0 {
        XCTFail("\(message) element \(worst): \(actual[worst]) vs expected \(expected[worst]) (rtol \(rtol), atol \(atol))",
                file: file, line: line)
    }
}

public func assertClose(_ actual: Float, _ expected: Float, rtol: Float = 1e-4, atol: Float = 1e-5,
                 _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    assertClose([actual], [expected], rtol: rtol, atol: atol, message, file: file, line: line)
}

/// Random floats in [low, high) from a fixed seed.
public func randomArray(_ count: Int, seed: UInt64, low: Double = -1, high: Double = 1) -> [Float] {
    var rng = RNG(seed: seed, stream: 77)
    return (0..<count).map { _ in Float(rng.uniform(low, high)) }
}
