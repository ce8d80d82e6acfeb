// Small vector primitives with explicit SIMD accumulators. Swift does not
// reassociate Float sums, so reductions written as plain loops stay scalar;
// these keep 16 lanes busy and fix the summation order (deterministic).

import CBFloat16
import CVector

public enum Vec {
    public typealias V = SIMD16<Float>

    @inline(__always) public static func load(_ p: UnsafePointer<Float>) -> V {
        UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }

    @inline(__always) public static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }

    /// Σ a[i]·b[i].
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = V(repeating: 0)
        var i = 0
        while i + 16 <= n { acc = acc.addingProduct(load(a + i), load(b + i)); i += 16 }
        var s = acc.sum()
        while i < n { s += a[i] * b[i]; i += 1 }
        return s
    }

    /// Σ a[i].
    @inline(__always)
    public static func sum<E: ActivationElement>(_ a: UnsafePointer<E>, _ n: Int) -> Float {
        var acc = V(repeating: 0)
        var i = 0
        while i + 16 <= n { acc += E.load(a + i); i += 16 }
        var s = acc.sum()
        while i < n { s += E.value(a, i); i += 1 }
        return s
    }

    /// Σ (a[i] − mean)².
    @inline(__always)
    public static func sumSquaredDeviations<E: ActivationElement>(_ a: UnsafePointer<E>, _ n: Int, mean: Float) -> Float {
        let m = V(repeating: mean)
        var acc = V(repeating: 0)
        var i = 0
        while i + 16 <= n { let d = E.load(a + i) - m; acc = acc.addingProduct(d, d); i += 16 }
        var s = acc.sum()
        while i < n { let d = E.value(a, i) - mean; s += d * d; i += 1 }
        return s
    }

    /// y[i] += alpha · x[i].
    @inline(__always)
    public static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        let a = V(repeating: alpha)
        var i = 0
        while i + 16 <= n { store(load(y + i).addingProduct(a, load(x + i)), y + i); i += 16 }
        while i < n { y[i] += alpha * x[i]; i += 1 }
    }

    /// y[0..<m] = values computed 16 at a time by `lanes` (lanes(i): values i..<i+16) and one at a time by
    /// `one` (one(i): value i) where 16 do not fit. `streamed`: past the caches (CVector) — from y's first
    /// 64-byte boundary on, and a fence at the end, so that another thread may read y after this one is
    /// done — else plain stores. The same values either way.
    @inline(__always)
    public static func fill(_ y: UnsafeMutablePointer<Float>, _ m: Int, streamed: Bool,
                            _ lanes: (Int) -> V, _ one: (Int) -> Float) {
        var i = 0
        if streamed {
            let head = Swift.min(m, (16 - ((Int(bitPattern: y) >> 2) & 15)) & 15)
            while i < head { y[i] = one(i); i += 1 }
            while i + 16 <= m { stream_store16(y + i, lanes(i)); i += 16 }
        } else {
            while i + 16 <= m { store(lanes(i), y + i); i += 16 }
        }
        while i < m { y[i] = one(i); i += 1 }
        if streamed { stream_fence() }
    }

    /// y[i] += x[i].
    @inline(__always)
    public static func add(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        while i + 16 <= n { store(load(y + i) + load(x + i), y + i); i += 16 }
        while i < n { y[i] += x[i]; i += 1 }
    }
}

/// How a kernel reads an activation: fp32, or bf16 (UInt16 bits: a bf16 conv output), widened exactly to fp32.
public protocol ActivationElement {
    /// 16 values from p, as fp32.
    static func load(_ p: UnsafePointer<Self>) -> Vec.V
    /// p[i] as fp32.
    static func value(_ p: UnsafePointer<Self>, _ i: Int) -> Float
}

extension Float: ActivationElement {
    @inline(__always) public static func load(_ p: UnsafePointer<Float>) -> Vec.V { Vec.load(p) }
    @inline(__always) public static func value(_ p: UnsafePointer<Float>, _ i: Int) -> Float { p[i] }
}

extension UInt16: ActivationElement {
    @inline(__always) public static func load(_ p: UnsafePointer<UInt16>) -> Vec.V { bf16_load16(p) }
    @inline(__always) public static func value(_ p: UnsafePointer<UInt16>, _ i: Int) -> Float {
        Float(bitPattern: UInt32(p[i]) << 16)
    }
}
