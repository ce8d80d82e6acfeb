// target_sparsity: the set point's ramps, the controller's law on a stand-in
// for STR's threshold dynamics, its saved state, and the config's rules.
// (A real short run landing on its target is in TrainingJobTests; resuming
// with the controller bit for bit in MultiRankTests+Preemption.)
import XCTest
@testable import STRDist

final class SparsityControllerTests: XCTestCase {
    func testCubicSetPointMeetsGMPsRateAtEachEpochStartAndThenTheTarget() {
        let p = SparsitySetPoint(target: 0.9, schedule: .cubic, initEpoch: 2, finalEpoch: 7)
        let gmp = PruneSchedule(target: 0.9, initEpoch: 2, finalEpoch: 7)
        for e in 0...7 { XCTAssertEqual(p.value(at: Double(e)), gmp.rate(epoch: e), accuracy: 1e-12, "epoch \(e)") }
        XCTAssertEqual(p.value(at: 8), 0.9, accuracy: 1e-12, "the target at the end of final_prune_epoch")
        XCTAssertEqual(p.value(at: 9.5), 0.9, accuracy: 1e-12)
        XCTAssertEqual(p.value(at: 1.9), 0)
        XCTAssertLessThan(p.value(at: 4.2), p.value(at: 4.3), "rises within an epoch, not in steps")
        let linear = SparsitySetPoint(target: 0.8, schedule: .linear, initEpoch: 0, finalEpoch: 3)
        XCTAssertEqual(linear.value(at: 1), 0.2, accuracy: 1e-12)
        XCTAssertEqual(linear.value(at: 4), 0.8, accuracy: 1e-12)
    }

    /// A stand-in for STR: weight magnitudes Laplace-distributed with scale β (sparsity 1 − exp(−g/β)), β
    /// shrinking by weight decay; s moves by SGD with Nesterov momentum under the decay and a loss gradient
    /// that pulls the threshold back the harder the more is pruned. Returns the sparsity after each epoch.
    /// `rate` gives each epoch's learning rate (cosine from 0.1 by default), `pull` the loss gradient's
    /// strength (0.005); `tellsRate: false` hands the controller the reference rate throughout, as if its
    /// gains did not follow the schedule.
    func simulate(_ controller: SparsityController?, epochs: Int, steps: Int, weightDecay: Double = 0.00085,
                  rate: ((Int) -> Double)? = nil, pull: ((Int) -> Double)? = nil, tellsRate: Bool = true) -> [Double] {
        var s = -6.0, buffer = 0.0, beta = 0.03, out: [Double] = []
        func sparsity() -> Double { 1 - exp(-(1 / (1 + exp(-s))) / beta) }
        for epoch in 0..<epochs {
            let lr = rate?(epoch) ?? 0.1 * 0.5 * (1 + cos(Double.pi * Double(epoch) / Double(epochs)))
            for b in 0..<steps {
                let g = 1 / (1 + exp(-s)), pruned = sparsity()
                let decay = controller.map { Double($0.decay) } ?? 0.00085
                var d = (pull?(epoch) ?? 0.005) * g * (1 - g) * pruned / (1.02 - pruned) + decay * s
                buffer = 0.9 * buffer + d
                d += 0.9 * buffer
                s -= lr * d
                beta *= 1 - lr * weightDecay
                if let controller, SparsityController.acts(after: b, of: steps) {
                    controller.update(time: Double(epoch) + Double(b + 1) / Double(steps), sparsity: sparsity(),
                                      rate: tellsRate ? lr : controller.referenceRate)
                }
            }
            out.append(sparsity())
        }
        return out
    }

    func testControllerFollowsTheRampAndEndsWithinHalfAPoint() {
        for (target, steps) in [(0.9, 100), (0.95, 100), (0.7, 468), (0.9, 468), (0.95, 468), (0.8, 50)] {
            let c = SparsityController(setPoint: SparsitySetPoint(target: target, schedule: .cubic, initEpoch: 0, finalEpoch: 2),
                                       base: 0.00085, referenceRate: 0.1)
            let sparsity = simulate(c, epochs: 5, steps: steps)
            let what = "target \(target), \(steps) steps an epoch: \(sparsity)"
            XCTAssertEqual(sparsity.last!, target, accuracy: 0.005, what)
            XCTAssertEqual(sparsity[1], c.setPoint.value(at: 2), accuracy: 0.03, "on the ramp: " + what)
        }
        let natural = simulate(nil, epochs: 5, steps: 100).last!
        XCTAssert(abs(natural - 0.9) > 0.02, "the stand-in does not land on the target by itself (\(natural))")
    }

