// Runs a command to its end or to its time limit, with posix_spawn and waitpid rather than
// Foundation's Process: on Linux, Process learns that a child ended through a socket the child
// inherits, so a daemon the command leaves behind (munged, slurmctld, slurmd) keeps `isRunning` true
// and `waitUntilExit` waiting forever. Output (stdout and stderr together) goes through a file, not a
// pipe, for the same reason: a pipe read to its end waits for every process that inherited it.
import Foundation

enum ChildProcess {
    struct Result { var status: Int32, output: String, timedOut: Bool }

    static func run(_ executable: String, _ arguments: [String], limit: Double) -> Result {
        let path = NSTemporaryDirectory() + "/strdist-child-\(getpid())-\(UUID().uuidString.prefix(8)).log"
        defer { unlink(path) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group, so a timeout stops the command and whatever it started in the foreground.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard spawned == 0 else {
            return Result(status: -1, output: "cannot start \(executable): \(String(cString: strerror(spawned)))", timedOut: false)
        }
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(limit)
        var ended = false
        while !ended && Date() < deadline {
            ended = waitpid(pid, &status, WNOHANG) == pid
            if !ended { usleep(50_000) }
        }
        let timedOut = !ended
        if timedOut {
            kill(-pid, SIGTERM)
            let grace = Date().addingTimeInterval(10)
            while !ended && Date() < grace {
                ended = waitpid(pid, &status, WNOHANG) == pid
                if !ended { usleep(50_000) }
            }
            if !ended { kill(-pid, SIGKILL); waitpid(pid, &status, 0) }
        }
        let output = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return Result(status: exitStatus(status), output: output, timedOut: timedOut)
    }

    /// `bash -c command`.
    static func shell(_ command: String, limit: Double = 300) -> Result {
        run("/bin/bash", ["-c", command], limit: limit)
    }

    /// The exit code, or 128 + the signal that ended it (as a shell reports it).
    private static func exitStatus(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}
