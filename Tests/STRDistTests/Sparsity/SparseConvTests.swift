// STR, DNW and GMP as weight transforms on the conv path.
import XCTest
@testable import STRDist

final class SparseConvTests: XCTestCase {
    func conv(_ kind: SparseKind, layout: ParameterLayout, prune: Float = 0, sInit: Float = 0) -> Conv2d {
        let c = Conv2d("c", inChannels: 3, outChannels: 4, kernelSize: 3, padding: 1, kind: kind,
                       settings: TransformSettings(sInit: sInit), layout: layout)
        (c.transform as? MagnitudeWeight)?.pruneRate = prune   // a lone layer: no model's PruningPlan
        return c
    }

    func testSTRGradientsIncludingThreshold() {
        let layout = ParameterLayout()
        // sigmoid(−1.5) ≈ 0.18: a live threshold that prunes part of the layer.
        let c = conv(.str, layout: layout, sInit: -1.5)
        let h = LayerHarness(c, layout, input: ActShape(channels: 3, batch: 2, height: 5, width: 4), threads: 2)
        h.store.value("c.sparseThreshold")[0] = -1.5
        h.check(h: 1e-3)
    }

    func testSTRForwardFormula() {
        let n = 1000
        let w = randomArray(n, seed: 3)
        var out = [Float](repeating: 9, count: n)
        STRTransform.forward(w, threshold: -1, &out, count: n, pool: ThreadPool(threads: 2))
        let g = Float(1 / (1 + exp(1.0)))
        assertClose(out, w.map { $0.sign == .minus ? -max(0, abs($0) - g) : max(0, abs($0) - g) }, rtol: 0, atol: 1e-7)
        // The reference's sInit −3200: sigmoid underflows to exactly 0, nothing is pruned, s gets no gradient.
        STRTransform.forward(w, threshold: -3200, &out, count: n, pool: ThreadPool(threads: 1))
        XCTAssertEqual(out, w)
        var grad = randomArray(n, seed: 4)
        let partials = UnsafeMutablePointer<Double>.allocate(capacity: STRTransform.pieces)
        defer { partials.deallocate() }
        XCTAssertEqual(STRTransform.backward(w, threshold: -3200, grad: &grad, count: n,
                                             pool: ThreadPool(threads: 2), partials: partials), 0)
    }

    func testGMPGradientReachesOnlyKeptWeights() {
        let layout = ParameterLayout()
        let c = conv(.gmp, layout: layout, prune: 0.5)
        let h = LayerHarness(c, layout, input: ActShape(channels: 3, batch: 2, height: 5, width: 4))
        h.check(h: 1e-3)
        let w = h.store.value("c.weight"), g = h.store.grad("c.weight")
        let zeroGrads = (0..<w.count).filter { g[$0] == 0 }.count
        XCTAssertEqual(zeroGrads, Int(0.5 * Double(w.count)))
    }

    func testDNWGradientPassesStraightThrough() {
        // DNW's weight gradient is the gradient of the effective weight, pruned entries included.
        let layout = ParameterLayout(), denseLayout = ParameterLayout()
        let c = conv(.dnw, layout: layout, prune: 0.6)
        let d = conv(.dense, layout: denseLayout)
        let shape = ActShape(channels: 3, batch: 2, height: 5, width: 4)
        let hs = LayerHarness(c, layout, input: shape), hd = LayerHarness(d, denseLayout, input: shape)
        // The dense conv gets the masked weights and the same input.
        let w = hs.store.value("c.weight")
        var sorted = w.map { abs($0) }.sorted()
        let cut = sorted[Int(0.6 * Double(w.count)) - 1]
        for i in 0..<w.count { hd.store.value("c.weight")[i] = abs(w[i]) <= cut ? 0 : w[i] }
        hd.x.update(from: hs.x, count: shape.count)
        let r = randomArray(hs.output.shape.count, seed: 5)
        hs.backward(r); hd.backward(r)
        assertClose(hs.outputArray(), hd.outputArray(), rtol: 1e-5, atol: 1e-6)
        assertClose(Array(hs.store.grad("c.weight")), Array(hd.store.grad("c.weight")), rtol: 1e-5, atol: 1e-6)
        XCTAssert(hs.store.grad("c.weight").contains { $0 != 0 })
        sorted.removeAll()
    }

