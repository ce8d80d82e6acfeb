// Every MPI call of the program goes through here. `Communicator.world`
// initialises MPI once per process when the process was started by an MPI
// launcher (mpirun, srun), and otherwise returns a single-process
// communicator that needs no MPI at all. Collectives are in place, float
// sums over the gradient arena, and double/int64 scalar reductions.

import CMPI
import Foundation

// unchecked: MPI is called from one thread at a time (the training thread, or GradientSync's thread while
// the training thread waits); a stall is inspected by the thread that waited, on its own duplicate communicator.
public final class Communicator: @unchecked Sendable {
    public let rank: Int
    public let size: Int
    /// Rank among the processes on this machine.
    public let localRank: Int
    public let localSize: Int
    public let usesMPI: Bool

    private init(rank: Int, size: Int, localRank: Int, localSize: Int, usesMPI: Bool) {
        self.rank = rank; self.size = size; self.localRank = localRank; self.localSize = localSize; self.usesMPI = usesMPI
        if usesMPI && size > 1 { MPI_Comm_dup(cmpi_comm_world(), &inspection) }
    }

    public var isRoot: Bool { rank == 0 }

    /// Seconds a collective may wait before the stall inspector ends the job (config `stall_timeout`).
    public var stallTimeout = 300.0
    /// The training step, for stall messages.
    public var step = 0
    /// Collectives this rank has started: the same sequence on every rank (MPI requires the order), so
    /// the stall inspector can tell which collective each rank is in.
    private let started = Locked(0)
    /// A duplicate of the world for the stall inspector's messages, apart from the training's traffic.
    var inspection: MPI_Comm?

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
            Warnings.standardError("rank \(rank): MPI gives thread level \(provided), below SERIALIZED")
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

    // MARK: collectives (from one thread at a time)
    //
    // Each is started non-blocking and waited for by `complete`, the one place a stall is caught.

    /// Starts a collective and waits for it; past `stallTimeout` the stall inspector names the ranks
    /// that never arrived, and the job ends.
    func collective(_ what: @autoclosure () -> String, step: Int? = nil, _ start: (UnsafeMutablePointer<MPI_Request?>) -> Void) {
        var request: MPI_Request? = cmpi_request_null()
        let sequence = started.update { $0 += 1; return $0 }
        start(&request)
        complete(&request, sequence: sequence, what(), step: step ?? self.step)
    }

    /// Polls a started collective to its end: a short spin, then gently (the compute threads need the
    /// cores); every ~1,000 polls the clock is read against `stallTimeout`.
    func complete(_ request: inout MPI_Request?, sequence: Int, _ what: @autoclosure () -> String, step: Int) {
        let begin = DispatchTime.now().uptimeNanoseconds
        var polls = 0
        while !test(&request) {
            polls += 1
            if polls > 64 { usleep(50) }
            if polls & 1023 == 0 {
                let waited = Double(DispatchTime.now().uptimeNanoseconds - begin) / 1e9
                if waited > stallTimeout { inspectStall(what(), sequence: sequence, step: step, waited: waited) }
            }
        }
    }

    public func barrier() {
        guard usesMPI && size > 1 else { return }
        collective("barrier") { _ = MPI_Ibarrier(cmpi_comm_world(), $0) }
    }

    /// In-place float sum over all ranks.
    public func allreduceSum(_ p: UnsafeMutablePointer<Float>, count: Int) {
        guard usesMPI && size > 1 && count > 0 else { return }
        collective("all-reduce of \(count) floats") {
            _ = MPI_Iallreduce(cmpi_in_place(), p, Int32(count), cmpi_float(), cmpi_sum(), cmpi_comm_world(), $0)
        }
    }

    /// In-place double sum over all ranks (the step's metrics: no allocation).
    public func allreduceSum(_ p: UnsafeMutablePointer<Double>, count: Int, what: String = "metrics") {
        guard usesMPI && size > 1 && count > 0 else { return }
        collective("all-reduce of \(count) \(what)") {
            _ = MPI_Iallreduce(cmpi_in_place(), p, Int32(count), cmpi_double(), cmpi_sum(), cmpi_comm_world(), $0)
        }
    }

    /// In-place sum over a power-of-two world by SampleGroups' tree: at each level a rank swaps its
    /// values with its partner's and adds them, so every rank adds the same numbers in the same order
    /// (MPI's all-reduce may not). `scratch` holds `count` values.
    public func allreduceTree<T: BinaryFloatingPoint>(_ p: UnsafeMutablePointer<T>, count: Int, scratch: UnsafeMutablePointer<T>,
                                                      _ what: @autoclosure () -> String, step: Int? = nil) {
        guard usesMPI && size > 1 && count > 0 else { return }
        let type = T.self == Double.self ? cmpi_double() : cmpi_float()
        precondition(T.self == Double.self || T.self == Float.self, "allreduceTree sums floats or doubles")
        precondition(size & (size - 1) == 0, "the tree pairs the ranks of a power-of-two world")
        // One collective in the inspector's count: a stalled rank's partners may wait at different levels.
        let sequence = started.update { $0 += 1; return $0 }
        var distance = size / 2
        while distance >= 1 {
            // Level by level from the top pairs: rank ⊕ world/2, …, rank ⊕ 1 (both of a pair add a + b).
            let partner = rank ^ distance
            distance /= 2
            var send: MPI_Request? = cmpi_request_null(), receive: MPI_Request? = cmpi_request_null()
            MPI_Irecv(scratch, Int32(count), type, Int32(partner), Self.treeTag, cmpi_comm_world(), &receive)
            MPI_Isend(p, Int32(count), type, Int32(partner), Self.treeTag, cmpi_comm_world(), &send)
            complete(&receive, sequence: sequence, "\(what()) (tree level with rank \(partner))", step: step ?? self.step)
            complete(&send, sequence: sequence, "\(what()) (tree level with rank \(partner))", step: step ?? self.step)
            for i in 0..<count { p[i] += scratch[i] }
        }
    }

