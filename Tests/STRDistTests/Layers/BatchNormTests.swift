import XCTest
import CBFloat16
@testable import STRDist

final class BatchNormTests: XCTestCase {
    func testForwardMatchesNaive() {
        let layout = ParameterLayout()
        let bn = BatchNorm2d("bn", channels: 3, fuseReLU: true, layout: layout)
        let h = LayerHarness(bn, layout, input: ActShape(channels: 3, batch: 5, height: 7, width: 3), threads: 2)
        h.layer.forward(h.ctx)
        let x = Array(UnsafeBufferPointer(start: h.x, count: h.input.shape.count))
        let gamma = Array(h.store.value("bn.weight")), beta = Array(h.store.value("bn.bias"))
        let ref = Naive.batchNorm(x: x, channels: 3, m: 5 * 7 * 3, gamma: gamma, beta: beta, relu: true)
        assertClose(h.outputArray(), ref.y, rtol: 1e-4, atol: 1e-5)
    }

    func testRunningStatisticsByHand() {
        // One channel, values 1, 2, 3, 6: mean 3, biased var 3.5, unbiased var 14/3.
        let layout = ParameterLayout()
        let bn = BatchNorm2d("bn", channels: 1, layout: layout)
        let h = LayerHarness(bn, layout, input: ActShape(channels: 1, batch: 2, height: 1, width: 2))
        bn.initialize(h.store, seed: 0)
        for (i, v) in [Float(1), 2, 3, 6].enumerated() { h.x[i] = v }
        bn.forward(h.ctx)
        assertClose(h.store.value("bn.running_mean")[0], 0.9 * 0 + 0.1 * 3)
        assertClose(h.store.value("bn.running_var")[0], 0.9 * 1 + 0.1 * 14 / 3)
        XCTAssertEqual(h.store.value("bn.num_batches_tracked")[0], 1)
        // Normalised with the biased variance: (1 − 3)/√(3.5 + 1e-5).
        assertClose(h.y[0], -2 / (3.5 + 1e-5).squareRoot())
        bn.forward(h.ctx)
        assertClose(h.store.value("bn.running_mean")[0], 0.9 * 0.3 + 0.1 * 3)
        assertClose(h.store.value("bn.running_var")[0], 0.9 * (0.9 + 0.1 * 14 / 3) + 0.1 * 14 / 3)
        XCTAssertEqual(h.store.value("bn.num_batches_tracked")[0], 2)
    }

    func testEvalUsesRunningStatistics() {
        let layout = ParameterLayout()
        let bn = BatchNorm2d("bn", channels: 2, layout: layout)
        let h = LayerHarness(bn, layout, input: ActShape(channels: 2, batch: 1, height: 1, width: 2))
        bn.initialize(h.store, seed: 0)
        h.store.value("bn.running_mean")[1] = 2
        h.store.value("bn.running_var")[1] = 4
        h.store.value("bn.weight")[1] = 3
        h.store.value("bn.bias")[1] = 0.5
        for (i, v) in [Float(1), -1, 4, 6].enumerated() { h.x[i] = v }
        h.ctx.training = false
        bn.forward(h.ctx)
        assertClose(h.outputArray(), [1 / (1 + 1e-5).squareRoot(), -1 / (1 + 1e-5).squareRoot(),
                                      3 * 2 / (4 + 1e-5).squareRoot() + 0.5, 3 * 4 / (4 + 1e-5).squareRoot() + 0.5])
        XCTAssertEqual(h.store.value("bn.num_batches_tracked")[0], 0, "evaluation must not touch the buffers")
    }

