// Fault injection for the multi-rank tests: STRDIST_FAULT="rank:step:kind"
// makes that rank, after that training step, throw an error (`throw`), die
// by SIGKILL (`kill`), hang (`stall`), stop itself with SIGSTOP (`sigstop`),
// signal itself SIGUSR1 as SLURM would before a preemption (`signal`), fill
// the disk under a folder (`fill=PATH`, as a full disk would be) or nudge one
// weight (`diverge`, done by the step), so tests can prove the job ends, stops
// cleanly or catches divergence.

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
        case let k where k.hasPrefix("fill="): Self.fill(String(k.dropFirst(5)))
        default:
            // Thrown like a data or I/O failure, through the normal error path.
            throw FaultError(description: "injected fault at step \(step)")
        }
    }
}

extension InjectedFault {
    /// Writes `<dir>/.strdist-fill` until the file system is full.
    static func fill(_ dir: String) {
        let fd = open(dir + "/.strdist-fill", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0xAB, count: 1 << 20)
        while chunk.withUnsafeBytes({ Foundation.write(fd, $0.baseAddress!, $0.count) }) > 0 {}
        var byte: UInt8 = 0
        while Foundation.write(fd, &byte, 1) > 0 {}   // the last partial megabyte
    }
}

struct FaultError: Error, CustomStringConvertible {
    let description: String
}
