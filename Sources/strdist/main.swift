// strdist: the command-line program. Thin: all logic lives in STRDist.
import ArgumentParser
import Foundation
import STRDist

struct StrDist: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strdist",
        abstract: "Train sparse CNNs (STR, DNW, GMP) data-parallel over MPI.",
        discussion: "strdist --config FILE [--key value ...] trains; every config key can be given as --key value.",
        subcommands: [Train.self, Info.self, Predict.self, Report.self, Bench.self, BenchSparse.self, BenchAllreduce.self, BenchConv.self, BenchData.self, PrepareDataCommand.self, Version.self],
        defaultSubcommand: Train.self
    )
}

/// Prints a one-line error and exits non-zero (no stack trace).
func fail(_ error: Error) -> Never {
    // Under mpirun every rank's error ends the whole job, naming the rank.
    if Communicator.launchedByMPI && Communicator.world.size > 1 { Communicator.world.abort("\(error)") }
    FileHandle.standardError.write("strdist: error: \(error)\n".data(using: .utf8)!)
    exit(1)
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train (the default): strdist --config FILE [--key value ...].")

    @Argument(parsing: .captureForPassthrough, help: "--config FILE and any --key value overrides.")
    var words: [String] = []

    func run() throws {
        do {
            if words.contains("--help") || words.contains("-h") {
                print(StrDist.helpMessage()); return
            }
            let config = try ConfigLoader.load(arguments: words)
            let trainer = try TrainingJob(config: config).run()
            Communicator.world.finalize()
            // Stopped on SIGTERM/SIGUSR1 after checkpointing: a status the batch script requeues on.
            if trainer.preempted { Foundation.exit(Preemption.exitStatus) }
        } catch { fail(error) }
    }
}

StrDist.main()