    /// The backward's ∂X written in bf16 (for a bf16 product to read in place) is the fp32 ∂X rounded by
    /// bf16_round, bit for bit: the fused backward (with the ReLU mask and a residual join's shortcut
    /// gradient) and synchronized BN's separate input-gradient pass; channels longer and shorter than the
    /// 256-value buffer, tails off the vector width.
    func testBF16InputGradientIsTheRoundedFP32One() {
        let pool = ThreadPool(threads: 2)
        for (channels, m) in [(3, 700), (5, 37), (2, 512)] {
            let n = channels * m
            var rng = RNG(seed: UInt64(m))
            let x = rng.normals(n), y = rng.normals(n), dy = rng.normals(n), gamma = rng.normals(channels)
            let mean = rng.normals(channels), invstd = rng.normals(channels).map { abs($0) + 0.5 }
            for relu in [false, true] { for fused in [true, false] {
                var outputs: [[Float]] = []
                var shortcut = [[Float]](repeating: [Float](repeating: 0, count: n), count: 2)
                for (i, bf16) in [false, true].enumerated() {
                    var dx = [Float](repeating: .nan, count: n)
                    var sums = [Float](repeating: 0, count: 2 * channels)
                    sums.withUnsafeMutableBufferPointer { s in
                        let s1 = s.baseAddress!, s2 = s1 + channels
                        shortcut[i].withUnsafeMutableBufferPointer { sc in
                            if fused {
                                BatchNormKernels.trainingBackward(x: x, y: y, dy: dy, channels: channels, m: m, mean: mean,
                                                                  invstd: invstd, gamma: gamma, relu: relu, sumDy: s1,
                                                                  sumDyXhat: s2, dx: &dx, dxBF16: bf16, accumulate: false,
                                                                  shortcut: .init(sc.baseAddress!, accumulate: false), pool: pool)
                            } else {
                                BatchNormKernels.gradientSums(x: x, y: y, dy: dy, channels: channels, m: m, mean: mean,
                                                              invstd: invstd, relu: relu, sumDy: s1, sumDyXhat: s2, pool: pool)
                                BatchNormKernels.inputGradient(x: x, y: y, dy: dy, channels: channels, m: m, mean: mean,
                                                               invstd: invstd, gamma: gamma, relu: relu, sumDy: s1,
                                                               sumDyXhat: s2, count: 2 * m, dx: &dx, dxBF16: bf16,
                                                               accumulate: false, pool: pool)
                            }
                        }
                    }
                    outputs.append(dx)
                }
                let label = "\(channels)×\(m) relu \(relu) fused \(fused)"
                var rounded = [UInt16](repeating: 0, count: n)
                bf16_round(outputs[0], &rounded, Int64(n))
                let written = outputs[1].withUnsafeBytes { Array($0.bindMemory(to: UInt16.self).prefix(n)) }
                XCTAssertEqual(written, rounded, label)
                XCTAssertTrue(outputs[0].allSatisfy(\.isFinite), label)
                XCTAssertEqual(shortcut[0].map(\.bitPattern), shortcut[1].map(\.bitPattern), "shortcut gradient, " + label)
            } }
        }
    }

    /// The norm's own output written in bf16 (for the sparse conv after it: BF16Handoff) is its fp32 output rounded
    /// by bf16_round, bit for bit, with the statistics unchanged: the fused forward and synchronized BN's normalise,
    /// with and without the ReLU, from an fp32 input and from a bf16 one; lengths that end mid-buffer (37) and
    /// past one 256-value buffer (700).
    func testBF16OutputIsTheRoundedFP32One() {
        let pool = ThreadPool(threads: 2)
        for (channels, m) in [(3, 700), (5, 37)] {
            let n = channels * m
            var rng = RNG(seed: UInt64(m + 7))
            let x32 = rng.normals(n), gamma = rng.normals(channels), beta = rng.normals(channels)
            var x16 = [UInt16](repeating: 0, count: n)
            bf16_round(x32, &x16, Int64(n))
            for relu in [false, true] {
                func run<X: ActivationElement>(_ x: UnsafePointer<X>, bf16: Bool) -> (y: [[UInt16]], stats: [Float]) {
                    var outputs: [[UInt16]] = []
                    var stats = [Float](repeating: 0, count: 5 * channels)
                    for sync in [false, true] {
                        var y = [Float](repeating: .nan, count: n)
                        stats.withUnsafeMutableBufferPointer { s in
                            let mean = s.baseAddress!, inv = mean + channels, variance = inv + channels
                            let sm = variance + channels, sv = sm + channels
                            if sync {
                                BatchNormKernels.moments(x, channels: channels, m: m, mean: sm, variance: sv, pool: pool)
                                BatchNormKernels.normalize(x, channels: channels, m: m, mean: sm, varianceToInvstd: sv, eps: 1e-5,
                                                           gamma: gamma, beta: beta, relu: relu, y: &y, yBF16: bf16, pool: pool)
                            } else {
                                BatchNormKernels.trainingForward(x, channels: channels, m: m, mean: mean, invstd: inv,
                                                                 variance: variance, eps: 1e-5, gamma: gamma, beta: beta,
                                                                 relu: relu, y: &y, yBF16: bf16, pool: pool)
                            }
                        }
                        var bits = [UInt16](repeating: 0, count: n)
                        if bf16 {
                            bits = y.withUnsafeBytes { Array($0.bindMemory(to: UInt16.self).prefix(n)) }
                        } else {
                            bf16_round(y, &bits, Int64(n))
                        }
                        outputs.append(bits)
                    }
                    return (outputs, stats)
                }
                for input in ["fp32", "bf16"] {
                    let (a, b) = input == "fp32" ? (run(x32, bf16: true), run(x32, bf16: false))
                                                 : (run(x16, bf16: true), run(x16, bf16: false))
                    for (i, what) in ["fused", "synchronized"].enumerated() {
                        XCTAssertEqual(a.y[i], b.y[i], "\(what) y, \(input) input, \(channels)×\(m) relu \(relu)")
                    }
                    XCTAssertEqual(a.stats.map(\.bitPattern), b.stats.map(\.bitPattern), "statistics, \(input) input")
                    XCTAssertGreaterThan(Set(a.y[0]).count, n / 8, "an output that carries the input")
                }
            }
        }
    }

