// Seeded, reproducible random numbers: xoshiro256** seeded through
// SplitMix64 from (seed, stream). Every consumer names its own stream
// (initialisation, sampler, augmentation of sample i in epoch e…), so the
// numbers it draws never depend on what other consumers drew before.

import Foundation

/// xoshiro256** with uniform and normal draws.
public struct RNG: RandomNumberGenerator {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64
    private var spareNormal: Double?

    /// - Parameters:
    ///   - seed: the run's seed.
    ///   - stream: which independent sequence to draw (any value).
    public init(seed: UInt64, stream: UInt64 = 0) {
        var sm = seed &* 0x9E37_79B9_7F4A_7C15 ^ (stream &+ 0x632B_E59B_D9B4_E019)
        func next() -> UInt64 {
            sm &+= 0x9E37_79B9_7F4A_7C15
            var z = sm
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = next(); s1 = next(); s2 = next(); s3 = next()
    }

    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform in [low, high).
    public mutating func uniform(_ low: Double, _ high: Double) -> Double { low + (high - low) * uniform() }

    /// Uniform integer in 0..<bound (unbiased).
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0, "bound must be positive")
        return Int(next(upperBound: UInt64(bound)))
    }

    /// Standard normal by the Box–Muller transform.
    public mutating func normal() -> Double {
        if let spare = spareNormal { spareNormal = nil; return spare }
        var u = uniform()
        while u <= .leastNormalMagnitude { u = uniform() }
        let v = uniform()
        let r = (-2 * log(u)).squareRoot()
        spareNormal = r * sin(2 * .pi * v)
        return r * cos(2 * .pi * v)
    }

    /// Fills `count` floats with N(mean, std²).
    public mutating func fillNormal(_ p: UnsafeMutablePointer<Float>, count: Int, mean: Double = 0, std: Double) {
        for i in 0..<count { p[i] = Float(mean + std * normal()) }
    }

    /// Fills `count` floats with U(low, high).
    public mutating func fillUniform(_ p: UnsafeMutablePointer<Float>, count: Int, low: Double, high: Double) {
        for i in 0..<count { p[i] = Float(uniform(low, high)) }
    }
}

