// The stall inspector: what a rank does when a collective has waited past `stall_timeout`. A rank
// waiting in a collective cannot see who is missing (MPI does not say), so every waiting rank tells
// every other one, point to point on a communicator of its own, "I am in collective #n at step s",
// and listens for a grace period. The ranks it did not hear from never arrived — stopped (SIGSTOP),
// hung, or far behind — and are named; a rank heard from but in another collective is named too
// (the ranks disagree on the order of collectives). The lowest rank that arrived prints the one
// line and ends the job; the others wait for it (or end it themselves if it cannot).
//
// This runs only after a stall, so its all-to-all messages cost nothing in a healthy run.

import CMPI
import Foundation

extension Communicator {
    /// Seconds the waiting ranks listen for each other, after the first of them timed out: their
    /// deadlines differ by how far apart they entered the collective.
    var inspectionGrace: Double { min(10, max(2, stallTimeout / 2)) }

    func inspectStall(_ what: String, sequence: Int, step: Int, waited: Double) -> Never {
        guard let inspection, size > 1 else {
            abort("\(what) at step \(step) made no progress for \(Int(waited)) s (stall_timeout)")
        }
        // Out: [sequence, step] to every other rank. In: one such pair from each.
        // Buffers that outlive the non-blocking calls (the job ends before they would be freed).
        let mine = UnsafeMutablePointer<Int64>.allocate(capacity: 2)
        mine[0] = Int64(sequence); mine[1] = Int64(step)
        let heard = UnsafeMutablePointer<Int64>.allocate(capacity: 2 * size)
        heard.initialize(repeating: -1, count: 2 * size)
        var sends = [MPI_Request?](repeating: cmpi_request_null(), count: size)
        var receives = [MPI_Request?](repeating: cmpi_request_null(), count: size)
        let tag: Int32 = 0x57a1
        for k in 0..<size where k != rank {
            MPI_Isend(mine, 2, cmpi_int64(), Int32(k), tag, inspection, &sends[k])
            MPI_Irecv(heard + 2 * k, 2, cmpi_int64(), Int32(k), tag, inspection, &receives[k])
        }
        var arrived = Array(repeating: false, count: size)
        arrived[rank] = true
        let deadline = Date().addingTimeInterval(inspectionGrace)
        while Date() < deadline && arrived.contains(false) {
            for k in 0..<size where !arrived[k] { arrived[k] = test(&receives[k]) }
            usleep(1000)
        }
        let missing = (0..<size).filter { !arrived[$0] }
        let elsewhere = (0..<size).filter { arrived[$0] && $0 != rank && heard[2 * $0] != Int64(sequence) }
        var line = missing.isEmpty
            ? "\(what) at step \(step) made no progress for \(Int(waited)) s (stall_timeout), though every rank reports being in a collective"
            : "\(Self.ranks(missing)) did not arrive at the \(what) (collective #\(sequence)) at step \(step) within \(Int(waited)) s (stall_timeout): stopped, hung or far behind; \(Self.ranks((0..<size).filter { arrived[$0] })) waited there"
        for k in elsewhere {
            line += "; rank \(k) waits in collective #\(heard[2 * k]) at step \(heard[2 * k + 1]) (the ranks disagree on the order of collectives)"
        }
        if (0..<size).first(where: { arrived[$0] }) != rank {
            // The lowest rank that arrived reports; if it has not ended the job after another grace, end it here.
            usleep(useconds_t(max(30, inspectionGrace * 2) * 1e6))
        }
        abort(line)
    }

    /// "rank 3" or "ranks 1, 2 and 5" (at most 16 listed).
    static func ranks(_ list: [Int]) -> String {
        guard list.count > 1 else { return "rank \(list.first ?? 0)" }
        let shown = list.prefix(16).map(String.init)
        let more = list.count > 16 ? " and \(list.count - 16) more" : ""
        return "ranks " + (more.isEmpty ? shown.dropLast().joined(separator: ", ") + " and " + shown.last! : shown.joined(separator: ", ") + more)
    }
}