    /// A bf16 input (a sparse conv's bf16 output: BF16Handoff) normalises to the same bits as an fp32 input holding
    /// the same values: statistics, output, running statistics' inputs, gradient sums and ∂X — the fused passes,
    /// synchronized BN's separate ones, and inference.
    func testBF16InputGivesTheBitsOfItsFP32Values() {
        let pool = ThreadPool(threads: 2)
        for (channels, m) in [(3, 700), (5, 37)] {
            let n = channels * m
            var rng = RNG(seed: UInt64(m + 1))
            var x16 = [UInt16](repeating: 0, count: n)
            bf16_round(rng.normals(n), &x16, Int64(n))
            let x32 = x16.map { bf16_to_float($0) }
            let dy = rng.normals(n), gamma = rng.normals(channels), beta = rng.normals(channels), residual = rng.normals(n)
            for relu in [false, true] {
                func run<X: ActivationElement>(_ x: UnsafePointer<X>) -> [[Float]] {
                    var y = [Float](repeating: 0, count: n), yEval = y, ySync = y, dx = y, dxSync = y
                    var stats = [Float](repeating: 0, count: 7 * channels)
                    stats.withUnsafeMutableBufferPointer { s in
                        let mean = s.baseAddress!, inv = mean + channels, variance = inv + channels
                        let s1 = variance + channels, s2 = s1 + channels, sm = s2 + channels, sv = sm + channels
                        BatchNormKernels.trainingForward(x, channels: channels, m: m, mean: mean, invstd: inv, variance: variance,
                                                         eps: 1e-5, gamma: gamma, beta: beta, relu: relu,
                                                         residual: relu ? residual : nil, y: &y, pool: pool)
                        BatchNormKernels.trainingBackward(x: x, y: y, dy: dy, channels: channels, m: m, mean: mean, invstd: inv,
                                                          gamma: gamma, relu: relu, sumDy: s1, sumDyXhat: s2, dx: &dx,
                                                          accumulate: false, pool: pool)
                        BatchNormKernels.moments(x, channels: channels, m: m, mean: sm, variance: sv, pool: pool)
                        BatchNormKernels.normalize(x, channels: channels, m: m, mean: sm, varianceToInvstd: sv, eps: 1e-5,
                                                   gamma: gamma, beta: beta, relu: relu, y: &ySync, pool: pool)
                        BatchNormKernels.gradientSums(x: x, y: ySync, dy: dy, channels: channels, m: m, mean: sm, invstd: sv,
                                                      relu: relu, sumDy: s1, sumDyXhat: s2, pool: pool)
                        BatchNormKernels.inputGradient(x: x, y: ySync, dy: dy, channels: channels, m: m, mean: sm, invstd: sv,
                                                       gamma: gamma, relu: relu, sumDy: s1, sumDyXhat: s2, dx: &dxSync,
                                                       accumulate: false, pool: pool)
                        BatchNormKernels.forwardEval(x, channels: channels, m: m, runningMean: mean, runningVar: variance,
                                                     eps: 1e-5, gamma: gamma, beta: beta, relu: relu, y: &yEval, pool: pool)
                    }
                    return [y, yEval, ySync, dx, dxSync, stats]
                }
                let a = run(x16), b = run(x32)
                for (i, what) in ["y", "eval y", "sync y", "dx", "sync dx", "statistics and sums"].enumerated() {
                    XCTAssertEqual(a[i].map(\.bitPattern), b[i].map(\.bitPattern), "\(what), \(channels)×\(m) relu \(relu)")
                }
                XCTAssertTrue(a[3].allSatisfy(\.isFinite), "\(channels)×\(m)")
            }
        }
    }

