// Fault injection for the multi-rank tests: STRDIST_FAULT="rank:step:kind"
// makes that rank, after that training step, throw an error (`throw`), die
// by SIGKILL (`kill`), hang (`stall`), stop itself with SIGSTOP (`sigstop`),
// signal itself SIGUSR1 as SLURM would before a preemption (`signal`) or
// nudge one weight (`diverge`, done by the step), so tests can prove the job
// ends, stops cleanly or catches divergence.

import Foundation

struct InjectedFault {
    let rank: Int, step: Int, kind: String

    static func fromEnvironment() -> InjectedFault? {
        guard let spec = ProcessInfo.processInfo.environment["STRDIST_FAULT"] else { return nil }
        let parts = spec.split(separator: ":").map(String.init)
        guard parts.count == 3, let r = Int(parts[0]), let s = Int(parts[1]) else { return nil }
        return InjectedFault(rank: r, step: s, kind: parts[2])
    }

    func trigger() throws {
        switch kind {
        case "kill": kill(getpid(), SIGKILL)
        case "stall": while true { sleep(1000) }
        case "sigstop": kill(getpid(), SIGSTOP)
        case "signal": Preemption.signalSelf()
        default:
            // Thrown like a data or I/O failure, through the normal error path.
            throw FaultError(description: "injected fault at step \(step)")
        }
    }
}

struct FaultError: Error, CustomStringConvertible {
    let description: String
}