    /// The tag of the tree all-reduce's messages (the program's only point-to-point ones on the world).
    static let treeTag: Int32 = 0x7EE

    public func allreduceSum(_ values: [Double]) -> [Double] {
        guard usesMPI && size > 1 else { return values }
        var v = values
        v.withUnsafeMutableBufferPointer { allreduceSum($0.baseAddress!, count: $0.count) }
        return v
    }

    /// Element-wise maximum (or minimum) over all ranks.
    public func allreduceMax(_ values: [Double], minimum: Bool = false) -> [Double] {
        guard usesMPI && size > 1 else { return values }
        var v = values
        v.withUnsafeMutableBufferPointer { b in
            collective("all-reduce of \(b.count) \(minimum ? "minima" : "maxima")") {
                _ = MPI_Iallreduce(cmpi_in_place(), b.baseAddress, Int32(b.count), cmpi_double(), minimum ? cmpi_min() : cmpi_max(), cmpi_comm_world(), $0)
            }
        }
        return v
    }

    public func allreduce(_ value: Int64, max: Bool) -> Int64 {
        guard usesMPI && size > 1 else { return value }
        var v = value
        // The buffer must stay put until the non-blocking collective completes: one pointer throughout.
        withUnsafeMutablePointer(to: &v) { p in
            collective("parameter checksum comparison") {
                _ = MPI_Iallreduce(cmpi_in_place(), p, 1, cmpi_int64(), max ? cmpi_max() : cmpi_min(), cmpi_comm_world(), $0)
            }
        }
        return v
    }

    /// Every rank's `count` floats, in rank order, on every rank.
    public func allgather(_ p: UnsafeMutablePointer<Float>, count: Int) -> [Float] {
        guard usesMPI && size > 1 && count > 0 else { return Array(UnsafeBufferPointer(start: p, count: count)) }
        var all = [Float](repeating: 0, count: count * size)
        all.withUnsafeMutableBufferPointer { b in
            collective("all-gather of \(count) floats") {
                _ = MPI_Iallgather(p, Int32(count), cmpi_float(), b.baseAddress, Int32(count), cmpi_float(), cmpi_comm_world(), $0)
            }
        }
        return all
    }

    /// Every rank's value, in rank order, on every rank.
    public func allgather(_ value: Int64) -> [Int64] {
        guard usesMPI && size > 1 else { return [value] }
        var mine = value
        var all = [Int64](repeating: 0, count: size)
        all.withUnsafeMutableBufferPointer { b in
            withUnsafeMutablePointer(to: &mine) { p in
                collective("all-gather of set-up fingerprints") {
                    _ = MPI_Iallgather(p, 1, cmpi_int64(), b.baseAddress, 1, cmpi_int64(), cmpi_comm_world(), $0)
                }
            }
        }
        return all
    }

    /// Rank `root`'s floats to every rank.
    public func broadcast(_ p: UnsafeMutablePointer<Float>, count: Int, root: Int = 0) {
        guard usesMPI && size > 1 && count > 0 else { return }
        var done = 0
        while done < count {   // MPI counts are Int32
            let n = min(count - done, 1 << 30)
            collective("broadcast from rank \(root)") { _ = MPI_Ibcast(p + done, Int32(n), cmpi_float(), Int32(root), cmpi_comm_world(), $0) }
            done += n
        }
    }

    /// Rank 0's string to every rank (e.g. an error decided on rank 0).
    public func broadcast(_ text: String) -> String {
        guard usesMPI && size > 1 else { return text }
        var length = Int64(text.utf8.count)
        withUnsafeMutablePointer(to: &length) { p in
            collective("broadcast of a message's length") { _ = MPI_Ibcast(p, 1, cmpi_int64(), 0, cmpi_comm_world(), $0) }
        }
        var bytes = rank == 0 ? Array(text.utf8) : [UInt8](repeating: 0, count: Int(length))
        bytes.withUnsafeMutableBufferPointer { b in
            collective("broadcast of a message") { _ = MPI_Ibcast(b.baseAddress, Int32(length), cmpi_uint8(), 0, cmpi_comm_world(), $0) }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: the communication thread's all-reduce

    /// Starts an in-place float sum (the communication thread's); `complete` waits for it.
    func startAllreduce(_ p: UnsafeMutablePointer<Float>, count: Int) -> (request: MPI_Request?, sequence: Int) {
        var request: MPI_Request? = cmpi_request_null()
        let sequence = started.update { $0 += 1; return $0 }
        MPI_Iallreduce(cmpi_in_place(), p, Int32(count), cmpi_float(), cmpi_sum(), cmpi_comm_world(), &request)
        return (request, sequence)
    }

    func test(_ request: inout MPI_Request?) -> Bool {
        var flag: Int32 = 0
        MPI_Test(&request, &flag, cmpi_status_ignore())
        return flag != 0
    }
}
