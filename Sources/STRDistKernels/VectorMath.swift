// exp, sigmoid and tanh on 8 floats at once (one AVX2 register): Cephes'
// expf (Cody–Waite reduction by ln 2, a degree-6 polynomial, 2^k from the
// exponent bits), within 2 ulp of libm's expf over its range; sigmoid and
// tanh from it. A recurrent cell's gates are its hot path, and libm's
// scalar calls cost about 20 ns an element there.

public enum VectorMath {
    public typealias V = SIMD8<Float>

    /// e^x, x clamped to [−87, 88] (no denormals, no infinities).
    @inline(__always) public static func exp(_ x: V) -> V {
        // Selects, not `clamped`: its pointwiseMin/Max stay generic calls (9% of a FastGRNN step in perf).
        let lo = V(repeating: -87), hi = V(repeating: 88)
        let x = x.replacing(with: lo, where: x .< lo).replacing(with: hi, where: x .> hi)
        // x·log2(e) rounded to an integer k, kept in the low bits of t (1.5·2^23 shifts it there).
        let magic = V(repeating: 12_582_912)
        let t = x * 1.442_695_04 + magic
        let k = t - magic
        let r = x - k * 0.693_359_375 + k * 2.121_944_40e-4
        var p = V(repeating: 1.987_569_150_0e-4)
        p = p * r + 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        p = p * (r * r) + r + 1
        let exponent = (unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
        return p * unsafeBitCast(exponent, to: V.self)
    }

    /// 1 / (1 + e^−x).
    @inline(__always) public static func sigmoid(_ x: V) -> V { 1 / (1 + exp(-x)) }

    /// 2·sigmoid(2x) − 1.
    @inline(__always) public static func tanh(_ x: V) -> V { 2 / (1 + exp(-2 * x)) - 1 }

    @inline(__always) public static func load(_ p: UnsafePointer<Float>) -> V {
        UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }

    @inline(__always) public static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }
}
