// Stride-2 convs on shifted planes (SparseConvKernels+Shifted.swift): the
// input split into the phase planes of its zero-padded images, and ∂X gathered
// back from the transposed product's phase planes. Phase (p, q) of a channel
// holds padded pixel (s·i + p, s·j + q) at i·Wp + j of its image's plane.

import CBFloat16

extension SparseConvKernels {
    /// Each channel's images into its s² phase planes, zeros where the padding or the rows' ends fall, then
    /// `margin` zeros of slack after the last: fp32 copies, or rounded to bf16 (`PlaneElement` UInt16) — from
    /// fp32 x, or from its bf16 form `xh` when given.
    static func padPhases<E: PlaneElement>(_ x: UnsafePointer<Float>, _ xh: UnsafePointer<UInt16>?,
                                           into xp: UnsafeMutablePointer<E>, channels: Int, _ s: ShiftedPlanes,
                                           pool: ThreadPool) {
        pool.parallelRanges(channels, (x: x, xh: xh, xp: xp, s: s)) { a, range, _ in
            let g = a.s.g, st = a.s.stride, wp = a.s.wp, hp = a.s.hp
            // One phase row's values before their conversion (fp32, or the bf16 bits in the first half).
            withUnsafeTemporaryAllocation(of: Float.self, capacity: wp) { buffer in
                let row32 = buffer.baseAddress!
                for c in range {
                    for n in 0..<g.batch {
                        let image = (c * g.batch + n) * g.inPlane
                        for p in 0..<st {
                            for q in 0..<st {
                                let phase: Int = c * st * st + p * st + q
                                let plane = a.xp + phase * a.s.planes + n * hp * wp
                                let (lo, hi) = phaseColumns(g, st, q, wp)
                                for i in 0..<hp {
                                    let row = plane + i * wp, h = st * i + p - g.padH
                                    guard h >= 0, h < g.inH, hi > lo else { row.update(repeating: .zero, count: wp); continue }
                                    row.update(repeating: .zero, count: lo)
                                    // Input element of phase column lo; the next ones st apart.
                                    let first = image + h * g.inW + st * lo + q - g.padW, count = hi - lo
                                    if let xh = a.xh {
                                        row32.withMemoryRebound(to: UInt16.self, capacity: count) { row16 in
                                            for j in 0..<count { row16[j] = xh[first + st * j] }
                                            E.convert(bf16: row16, into: row + lo, count: count)
                                        }
                                    } else {
                                        if st == 2 {
                                            Im2col.gatherEven(a.x + first, row32, 0, count)
                                        } else {
                                            for j in 0..<count { row32[j] = a.x[first + st * j] }
                                        }
                                        E.convert(row32, into: row + lo, count: count)
                                    }
                                    (row + hi).update(repeating: .zero, count: wp - hi)
                                }
                            }
                        }
                    }
                }
            }
        }
        (xp + s.inputRows * s.planes).update(repeating: .zero, count: s.margin)
    }

    /// Phase q's columns [lo, hi) that hold image columns (w = s·j + q − padW inside [0, W)).
    @inline(__always)
    static func phaseColumns(_ g: ConvGeometry, _ st: Int, _ q: Int, _ wp: Int) -> (Int, Int) {
        let before = g.padW - q, last = g.inW - 1 + g.padW - q
        let hi = last < 0 ? 0 : min(wp, last / st + 1)
        return (min(before > 0 ? (before + st - 1) / st : 0, hi), hi)
    }

    /// ∂X from the transposed product's planes, written or (accumulate) added: at stride 1 the padded planes'
    /// interior, at stride s each row gathered from the s phase planes its columns fall in.
    static func inputGradient(from planes: UnsafeMutablePointer<Float>, into dx: UnsafeMutablePointer<Float>,
                              accumulate: Bool, _ s: ShiftedPlanes, pool: ThreadPool) {
        let g = s.g
        guard s.stride > 1 else {
            return crop(planes, rowLength: s.planes, into: dx, channels: g.inChannels, size: (g.inH, g.inW),
                        accumulate: accumulate, offset: g.padH * s.wp + g.padW, s, pool: pool)
        }
        pool.parallelRanges(g.inChannels, (src: UnsafePointer(planes), dx: dx, acc: accumulate, s: s)) { a, range, _ in
            let g = a.s.g, st = a.s.stride, wp = a.s.wp, hp = a.s.hp
            for c in range {
                for n in 0..<g.batch {
                    for h in 0..<g.inH {
                        let p = (h + g.padH) % st, i = (h + g.padH) / st
                        let to = a.dx + ((c * g.batch + n) * g.inH + h) * g.inW
                        for q in 0..<st {
                            let phase: Int = c * st * st + p * st + q, at: Int = (n * hp + i) * wp
                            let from = a.src + phase * a.s.planes + at
                            let (lo, hi) = phaseColumns(g, st, q, wp)
                            // Column j of the phase row is image column s·j + q − padW.
                            var w = st * lo + q - g.padW
                            if a.acc {
                                for j in lo..<hi { to[w] += from[j]; w += st }
                            } else {
                                for j in lo..<hi { to[w] = from[j]; w += st }
                            }
                        }
                    }
                }
            }
        }
    }
}