    /// Channels of 37, 700 and 1003 values (5, 3 and 4 of them), which start at every alignment: (channels, m,
    /// values in all, the shape's own draws, seeded m + `seed`).
    private func forEveryAlignment(seed: Int, _ body: (Int, Int, Int, inout RNG) -> Void) {
        for (channels, m) in [(5, 37), (3, 700), (4, 1003)] {
            var rng = RNG(seed: UInt64(m + seed))
            body(channels, m, channels * m, &rng)
        }
    }

    /// Outputs stored past the caches (`stream: true`, as for a tensor outgrowing half the last-level cache) hold
    /// the bits of plain stores: the fused forward (alone, with its ReLU, with a residual join), synchronized BN's
    /// normalise, inference, and the backward's ∂X and shortcut gradient, written and added to; channels of 37,
    /// 700 and 1003 values, so that they start at every alignment (the streamed stores begin at a 64-byte one).
    func testStreamedStoresGiveTheBitsOfCachedOnes() {
        let pool = ThreadPool(threads: 2)
        forEveryAlignment(seed: 3) { channels, m, n, rng in
            let x = rng.normals(n), dy = rng.normals(n), residual = rng.normals(n), prior = rng.normals(n)
            let gamma = rng.normals(channels), beta = rng.normals(channels)
            for (relu, join) in [(false, false), (true, false), (true, true)] {
                func run(stream: Bool) -> [[Float]] {
                    var y = [Float](repeating: .nan, count: n), yEval = y, ySync = y, dx = y, shortcut = y
                    var dxAdded = prior, shortcutAdded = prior
                    var stats = [Float](repeating: 0, count: 7 * channels)
                    stats.withUnsafeMutableBufferPointer { s in
                        let mean = s.baseAddress!, inv = mean + channels, variance = inv + channels
                        let s1 = variance + channels, s2 = s1 + channels, sm = s2 + channels, sv = sm + channels
                        let r = join ? residual : nil
                        BatchNormKernels.trainingForward(x, channels: channels, m: m, mean: mean, invstd: inv, variance: variance,
                                                         eps: 1e-5, gamma: gamma, beta: beta, relu: relu, residual: r, y: &y,
                                                         stream: stream, pool: pool)
                        BatchNormKernels.moments(x, channels: channels, m: m, mean: sm, variance: sv, pool: pool)
                        BatchNormKernels.normalize(x, channels: channels, m: m, mean: sm, varianceToInvstd: sv, eps: 1e-5,
                                                   gamma: gamma, beta: beta, relu: relu, residual: r, y: &ySync,
                                                   stream: stream, pool: pool)
                        BatchNormKernels.forwardEval(x, channels: channels, m: m, runningMean: mean, runningVar: variance,
                                                     eps: 1e-5, gamma: gamma, beta: beta, relu: relu, residual: r, y: &yEval,
                                                     stream: stream, pool: pool)
                        for accumulate in [false, true] {
                            shortcut.withUnsafeMutableBufferPointer { sc in shortcutAdded.withUnsafeMutableBufferPointer { sa in
                            dx.withUnsafeMutableBufferPointer { d in dxAdded.withUnsafeMutableBufferPointer { da in
                                let gradient = join ? BatchNormKernels.ShortcutGradient(accumulate ? sa.baseAddress! : sc.baseAddress!,
                                                                                        accumulate: accumulate) : nil
                                BatchNormKernels.trainingBackward(x: x, y: y, dy: dy, channels: channels, m: m, mean: mean,
                                                                  invstd: inv, gamma: gamma, relu: relu, sumDy: s1, sumDyXhat: s2,
                                                                  dx: accumulate ? da.baseAddress! : d.baseAddress!,
                                                                  accumulate: accumulate, shortcut: gradient, stream: stream,
                                                                  pool: pool)
                            } } } }
                        }
                    }
                    return [y, ySync, yEval, dx, dxAdded, shortcut, shortcutAdded, stats]
                }
                let cached = run(stream: false), streamed = run(stream: true)
                let names = ["y", "sync y", "eval y", "dx", "dx added", "shortcut gradient", "shortcut gradient added", "statistics"]
                for (i, what) in names.enumerated() where join || !what.hasPrefix("shortcut") {
                    XCTAssertEqual(streamed[i].map(\.bitPattern), cached[i].map(\.bitPattern), "\(what), \(channels)×\(m) relu \(relu) join \(join)")
                }
                XCTAssertTrue(cached[0].allSatisfy(\.isFinite) && cached[3].allSatisfy(\.isFinite), "every value written")
            }
        }
    }

