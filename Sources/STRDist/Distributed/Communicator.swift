// Every MPI call of the program goes through here. `Communicator.world`
// initialises MPI once per process when the process was started by an MPI
// launcher (mpirun, srun), and otherwise returns a single-process
// communicator that needs no MPI at all. Collectives are in place, float
// sums over the gradient arena, and double/int64 scalar reductions.

import CMPI
import Foundation

public final class Communicator: @unchecked Sendable {
    public let rank: Int
    public let size: Int
    /// Rank among the processes on this machine.
    public let localRank: Int
    public let localSize: Int
    public let usesMPI: Bool

    private init(rank: Int, size: Int, localRank: Int, localSize: Int, usesMPI: Bool) {
        self.rank = rank; self.size = size; self.localRank = localRank; self.localSize = localSize; self.usesMPI = usesMPI
    }

    public var isRoot: Bool { rank == 0 }

    /// Seconds a blocking collective may wait before the job is aborted (config `stall_timeout`).
    public var stallTimeout = 300.0
    /// The training step, for stall messages.
    public var step = 0
    private let watched = Locked<(what: String, step: Int, since: UInt64)?>(nil)
    private var watchdogStarted = false

    /// Runs a blocking collective under the stall watchdog: if it has not returned after
    /// `stallTimeout` seconds, the job is aborted with a message naming it.
    func guarded<T>(_ what: String, _ body: () -> T) -> T {
        if !watchdogStarted {
            watchdogStarted = true
            let t = Thread { [self] in watchdog() }
            t.name = "strdist-watchdog"
            t.start()
        }
        watched.set((what, step, DispatchTime.now().uptimeNanoseconds))
        defer { watched.set(nil) }
        return body()
    }

    private func watchdog() {
        while true {
            sleep(1)
            guard let w = watched.value else { continue }
            let waited = Double(DispatchTime.now().uptimeNanoseconds - w.since) / 1e9
            if waited > stallTimeout {
                abort("\(w.what) at step \(w.step) made no progress for \(Int(waited)) s (stall_timeout): another rank is stuck or gone")
            }
        }
    }

    /// True when an MPI launcher started this process.
    public static var launchedByMPI: Bool {
        let env = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"].contains { env[$0] != nil }
    }

    private static let shared: Communicator = {
        guard launchedByMPI else { return Communicator(rank: 0, size: 1, localRank: 0, localSize: 1, usesMPI: false) }
        var provided: Int32 = 0
        // SERIALIZED: the communication thread and the main thread never call MPI at the same time.
        MPI_Init_thread(nil, nil, cmpi_thread_serialized(), &provided)
        var rank: Int32 = 0, size: Int32 = 1
        MPI_Comm_rank(cmpi_comm_world(), &rank)
        MPI_Comm_size(cmpi_comm_world(), &size)
        // Ranks on this machine, from MPI itself (a shared-memory split of the world), whatever launched us.
        var local: MPI_Comm? = nil
        var localRank: Int32 = 0, localSize: Int32 = 1
        if MPI_Comm_split_type(cmpi_comm_world(), cmpi_comm_type_shared(), rank, cmpi_info_null(), &local) == cmpi_success() {
            MPI_Comm_rank(local, &localRank)
            MPI_Comm_size(local, &localSize)
            MPI_Comm_free(&local)
        }
        if provided < cmpi_thread_serialized() {
            FileHandle.standardError.write("strdist: warning: rank \(rank): MPI gives thread level \(provided), below SERIALIZED\n".data(using: .utf8)!)
        }
        return Communicator(rank: Int(rank), size: Int(size), localRank: Int(localRank), localSize: max(1, Int(localSize)), usesMPI: true)
    }()

    /// The process's communicator (MPI initialised on first use when launched by mpirun/srun).
    public static var world: Communicator { shared }

    /// Ends MPI cleanly (call once, at exit).
    public func finalize() {
        if usesMPI { MPI_Finalize() }
    }

