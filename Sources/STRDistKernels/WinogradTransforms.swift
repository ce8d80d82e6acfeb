// The one-dimensional transforms of Winograd F(4, 3) (Lavin & Gray, "Fast
// Algorithms for Convolutional Neural Networks", 2016), interpolation
// points 0, ±1, ±2, ∞. A 2-D transform applies one of them along rows and
// then along columns: V = Bᵀ d B, U = G g Gᵀ, Y = Aᵀ M A; the gradients use
// the transposes (∂d = B ∂V Bᵀ, ∂g = Gᵀ ∂U G, ∂M = A ∂Y Aᵀ).
//
//        ⎡4  0 −5  0  1  0⎤        ⎡ 1/4    0     0 ⎤       ⎡1  1  1  1  1  0⎤
//        ⎢0 −4 −4  1  1  0⎥        ⎢−1/6 −1/6  −1/6 ⎥  Aᵀ = ⎢0  1 −1  2 −2  0⎥
//   Bᵀ = ⎢0  4 −4 −1  1  0⎥   G =  ⎢−1/6  1/6  −1/6 ⎥       ⎢0  1  1  4  4  0⎥
//        ⎢0 −2 −1  2  1  0⎥        ⎢1/24 1/12  1/6  ⎥       ⎣0  1 −1  8 −8  1⎦
//        ⎢0  2 −1 −2  1  0⎥        ⎢1/24 −1/12 1/6  ⎥
//        ⎣0  4  0 −5  0  1⎦        ⎣  0     0     1 ⎦

// The tile transforms run on 8 tiles at once (one lane each), the weight transforms on 16 kernels.
public typealias Lanes8 = SIMD8<Float>
public typealias Six = (Lanes8, Lanes8, Lanes8, Lanes8, Lanes8, Lanes8)
public typealias Four = (Lanes8, Lanes8, Lanes8, Lanes8)

public enum WinogradTransforms {
    /// Bᵀ·d: input tile (6) → transform domain (6).
    @inline(__always) public static func inputForward(_ d0: Lanes8, _ d1: Lanes8, _ d2: Lanes8, _ d3: Lanes8, _ d4: Lanes8,
                                               _ d5: Lanes8) -> Six {
        let p = d4 - d2, q = d3 - d1
        return (4 * d0 - 5 * d2 + d4,
                d3 + d4 - 4 * (d1 + d2),
                d4 - d3 + 4 * (d1 - d2),
                p + 2 * q,
                p - 2 * q,
                4 * d1 - 5 * d3 + d5)
    }

    /// B·v: transform-domain gradient (6) → input-tile gradient (6).
    @inline(__always) public static func inputBackward(_ v0: Lanes8, _ v1: Lanes8, _ v2: Lanes8, _ v3: Lanes8, _ v4: Lanes8,
                                                _ v5: Lanes8) -> Six {
        (4 * v0,
         4 * (v2 - v1) + 2 * (v4 - v3) + 4 * v5,
         -5 * v0 - 4 * (v1 + v2) - v3 - v4,
         v1 - v2 + 2 * (v3 - v4) - 5 * v5,
         v0 + v1 + v2 + v3 + v4,
         v5)
    }

    /// Aᵀ·m: transform domain (6) → output tile (4).
    @inline(__always) public static func outputForward(_ m0: Lanes8, _ m1: Lanes8, _ m2: Lanes8, _ m3: Lanes8, _ m4: Lanes8,
                                                _ m5: Lanes8) -> Four {
        let s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4
        return (m0 + s12 + s34, d12 + 2 * d34, s12 + 4 * s34, d12 + 8 * d34 + m5)
    }

    /// A·e: output-tile gradient (4) → transform-domain gradient (6).
    @inline(__always) public static func outputBackward(_ e0: Lanes8, _ e1: Lanes8, _ e2: Lanes8, _ e3: Lanes8) -> Six {
        let even = e0 + e2, odd = e1 + e3
        let even4 = e0 + 4 * e2, odd2 = 2 * e1 + 8 * e3
        return (e0, even + odd, even - odd, even4 + odd2, even4 - odd2, e3)
    }

    public typealias Lanes = SIMD16<Float>

    /// G·g: kernel column (3) → transform domain (6).
    @inline(__always) public static func weightForward(_ g0: Lanes, _ g1: Lanes, _ g2: Lanes)
        -> (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes) {
        let even = g0 + g2, a = g0 * (1 / 24) + g2 * (1 / 6), b = g1 * (1 / 12)
        return (g0 * 0.25, (even + g1) * (-1 / 6), (even - g1) * (-1 / 6), a + b, a - b, g2)
    }

    /// Gᵀ·u: transform-domain gradient (6) → kernel-column gradient (3).
    @inline(__always) public static func weightBackward(_ u0: Lanes, _ u1: Lanes, _ u2: Lanes, _ u3: Lanes, _ u4: Lanes,
                                                 _ u5: Lanes) -> (Lanes, Lanes, Lanes) {
        let s12 = u1 + u2, s34 = u3 + u4
        return (u0 * 0.25 - s12 * (1 / 6) + s34 * (1 / 24),
                (u2 - u1) * (1 / 6) + (u3 - u4) * (1 / 12),
                (s34 - s12) * (1 / 6) + u5)
    }
}