    /// A residual join's backward masks with the bits its forward kept (`positive`) instead of reading its output:
    /// the same gradient sums, ∂X (fp32, added to, bf16; stored through the caches and past them) and shortcut
    /// gradient (written and added to), bit for bit — fused and synchronized-BN passes; channels of 37, 700
    /// (past one 256-value bf16 buffer) and 1003 values; many outputs exactly on the ReLU's edge.
    func testJoinMaskBitsGiveTheBitsOfTheOutputsMask() {
        let pool = ThreadPool(threads: 2)
        forEveryAlignment(seed: 11) { channels, m, n, rng in
            let x = rng.normals(n), dy = rng.normals(n), prior = rng.normals(n), gamma = rng.normals(channels)
            var beta = rng.normals(channels), residual = rng.normals(n)
            beta[0] = 0
            for i in stride(from: 0, to: n, by: 3) { residual[i] = 0 }   // with β = 0: channel 0's edge at its mean
            var y = [Float](repeating: 0, count: n), stats = [Float](repeating: 0, count: 3 * channels)
            var bits = [UInt16](repeating: 0xFFFF, count: channels * BatchNormKernels.maskWords(m))
            for stream in [true, false] {   // the bits kept beside stores past the caches (off 16-value boundaries) too
                let previous = (y, bits)
                stats.withUnsafeMutableBufferPointer { s in
                    let mean = s.baseAddress!, inv = mean + channels, variance = inv + channels
                    BatchNormKernels.trainingForward(x, channels: channels, m: m, mean: mean, invstd: inv, variance: variance,
                                                     eps: 1e-5, gamma: gamma, beta: beta, relu: false, residual: residual,
                                                     y: &y, positive: &bits, stream: stream, pool: pool)
                }
                if !stream { XCTAssertTrue(previous.0.map(\.bitPattern) == y.map(\.bitPattern) && previous.1 == bits, "\(channels)×\(m)") }
            }
            XCTAssertTrue(y.contains(0) && y.contains { $0 > 0 }, "the join's ReLU masks some values, not all")
            let mean = Array(stats[0..<channels]), inv = Array(stats[channels..<(2 * channels)])
            for (bf16, accumulate, stream) in [(false, false, false), (false, false, true), (false, true, false), (true, false, false)] {
                for fused in [true, false] {
                    var results: [[Float]] = []
                    for fromBits in [false, true] {
                        var dx = accumulate ? prior : [Float](repeating: .nan, count: n), shortcut = accumulate ? prior : dx
                        var sums = [Float](repeating: 0, count: 2 * channels)
                        bits.withUnsafeBufferPointer { b in shortcut.withUnsafeMutableBufferPointer { sc in
                            sums.withUnsafeMutableBufferPointer { s in
                                let s1 = s.baseAddress!, s2 = s1 + channels, positive = fromBits ? b.baseAddress! : nil
                                let gradient = BatchNormKernels.ShortcutGradient(sc.baseAddress!, accumulate: accumulate)
                                if fused {
                                    BatchNormKernels.trainingBackward(x: x, y: y, dy: dy, channels: channels, m: m, mean: mean,
                                                                      invstd: inv, gamma: gamma, beta: beta, relu: true,
                                                                      sumDy: s1, sumDyXhat: s2, dx: &dx, dxBF16: bf16,
                                                                      accumulate: accumulate, shortcut: gradient,
                                                                      positive: positive, stream: stream, pool: pool)
                                } else {
                                    BatchNormKernels.gradientSums(x: x, y: y, dy: dy, channels: channels, m: m, mean: mean,
                                                                  invstd: inv, gamma: gamma, beta: beta, relu: true, sumDy: s1,
                                                                  sumDyXhat: s2, positive: positive, pool: pool)
                                    BatchNormKernels.inputGradient(x: x, y: y, dy: dy, channels: channels, m: m, mean: mean,
                                                                   invstd: inv, gamma: gamma, beta: beta, relu: true, sumDy: s1,
                                                                   sumDyXhat: s2, dx: &dx, dxBF16: bf16, accumulate: accumulate,
                                                                   shortcut: gradient, positive: positive, stream: stream,
                                                                   pool: pool)
                                }
                            }
                        } }
                        results.append(dx + shortcut + sums)
                    }
                    XCTAssertEqual(results[1].map(\.bitPattern), results[0].map(\.bitPattern),
                                   "\(channels)×\(m) bf16 \(bf16) accumulate \(accumulate) stream \(stream) fused \(fused)")
                    let written = results[0][n..<(2 * n)]   // the shortcut's gradient: dy where kept, 0 where masked
                    XCTAssertTrue(accumulate || (written.contains(0) && written.contains { $0 != 0 }), "masked and kept values")
                }
            }
        }
    }

