// Weight initialisations of the reference (DESIGN.md, `init`, `mode`,
// `nonlinearity`, `scale_fan`). std = gain/√fan with gain √2 for relu and 1
// for linear; with scale_fan the fan is multiplied by (1 − prune_rate).

import Foundation

public enum FanMode: String, CaseIterable, Sendable { case fanIn = "fan_in", fanOut = "fan_out" }

public enum WeightInit: Equatable, Sendable {
    /// kaiming_uniform(a=√5): U(±1/√fan_in), PyTorch's Conv2d default.
    case standard
    /// N(0, std²).
    case kaimingNormal(mode: FanMode, gain: Double, fanScale: Double)
    /// sign(standard draw) · std.
    case signedConstant(mode: FanMode, gain: Double, fanScale: Double)
    /// std everywhere.
    case unsignedConstant(mode: FanMode, gain: Double, fanScale: Double)

    /// Gain of `calculate_gain(nonlinearity)` for the two used here.
    public static func gain(_ nonlinearity: Nonlinearity) -> Double { nonlinearity == .relu ? 2.0.squareRoot() : 1 }

    public func fill(_ w: UnsafeMutablePointer<Float>, count: Int, fanIn: Int, fanOut: Int, rng: inout RNG) {
        func std(_ mode: FanMode, _ gain: Double, _ fanScale: Double) -> Double {
            gain / (Double(mode == .fanIn ? fanIn : fanOut) * fanScale).squareRoot()
        }
        switch self {
        case .standard:
            let bound = 1 / Double(fanIn).squareRoot()
            rng.fillUniform(w, count: count, low: -bound, high: bound)
        case let .kaimingNormal(mode, gain, fanScale):
            rng.fillNormal(w, count: count, std: std(mode, gain, fanScale))
        case let .signedConstant(mode, gain, fanScale):
            let s = Float(std(mode, gain, fanScale))
            rng.fillUniform(w, count: count, low: -1, high: 1)
            for i in 0..<count { w[i] = w[i] < 0 ? -s : s }
        case let .unsignedConstant(mode, gain, fanScale):
            w.update(repeating: Float(std(mode, gain, fanScale)), count: count)
        }
    }
}
