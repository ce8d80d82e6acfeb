// strdist: the command-line program. Thin: all logic lives in STRDist.
import ArgumentParser
import STRDist

struct StrDist: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strdist",
        abstract: "Train sparse CNNs (STR, DNW, GMP) data-parallel over MPI.",
        subcommands: [Version.self]
    )
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version and the active OpenBLAS core.")
    func run() {
        print("strdist 0.1.0, OpenBLAS core \(BLASInfo.coreName)")
    }
}

StrDist.main()