    /// The thresholds move by lr·decay, so when the rate drops 30× for the last stretch (a multistep
    /// schedule) while the loss's pull on the thresholds weakens (training has converged), a controller with
    /// fixed gains has a thirtieth of its grip and lags the new balance; gains that follow the rate (up to
    /// 16×) keep it. Here the stand-in's lag is small, so the test asks for a tenfold smaller miss.
    func testGainsFollowTheLearningRateSoALateDropStillLands() {
        func run(tellsRate: Bool) -> [Double] {
            let c = SparsityController(setPoint: SparsitySetPoint(target: 0.9, schedule: .cubic, initEpoch: 0, finalEpoch: 2),
                                       base: 0.00085, referenceRate: 0.1)
            return simulate(c, epochs: 6, steps: 100, rate: { $0 < 4 ? 0.1 : 0.003 }, pull: { $0 < 4 ? 0.005 : 0.0005 },
                            tellsRate: tellsRate)
        }
        let following = run(tellsRate: true), fixed = run(tellsRate: false)
        XCTAssertEqual(following.last!, 0.9, accuracy: 0.005, "gains following the rate: \(following)")
        XCTAssertLessThan(abs(following.last! - 0.9), abs(fixed.last! - 0.9) / 10, "following \(following), fixed \(fixed)")
    }

    func testDecayTurnsNegativeOnlyDownToMinusBase() {
        let c = SparsityController(setPoint: SparsitySetPoint(target: 0.5, schedule: .linear, initEpoch: 0, finalEpoch: 0),
                                   base: 0.001, referenceRate: 0.1)
        XCTAssertEqual(c.decay, 0.001, accuracy: 1e-9, "starts at st_decay")
        for i in 1...200 { c.update(time: Double(i) / 50, sparsity: 0.99, rate: 0.1) }
        XCTAssertEqual(c.decay, -0.001, accuracy: 1e-9)
        for i in 201...400 { c.update(time: Double(i) / 50, sparsity: 0, rate: 0.1) }
        XCTAssertGreaterThan(c.decay, 1, "far below the set point the decay grows by orders of magnitude")
        XCTAssertLessThanOrEqual(Double(c.decay), 0.001 * sinh(SparsityController.bounds.upperBound) * 1.0001)
        var recovered = 0
        for i in 401...600 where c.update(time: Double(i) / 50, sparsity: 0.7, rate: 0.1) < 0.001 { recovered = i; break }
        XCTAssert(recovered > 0 && recovered < 450, "no wind-up at the bound: back below st_decay at update \(recovered)")
    }

    func testStateReadsBackExactlyAndBrokenTextIsRefused() {
        let c = SparsityController(setPoint: SparsitySetPoint(target: 0.9, schedule: .cubic, initEpoch: 0, finalEpoch: 3),
                                   base: 0.0005, referenceRate: 0.1)
        for i in 1...37 { c.update(time: Double(i) / 7, sparsity: 0.3 + Double(i) / 100, rate: 0.05) }
        XCTAssertEqual(SparsityController.State(text: c.state.text), c.state)
        for bad in ["", "1 2 3", "nan 0 1 0.5", "0 99 1 0.5", "0 0 -1 0.5", "0 0 1 1.5", "a b c d"] {
            XCTAssertNil(SparsityController.State(text: bad), bad)
        }
    }

    func testControllerActsEveryFiftiethOfAnEpochAndAtItsEnd() {
        XCTAssertEqual(SparsityController.interval(batches: 468), 9)
        XCTAssertEqual(SparsityController.interval(batches: 5005), 10, "ImageNet at batch 256: every 10 steps")
        XCTAssertEqual((0..<468).filter { SparsityController.acts(after: $0, of: 468) }.count, 52)
        XCTAssertEqual((0..<470).filter { SparsityController.acts(after: $0, of: 470) }.last, 469, "and after the epoch's last step")
        XCTAssertEqual((0..<5).filter { SparsityController.acts(after: $0, of: 5) }.count, 5)
    }

    func testConfigRulesNameTheKeyAndTheFix() throws {
        func error(_ args: [String], final: Int = 6) -> String {
            do { _ = try ConfigLoader.load(path: nil, overrides: ["--epochs", "10", "--final_prune_epoch", "\(final)"] + args); return "" } catch {
                return "\(error)"
            }
        }
        XCTAssertEqual(error(["--conv_type", "STRConv", "--target_sparsity", "0.9"]), "")
        XCTAssert(error(["--conv_type", "GMPConv", "--target_sparsity", "0.9"]).contains("'conv_type' must be STRConv with target_sparsity"))
        XCTAssert(error(["--conv_type", "STRConv", "--target_sparsity", "0.9", "--optimizer", "adam"]).contains("'optimizer' must be sgd"))
        XCTAssert(error(["--conv_type", "STRConv", "--target_sparsity", "0.9", "--weight_decay", "0"]).contains("'st_decay' must be positive"))
        XCTAssert(error(["--conv_type", "STRConv", "--target_sparsity", "0.9"], final: 10)
            .contains("'final_prune_epoch' must be below epochs (10) with target_sparsity"))
        XCTAssert(error(["--conv_type", "STRConv", "--target_sparsity", "90"]).contains("target_sparsity"), "a fraction, not percent")
        XCTAssert(error(["--conv_type", "STRConv", "--target_sparsity", "0.9", "--target_schedule", "cubc"]).contains("did you mean 'cubic'"))
    }
}
