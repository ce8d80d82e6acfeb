// STR at a chosen sparsity (`target_sparsity: P`). The set point rises from 0
// at `init_prune_epoch` to P at the end of `final_prune_epoch` along
// `target_schedule` and then holds; a feedback controller sets the decay of
// STR's thresholds (st_decay) so the measured total sparsity follows it.
// Decay pulls every threshold s toward 0 (sigmoid(s) up: more pruned) and the
// loss gradient pulls back where pruning hurts, so each layer's share is still
// learned: only the shared pressure is steered.
//
// The law is proportional-integral-derivative on the error e = set point −
// sparsity S (fractions), through sinh, so that one unit of control is about
// one factor of the decay when it is large, and the decay can turn negative
// (thresholds pushed down) when the weights' own decay prunes too much:
//   decay = base · sinh(clamp(Kp·e + I + Kd·de/dt)),   I += Ki·e·Δt   (Δt in epochs)
// with e scaled by 0.2/(1.1 − set point) (near full sparsity a point is a
// large share of what is kept, so the gains grow) and by lr_ref/lr (the
// thresholds move by lr·decay a step: as the schedule lowers the rate, the
// gains rise, up to 16×, so the loop responds as fast in the last stretch —
// with fixed gains a run whose balance shifted late ended 0.6 points over),
// and I frozen while the output sits at a bound that e pushes it past (no
// wind-up). It acts every
// `interval` steps on the weights after the step's update — the same on
// every rank, whose weights are the same.

import Foundation

/// The set point's ramp between `init_prune_epoch` and the end of `final_prune_epoch`.
public enum SetPointSchedule: String, CaseIterable, Sendable {
    /// GMP's: P·(1 − (1 − u)³), at fractional epochs (equal to GMP's rate at each epoch's start).
    case cubic
    /// P·u.
    case linear
}

public struct SparsitySetPoint: Sendable, Equatable {
    public var target: Double
    public var schedule: SetPointSchedule
    public var initEpoch: Int
    public var finalEpoch: Int

    public init(target: Double, schedule: SetPointSchedule, initEpoch: Int, finalEpoch: Int) {
        self.target = target; self.schedule = schedule; self.initEpoch = initEpoch; self.finalEpoch = finalEpoch
    }

    /// The total sparsity (a fraction) wanted at fractional epoch `t` (epochs done, with the current one's share).
    public func value(at t: Double) -> Double {
        let u = min(1, max(0, (t - Double(initEpoch)) / Double(finalEpoch - initEpoch + 1)))
        switch schedule {
        case .cubic: return target * (1 - (1 - u) * (1 - u) * (1 - u))
        case .linear: return target * u
        }
    }
}

public final class SparsityController {
    /// What the controller carries from step to step: saved in the training state, so a resumed
    /// run steers exactly as the uninterrupted one would.
    public struct State: Sendable, Equatable {
        public var integral = SparsityController.neutral
        /// The controller's output now: decay = base·sinh(output).
        public var output = SparsityController.neutral
        /// The fractional epoch and measured sparsity of the last update.
        public var time = 0.0, sparsity = 0.0

        public init() {}

        /// Four numbers, each printed so that it reads back exactly.
        public var text: String { "\(integral) \(output) \(time) \(sparsity)" }

        public init?(text: String) {
            let v = text.split(separator: " ").compactMap { Double($0) }
            guard v.count == 4, v.allSatisfy(\.isFinite), SparsityController.bounds.contains(v[1]), v[2] >= 0,
                  (0...1).contains(v[3]) else { return nil }
            integral = v[0]; output = v[1]; time = v[2]; sparsity = v[3]
        }
    }

    public let setPoint: SparsitySetPoint
    /// The decay with no correction: the config's st_decay, else weight_decay.
    public let base: Double
    public private(set) var state = State()
    /// The last update's set point and measured sparsity (fractions).
    public private(set) var last = (setPoint: 0.0, sparsity: 0.0)

    /// Gains per unit of (scaled) error: proportional, integral (per epoch) and derivative (epochs) — the
    /// sparsity integrates the decay, so the derivative damps the overshoot. Tuned on Fashion-MNIST runs.
    static let kp = 200.0, ki = 800.0, kd = 10.0
    /// The output that gives `base`; the output stays within −neutral…8, the decay within −base…1490·base:
    /// a negative decay grows |s| geometrically, so it is kept to the weights' own rate.
    static let neutral = asinh(1.0), bounds = -neutral...8.0
    /// Updates per epoch.
    static let updatesPerEpoch = 50

    /// The learning rate the gains hold at (the config's `lr`): the thresholds move by lr·decay a step,
    /// so as the rate falls the same correction steers less and the gains grow as 1/lr to keep the loop's.
    public let referenceRate: Double
    /// How far the gains follow the rate: a rate near 0 (the end of a cosine schedule) moves nothing anyway.
    static let rateBoost = 1.0 / 16...16.0

    public init(setPoint: SparsitySetPoint, base: Double, referenceRate: Double) {
        self.setPoint = setPoint
        self.base = base
        self.referenceRate = referenceRate
    }

    /// The decay in effect now: negative pushes the thresholds down (fewer weights pruned), the way
    /// back when weight decay on the weights prunes more than the set point wants.
    public var decay: Float { Float(base * sinh(state.output)) }

    /// Steps between updates in an epoch of `batches` steps: a fiftieth of it, at most 10 (the threshold must
    /// not run far between two looks; the gains were tuned on epochs of 50 to 470 steps).
    public static func interval(batches: Int) -> Int { max(1, min(10, batches / updatesPerEpoch)) }

    /// Whether the step that just finished (`step` of `batches`, from 0) is one the controller acts after.
    public static func acts(after step: Int, of batches: Int) -> Bool {
        (step + 1) % interval(batches: batches) == 0 || step + 1 == batches
    }

    /// One update at fractional epoch `t` with the model's total sparsity (a fraction) now and the step's
    /// learning rate; returns the new decay.
    @discardableResult
    public func update(time t: Double, sparsity: Double, rate: Double) -> Float {
        let wanted = setPoint.value(at: t)
        // Gains grow as the set point nears 1 (a point of sparsity is then a large share of what is kept)
        // and as the learning rate falls below the reference (each unit of decay then moves less).
        let boost = min(max(referenceRate / rate, Self.rateBoost.lowerBound), Self.rateBoost.upperBound)
        let scale = boost * 0.2 / (1.1 - wanted)
        let e = scale * (wanted - sparsity), dt = t - state.time
        // The error's rate of change (set point's slope − the sparsity's), from the last update.
        let rate = dt > 0 && state.time > 0
            ? scale * ((wanted - setPoint.value(at: state.time)) - (sparsity - state.sparsity)) / dt : 0
        let integral = state.integral + Self.ki * e * max(0, dt)
        let unclamped = Self.kp * e + integral + Self.kd * rate
        // Integrate only while that does not drive the output further past a bound.
        let saturated = (unclamped > Self.bounds.upperBound && e > 0) || (unclamped < Self.bounds.lowerBound && e < 0)
        if !saturated { state.integral = min(max(integral, Self.bounds.lowerBound), Self.bounds.upperBound) }
        state.output = min(max(Self.kp * e + state.integral + Self.kd * rate, Self.bounds.lowerBound), Self.bounds.upperBound)
        state.time = t
        state.sparsity = sparsity
        last = (wanted, sparsity)
        return decay
    }

    /// Restores a saved state (resume).
    public func restore(_ saved: State) { state = saved }
}