    /// A norm's own ReLU recomputes its backward mask from x with the forward's coefficients (ReluMask.input)
    /// instead of reading y: the same gradient sums and ∂X, bit for bit — fused and synchronized-BN passes, fp32
    /// and bf16 ∂X, values on both sides of the ReLU's edge (many of them repeated; channel 0's β = 0).
    func testReLUMaskFromTheInputGivesTheBitsOfTheOutputsMask() {
        let pool = ThreadPool(threads: 2)
        for (channels, m) in [(3, 700), (4, 45)] {
            let n = channels * m
            var rng = RNG(seed: UInt64(m + 7))
            var x = rng.normals(n)
            for i in stride(from: 0, to: n, by: 5) { x[i] = 0.25 }   // many equal values: some land on the edge
            let dy = rng.normals(n), gamma = rng.normals(channels)
            var beta = rng.normals(channels)
            beta[0] = 0   // channel 0's edge at its mean
            for bf16 in [false, true] { for fused in [true, false] {
                var y = [Float](repeating: 0, count: n)
                var stats = [Float](repeating: 0, count: 3 * channels)
                stats.withUnsafeMutableBufferPointer { s in
                    let mean = s.baseAddress!, inv = mean + channels, variance = inv + channels
                    BatchNormKernels.trainingForward(x, channels: channels, m: m, mean: mean, invstd: inv, variance: variance,
                                                     eps: 1e-5, gamma: gamma, beta: beta, relu: true, y: &y, pool: pool)
                }
                XCTAssertTrue(y.contains(0) && y.contains { $0 > 0 }, "the ReLU masks some values, not all")
                var results: [[Float]] = []
                for fromInput in [false, true] {
                    var dx = [Float](repeating: .nan, count: n), sums = [Float](repeating: 0, count: 2 * channels)
                    sums.withUnsafeMutableBufferPointer { s in
                        let s1 = s.baseAddress!, s2 = s1 + channels
                        let mean = Array(stats[0..<channels]), inv = Array(stats[channels..<(2 * channels)])
                        if fused {
                            BatchNormKernels.trainingBackward(x: x, y: y, dy: dy, channels: channels, m: m, mean: mean, invstd: inv,
                                                              gamma: gamma, beta: beta, relu: true, maskFromInput: fromInput,
                                                              sumDy: s1, sumDyXhat: s2, dx: &dx, dxBF16: bf16, accumulate: false,
                                                              pool: pool)
                        } else {
                            BatchNormKernels.gradientSums(x: x, y: y, dy: dy, channels: channels, m: m, mean: mean, invstd: inv,
                                                          gamma: gamma, beta: beta, relu: true, maskFromInput: fromInput,
                                                          sumDy: s1, sumDyXhat: s2, pool: pool)
                            BatchNormKernels.inputGradient(x: x, y: y, dy: dy, channels: channels, m: m, mean: mean, invstd: inv,
                                                           gamma: gamma, beta: beta, relu: true, maskFromInput: fromInput,
                                                           sumDy: s1, sumDyXhat: s2, dx: &dx, dxBF16: bf16, accumulate: false,
                                                           pool: pool)
                        }
                    }
                    results.append(dx + sums)
                }
                XCTAssertEqual(results[1].map(\.bitPattern), results[0].map(\.bitPattern), "\(channels)×\(m) bf16 ∂X \(bf16) fused \(fused)")
            } }
        }
    }
}

extension RNG {
    /// `count` draws from N(0, 1).
    mutating func normals(_ count: Int) -> [Float] {
        var v = [Float](repeating: 0, count: count)
        fillNormal(&v, count: count, std: 1)
        return v
    }
}