    /// Ends the whole job with `code` (every rank), after this rank's one-line message.
    public func abort(_ message: String, code: Int32 = 1) -> Never {
        FileHandle.standardError.write("strdist: error: rank \(rank) of \(size): \(message)\n".data(using: .utf8)!)
        if usesMPI && size > 1 { MPI_Abort(cmpi_comm_world(), code) }
        exit(code)
    }

    // MARK: collectives (blocking, from one thread at a time)

    public func barrier() { if usesMPI && size > 1 { guarded("barrier") { _ = MPI_Barrier(cmpi_comm_world()) } } }

    /// In-place float sum over all ranks.
    public func allreduceSum(_ p: UnsafeMutablePointer<Float>, count: Int) {
        guard usesMPI && size > 1 && count > 0 else { return }
        guarded("all-reduce of \(count) floats") {
            _ = MPI_Allreduce(cmpi_in_place(), p, Int32(count), cmpi_float(), cmpi_sum(), cmpi_comm_world())
        }
    }

    public func allreduceSum(_ values: [Double]) -> [Double] {
        guard usesMPI && size > 1 else { return values }
        var v = values
        guarded("all-reduce of \(v.count) metrics") {
            _ = MPI_Allreduce(cmpi_in_place(), &v, Int32(v.count), cmpi_double(), cmpi_sum(), cmpi_comm_world())
        }
        return v
    }

    /// Element-wise maximum (or minimum) over all ranks.
    public func allreduceMax(_ values: [Double], minimum: Bool = false) -> [Double] {
        guard usesMPI && size > 1 else { return values }
        var v = values
        guarded("all-reduce of \(v.count) maxima") {
            _ = MPI_Allreduce(cmpi_in_place(), &v, Int32(v.count), cmpi_double(), minimum ? cmpi_min() : cmpi_max(), cmpi_comm_world())
        }
        return v
    }

    public func allreduce(_ value: Int64, max: Bool) -> Int64 {
        guard usesMPI && size > 1 else { return value }
        var v = value
        guarded("parameter checksum comparison") {
            _ = MPI_Allreduce(cmpi_in_place(), &v, 1, cmpi_int64(), max ? cmpi_max() : cmpi_min(), cmpi_comm_world())
        }
        return v
    }

    /// Rank `root`'s floats to every rank.
    public func broadcast(_ p: UnsafeMutablePointer<Float>, count: Int, root: Int = 0) {
        guard usesMPI && size > 1 && count > 0 else { return }
        var done = 0
        while done < count {   // MPI counts are Int32
            let n = min(count - done, 1 << 30)
            guarded("broadcast from rank \(root)") { _ = MPI_Bcast(p + done, Int32(n), cmpi_float(), Int32(root), cmpi_comm_world()) }
            done += n
        }
    }

    /// Rank 0's string to every rank (e.g. an error decided on rank 0).
    public func broadcast(_ text: String) -> String {
        guard usesMPI && size > 1 else { return text }
        var length = Int64(text.utf8.count)
        MPI_Bcast(&length, 1, cmpi_int64(), 0, cmpi_comm_world())
        var bytes = rank == 0 ? Array(text.utf8) : [UInt8](repeating: 0, count: Int(length))
        MPI_Bcast(&bytes, Int32(length), cmpi_uint8(), 0, cmpi_comm_world())
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: non-blocking all-reduce with a deadline (the communication thread's tool)

    /// Starts an in-place float sum; poll `test` until it returns true.
    func startAllreduce(_ p: UnsafeMutablePointer<Float>, count: Int) -> MPI_Request? {
        var request: MPI_Request? = cmpi_request_null()
        MPI_Iallreduce(cmpi_in_place(), p, Int32(count), cmpi_float(), cmpi_sum(), cmpi_comm_world(), &request)
        return request
    }

    func test(_ request: inout MPI_Request?) -> Bool {
        var flag: Int32 = 0
        MPI_Test(&request, &flag, cmpi_status_ignore())
        return flag != 0
    }
}
