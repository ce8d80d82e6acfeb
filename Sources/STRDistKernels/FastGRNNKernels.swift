// The FastGRNN cell's elementwise steps (Kusupati et al. 2018; EdgeML's
// FastGRNNCell), on row-major [rows, hidden] blocks of one time step:
//   z = σ(pre + b_z), c = tanh(pre + b_h), h = z⊙h₋ + (ζ(1 − z) + ν)⊙c,
// where pre = W x + U h₋ comes from the GEMMs and ζ, ν are already squashed
// (σ of the learned scalars); VectorMath's exp, 8 lanes at a time. Backward turns ∂L/∂h into ∂L/∂pre, adds the
// biases' and scalars' gradient sums, and leaves ∂L/∂h₋'s direct part z⊙∂L/∂h.

import Foundation

public enum FastGRNNKernels {
    @inline(__always) static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

    /// On entry `z` holds pre; on return z = σ(pre + biasGate), c = tanh(pre + biasUpdate) and
    /// h = z⊙hPrev + (zeta·(1 − z) + nu)⊙c, for `rows` rows of `hidden`.
    public static func forward(z: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float>, h: UnsafeMutablePointer<Float>,
                               hPrev: UnsafePointer<Float>, biasGate: UnsafePointer<Float>, biasUpdate: UnsafePointer<Float>,
                               zeta: Float, nu: Float, rows: Int, hidden: Int) {
        typealias M = VectorMath
        for r in 0..<rows {
            let o = r * hidden
            var j = 0
            while j + 8 <= hidden {
                let pre = M.load(z + o + j)
                let zj = M.sigmoid(pre + M.load(biasGate + j)), cj = M.tanh(pre + M.load(biasUpdate + j))
                M.store(zj, z + o + j)
                M.store(cj, c + o + j)
                M.store(zj * M.load(hPrev + o + j) + (zeta * (1 - zj) + nu) * cj, h + o + j)
                j += 8
            }
            for j in j..<hidden {
                let pre = z[o + j]
                let zj = sigmoid(pre + biasGate[j]), cj = tanhf(pre + biasUpdate[j])
                z[o + j] = zj
                c[o + j] = cj
                h[o + j] = zj * hPrev[o + j] + (zeta * (1 - zj) + nu) * cj
            }
        }
    }

    /// Sums a backward step adds to: per hidden unit the gate's and the update's bias gradients, and the
    /// gradients of the squashed ζ and ν (in Double).
    public struct Sums {
        public var biasGate: UnsafeMutablePointer<Float>
        public var biasUpdate: UnsafeMutablePointer<Float>
        public var zeta = 0.0, nu = 0.0
        public init(biasGate: UnsafeMutablePointer<Float>, biasUpdate: UnsafeMutablePointer<Float>) {
            self.biasGate = biasGate; self.biasUpdate = biasUpdate
        }
    }

    /// `dh` holds ∂L/∂h on entry. Writes ∂L/∂pre to `dPre`, adds the biases' and scalars' gradients to
    /// `sums`, and leaves z⊙∂L/∂h in `dh` (the path to h₋ that skips the products).
    public static func backward(dh: UnsafeMutablePointer<Float>, z: UnsafePointer<Float>, c: UnsafePointer<Float>,
                                hPrev: UnsafePointer<Float>, zeta: Float, nu: Float, dPre: UnsafeMutablePointer<Float>,
                                sums: inout Sums, rows: Int, hidden: Int) {
        typealias M = VectorMath
        var dz = 0.0, dn = 0.0
        for r in 0..<rows {
            let o = r * hidden
            // 8 lanes of hidden units; the scalars' row sums in 8 partials, added at the row's end.
            var laneZeta = M.V(), laneNu = M.V()
            var j = 0
            while j + 8 <= hidden {
                let g = M.load(dh + o + j), zj = M.load(z + o + j), cj = M.load(c + o + j)
                let dPreZ = g * (M.load(hPrev + o + j) - zeta * cj) * zj * (1 - zj)
                let dPreC = g * (zeta * (1 - zj) + nu) * (1 - cj * cj)
                M.store(dPreZ + dPreC, dPre + o + j)
                M.store(M.load(sums.biasGate + j) + dPreZ, sums.biasGate + j)
                M.store(M.load(sums.biasUpdate + j) + dPreC, sums.biasUpdate + j)
                laneZeta += g * (1 - zj) * cj
                laneNu += g * cj
                M.store(g * zj, dh + o + j)
                j += 8
            }
            var rowZeta = laneZeta.sum(), rowNu = laneNu.sum()
            for j in j..<hidden {
                let g = dh[o + j], zj = z[o + j], cj = c[o + j]
                let dzj = g * (hPrev[o + j] - zeta * cj)
                let dcj = g * (zeta * (1 - zj) + nu)
                let dPreZ = dzj * zj * (1 - zj), dPreC = dcj * (1 - cj * cj)
                dPre[o + j] = dPreZ + dPreC
                sums.biasGate[j] += dPreZ
                sums.biasUpdate[j] += dPreC
                rowZeta += g * (1 - zj) * cj
                rowNu += g * cj
                dh[o + j] = g * zj
            }
            dz += Double(rowZeta); dn += Double(rowNu)
        }
        sums.zeta += dz; sums.nu += dn
    }
}