    func testMagnitudeMaskMatchesSortWithTiesAndThreads() {
        var w = randomArray(5000, seed: 8)
        for i in stride(from: 0, to: 5000, by: 7) { w[i] = 0.25 }   // many ties at one magnitude
        for i in stride(from: 3, to: 5000, by: 11) { w[i] = -0.25 }
        for i in stride(from: 5, to: 5000, by: 13) { w[i] = 0 }
        for p in [0, 1, 385, 700, 2500, 4999, 5000] {
            // Reference: stable sort by |w|, zero the first p.
            let order = (0..<w.count).sorted { (abs(w[$0]), $0) < (abs(w[$1]), $1) }
            var expected = w
            for i in order.prefix(p) { expected[i] = 0 }
            for threads in [1, 2, 3] {
                var out = [Float](repeating: 9, count: w.count), mask = out
                var scratch = [Float](repeating: 0, count: MagnitudeMask.scratchCount(threads: threads))
                MagnitudeMask.apply(w, count: w.count, prune: p, out: &out, mask: &mask,
                                    pool: ThreadPool(threads: threads), scratch: &scratch)
                XCTAssertEqual(out, expected, "p \(p) threads \(threads)")
                XCTAssertEqual(mask.filter { $0 == 0 }.count, p, "p \(p) threads \(threads)")
            }
        }
    }

    func testGMPSchedule() {
        let s = PruneSchedule(target: 0.9, initEpoch: 2, finalEpoch: 5)
        XCTAssertEqual(s.rate(epoch: 0), 0)
        XCTAssertEqual(s.rate(epoch: 1), 0)
        XCTAssertEqual(s.rate(epoch: 2), 0, accuracy: 1e-12)
        XCTAssertEqual(s.rate(epoch: 3), 0.9 - 0.9 * pow(0.75, 3), accuracy: 1e-12)
        XCTAssertEqual(s.rate(epoch: 5), 0.9 - 0.9 * pow(0.25, 3), accuracy: 1e-12)
        XCTAssertEqual(s.rate(epoch: 9), s.rate(epoch: 5))
    }

    func testSparsityAccounting() throws {
        var o = ModelOptions()
        o.arch = "ResNet18"; o.numClasses = 10; o.convKind = .dnw; o.pruneRate = 0.8; o.firstLayerDense = true
        let m = try Model(o, threads: 1)
        m.network.plan(ActShape(channels: 3, batch: 1, height: 32, width: 32))
        m.network.initialize(seed: 0)
        let report = m.sparsityReport()
        XCTAssertEqual(report.layers[0].sparsity, 0)
        for l in report.layers.dropFirst() {
            XCTAssertEqual(l.numel - l.nonzero, Int(0.8 * Double(l.numel)), l.name)
        }
        // The dense stem is not counted in the total.
        let sparse = report.layers.dropFirst()
        let expected = 100 - 100 * Double(sparse.reduce(0) { $0 + $1.nonzero }) / Double(sparse.reduce(0) { $0 + $1.numel })
        XCTAssertEqual(report.total, expected, accuracy: 1e-9)
        XCTAssertEqual(report.total, 80, accuracy: 0.01)
    }

    func testEvaluationReusesEffectiveWeightsUntilParametersChange() throws {
        var o = ModelOptions()
        o.arch = "ResNet18"; o.numClasses = 10; o.convKind = .dnw; o.pruneRate = 0.5
        o.widthMultiplier = 0.125; o.smallInputStem = true
        let m = try Model(o, threads: 1)
        let net = m.network
        net.plan(ActShape(channels: 3, batch: 2, height: 8, width: 8))
        net.initialize(seed: 1)
        var rng = RNG(seed: 4)
        rng.fillNormal(net.input, count: net.inputRef.shape.count, std: 1)
        func logits() -> [Float] { net.forward(training: false); return Array(UnsafeBufferPointer(start: net.logits, count: 20)) }
        let before = logits()
        // Scale the classifier: the cached effective weight hides the change until it is announced.
        for i in 0..<m.convs.last!.weightCount { net.store.values[m.convs.last!.weight.offset + i] *= 2 }
        XCTAssertEqual(logits(), before)
        net.parametersChanged()
        assertClose(logits(), before.map { $0 * 2 }, rtol: 1e-5, atol: 1e-6)
    }
}
