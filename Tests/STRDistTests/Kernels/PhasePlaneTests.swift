// Phase planes (SparseConvKernels+Phases.swift), against their definition: phase (p, q) of a channel holds
// padded pixel (2i + p, 2j + q) at i·Wp + j of its image's plane, zero where the padding falls; ∂X is read
// back from the same places, written or added to.
import XCTest
@testable import STRDistKernels

final class PhasePlaneTests: XCTestCase {
    func testPhasePlanesHoldThePaddedImageAndGiveItBack() {
        let pool = ThreadPool(threads: 2)
        for (k, pad, h, w) in [(3, 1, 9, 31), (3, 0, 8, 30), (2, 0, 7, 29), (7, 3, 11, 33)] {
            let g = ConvGeometry(inChannels: 3, outChannels: 2, kernel: (k, k), stride: (2, 2), padding: (pad, pad),
                                 batch: 2, inH: h, inW: w)
            let s = ShiftedPlanes(g)
            XCTAssertEqual(s.stride, 2)
            var rng = RNG(seed: UInt64(31 * k + w))
            var x = [Float](repeating: 0, count: 3 * 2 * h * w)
            rng.fillNormal(&x, count: x.count, std: 1)
            /// Where padded pixel (hp, wp) of channel c, image n lies in the phase planes.
            func place(_ c: Int, _ n: Int, _ hp: Int, _ wp: Int) -> Int {
                (c * 4 + (hp % 2) * 2 + wp % 2) * s.planes + (n * s.hp + hp / 2) * s.wp + wp / 2
            }
            var planes = [Float](repeating: .nan, count: s.inputRows * s.planes + s.margin)
            SparseConvKernels.padPhases(x, nil, into: &planes, channels: 3, s, pool: pool)
            var expected = [Float](repeating: 0, count: planes.count)
            for c in 0..<3 { for n in 0..<2 { for i in 0..<h { for j in 0..<w {
                expected[place(c, n, i + pad, j + pad)] = x[((c * 2 + n) * h + i) * w + j]
            } } } }
            XCTAssertEqual(planes.map(\.bitPattern), expected.map(\.bitPattern), "\(k)×\(k)/2 pad \(pad), \(h)×\(w)")

            // ∂X from planes of gradients: each input position's own place, written and added to.
            var gradients = [Float](repeating: 0, count: s.inputRows * s.planes)
            rng.fillNormal(&gradients, count: gradients.count, std: 1)
            var prior = [Float](repeating: 0, count: x.count)
            rng.fillNormal(&prior, count: prior.count, std: 1)
            var written = [Float](repeating: .nan, count: x.count), added = prior
            SparseConvKernels.inputGradient(from: &gradients, into: &written, accumulate: false, s, pool: pool)
            SparseConvKernels.inputGradient(from: &gradients, into: &added, accumulate: true, s, pool: pool)
            for c in 0..<3 { for n in 0..<2 { for i in 0..<h { for j in 0..<w {
                let at = ((c * 2 + n) * h + i) * w + j, value = gradients[place(c, n, i + pad, j + pad)]
                XCTAssertEqual(written[at].bitPattern, value.bitPattern, "written \(at)")
                XCTAssertEqual(added[at].bitPattern, (prior[at] + value).bitPattern, "added \(at)")
            } } } }
        }
    }
}
