// Preemption and time limits: SLURM signals a job (SIGUSR1 with --signal, SIGTERM at the limit)
// before it kills it. The handler only records the request; the training step reports it with its
// metrics so every rank stops at the same step boundary, rank 0 saves a checkpoint that records the
// position inside the epoch, and the process exits with `exitStatus` — a batch script requeues the
// job on that status and `--resume auto` continues where it stopped.

import CSystem

public enum Preemption {
    /// EX_TEMPFAIL: stopped on request, checkpointed, to be resumed.
    public static let exitStatus: Int32 = 75

    /// Installs the handler for SIGTERM and SIGUSR1 (the trainer does, before its first step).
    public static func install() { csys_install_stop_handler() }

    /// Whether this process was asked to stop.
    public static var requested: Bool { csys_stop_signal() != 0 }

    /// The signal's name, for the message.
    public static var signalName: String {
        switch csys_stop_signal() { case 15: return "SIGTERM"; case 10: return "SIGUSR1"; case 0: return "none"; default: return "signal \(csys_stop_signal())" }
    }

    /// What asked to stop, as this rank knows it: "SIGUSR1 on this rank" or "on another rank".
    public static var origin: String { requested ? "\(signalName) on this rank" : "from another rank" }

    /// Forgets the request (tests running several jobs in one process).
    public static func clear() { csys_clear_stop() }

    /// Sends SIGUSR1 to this process (fault injection: a real signal through the real handler).
    static func signalSelf() { _ = csys_raise(10) }
}
