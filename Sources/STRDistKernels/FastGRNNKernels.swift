// The FastGRNN cell's elementwise steps (Kusupati et al. 2018; EdgeML's
// FastGRNNCell), on feature-major [hidden, width] blocks of one time step
// (a row per hidden unit, a column per sample; rows `ld` apart):
//   z = σ(pre + b_z), c = tanh(pre + b_h), h = z⊙h₋ + (ζ(1 − z) + ν)⊙c,
// where pre = W x + U h₋ comes from the GEMMs and ζ, ν are already squashed
// (σ of the learned scalars); VectorMath's exp, 8 lanes at a time. Backward turns ∂L/∂h into ∂L/∂pre, adds the
// biases' and scalars' gradient sums, and leaves ∂L/∂h₋'s direct part z⊙∂L/∂h.

import Foundation

public enum FastGRNNKernels {
    private typealias M = VectorMath

    @inline(__always) static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

    /// On entry `z` holds pre; on return z = σ(pre + biasGate), c = tanh(pre + biasUpdate) and
    /// h = z⊙hPrev + (zeta·(1 − z) + nu)⊙c, for `hidden` rows of `width` columns: z's and c's rows `ldz`
    /// apart, h's and hPrev's `ldh`.
    public static func forward(z: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float>, ldz: Int,
                               h: UnsafeMutablePointer<Float>, hPrev: UnsafePointer<Float>, ldh: Int,
                               biasGate: UnsafePointer<Float>, biasUpdate: UnsafePointer<Float>,
                               zeta: Float, nu: Float, hidden: Int, width: Int) {
        for r in 0..<hidden {
            let zr = z + r * ldz, cr = c + r * ldz, hr = h + r * ldh, pr = hPrev + r * ldh
            let bg = biasGate[r], bu = biasUpdate[r]
            var j = 0
            while j + 8 <= width {
                let pre = M.load(zr + j)
                let zj = M.sigmoid(pre + bg), cj = M.tanh(pre + bu)
                M.store(zj, zr + j)
                M.store(cj, cr + j)
                M.store(zj * M.load(pr + j) + (zeta * (1 - zj) + nu) * cj, hr + j)
                j += 8
            }
            for j in j..<width {
                let pre = zr[j]
                let zj = sigmoid(pre + bg), cj = tanhf(pre + bu)
                zr[j] = zj
                cr[j] = cj
                hr[j] = zj * pr[j] + (zeta * (1 - zj) + nu) * cj
            }
        }
    }

    /// Where a group's backward steps add their sums, 8 lanes each (reduced once, by `reduce`): per hidden
    /// unit r the gate's bias gradient at 8r, the update's at 8(hidden + r), ζ's at 16·hidden, ν's after it.
    public static func laneCount(hidden: Int) -> Int { 8 * (2 * hidden + 2) }

    /// `dh` (rows `lddh` apart) holds ∂L/∂h on entry. Writes ∂L/∂pre to `dPre` (rows `ldz` apart, as z's
    /// and c's), adds the biases' and scalars' gradients to `lanes`, and leaves z⊙∂L/∂h in `dh` (the path
    /// to h₋ that skips the products).
    public static func backward(dh: UnsafeMutablePointer<Float>, lddh: Int, z: UnsafePointer<Float>, c: UnsafePointer<Float>,
                                ldz: Int, hPrev: UnsafePointer<Float>, ldh: Int, zeta: Float, nu: Float,
                                dPre: UnsafeMutablePointer<Float>, lanes: UnsafeMutablePointer<Float>, hidden: Int, width: Int) {
        let zetaLanes = lanes + 16 * hidden, nuLanes = zetaLanes + 8
        var laneZeta = M.load(zetaLanes), laneNu = M.load(nuLanes)
        for r in 0..<hidden {
            let g0 = dh + r * lddh, zr = z + r * ldz, cr = c + r * ldz, pr = hPrev + r * ldh, dr = dPre + r * ldz
            let gateLanes = lanes + 8 * r, updateLanes = lanes + 8 * (hidden + r)
            var laneGate = M.load(gateLanes), laneUpdate = M.load(updateLanes)
            var j = 0
            while j + 8 <= width {
                let g = M.load(g0 + j), zj = M.load(zr + j), cj = M.load(cr + j)
                let dPreZ = g * (M.load(pr + j) - zeta * cj) * zj * (1 - zj)
                let dPreC = g * (zeta * (1 - zj) + nu) * (1 - cj * cj)
                M.store(dPreZ + dPreC, dr + j)
                laneGate += dPreZ
                laneUpdate += dPreC
                laneZeta += g * (1 - zj) * cj
                laneNu += g * cj
                M.store(g * zj, g0 + j)
                j += 8
            }
            M.store(laneGate, gateLanes); M.store(laneUpdate, updateLanes)
            for j in j..<width {
                let g = g0[j], zj = zr[j], cj = cr[j], lane = j & 7
                let dPreZ = g * (pr[j] - zeta * cj) * zj * (1 - zj)
                let dPreC = g * (zeta * (1 - zj) + nu) * (1 - cj * cj)
                dr[j] = dPreZ + dPreC
                gateLanes[lane] += dPreZ
                updateLanes[lane] += dPreC
                laneZeta[lane] += g * (1 - zj) * cj
                laneNu[lane] += g * cj
                g0[j] = g * zj
            }
        }
        M.store(laneZeta, zetaLanes); M.store(laneNu, nuLanes)
    }

    /// Each sum's 8 lanes added (in a fixed order) into `out`: [bias_gate (hidden), bias_update (hidden), ζ, ν].
    public static func reduce(lanes: UnsafePointer<Float>, hidden: Int, into out: UnsafeMutablePointer<Float>) {
        for k in 0..<(2 * hidden + 2) { out[k] = M.load(lanes + 8 * k).sum() }
    }
}
