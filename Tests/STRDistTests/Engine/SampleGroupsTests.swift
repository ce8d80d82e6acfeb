// SampleGroups: which groups a layout makes, that its tree (on one rank, then
// across ranks as the communicator pairs them) adds the same numbers in the
// same order on any power-of-two world, and that a FastGRNN's gradient on
// one rank equals the sum of its shares' gradients on two and four, bit for
// bit (the ranks simulated in one process: no MPI).
import XCTest
@testable import STRDist

final class SampleGroupsTests: XCTestCase {
    func testGroupsOfALayout() {
        let one = SampleGroups(localBatch: 128, ranks: 1)
        XCTAssertEqual([one.total, one.local, one.size], [16, 16, 8])
        XCTAssertTrue(one.acrossRanks)
        let four = SampleGroups(localBatch: 32, ranks: 4)
        XCTAssertEqual([four.total, four.local, four.size], [16, 4, 8])
        XCTAssertTrue(four.acrossRanks)
        // A batch of 12: four groups of 3 on 1, 2 or 4 ranks.
        for (n, ranks) in [(12, 1), (6, 2), (3, 4)] {
            let g = SampleGroups(localBatch: n, ranks: ranks)
            XCTAssertEqual([g.total, g.local, g.size], [4, 4 / ranks, 3])
        }
        // Three ranks, or more ranks than groups: the tree stops at the rank.
        let three = SampleGroups(localBatch: 8, ranks: 3)
        XCTAssertFalse(three.acrossRanks)
        XCTAssertEqual([three.local, three.size], [8, 1])
        XCTAssertFalse(SampleGroups(localBatch: 2, ranks: 32).acrossRanks)
        XCTAssertTrue(SampleGroups(localBatch: 3, ranks: 8).acrossRanks)
        // Local sample n is in group n mod local, at place n / local.
        XCTAssert(four.group(ofSample: 13) == (1, 3))
        XCTAssertEqual(four.sample(group: 1, index: 3), 13)
    }

    /// The canonical tree over `total` leaves, written out: level by level, leaf c adds leaf c + step.
    func canonical(_ leaves: [Float]) -> Float {
        var v = leaves, step = leaves.count / 2
        while step >= 1 { for c in 0..<step { v[c] += v[c + step] }; step /= 2 }
        return v[0]
    }

    func testTheTreeAddsTheSameOnAnyWorld() {
        var rng = RNG(seed: 3)
        for _ in 0..<50 {
            // Leaves of wildly different sizes, so that the order of the additions shows.
            let global = (0..<16).map { _ in Float(rng.uniform(-1, 1)) * Float(pow(10, Double(rng.below(8)))) }
            let expected = canonical(global)
            for world in [1, 2, 4, 8, 16] {
                let groups = SampleGroups(localBatch: 16 / world, ranks: world)
                XCTAssertTrue(groups.acrossRanks)
                // Rank r holds global groups r + world·i; each sums its own, then the pairs add (as allreduceTree).
                var sums = (0..<world).map { r -> Float in
                    var leaves = (0..<groups.local).map { global[r + world * $0] }
                    var out: Float = 0
                    groups.sum(&leaves, stride: 1, count: 1, into: &out)
                    return out
                }
                var distance = world / 2
                while distance >= 1 {
                    sums = (0..<world).map { sums[$0] + sums[$0 ^ distance] }
                    distance /= 2
                }
                for r in 0..<world { XCTAssertEqual(sums[r].bitPattern, expected.bitPattern, "world \(world) rank \(r)") }
            }
        }
    }

    /// An STR FastGRNN (low-rank W) at a global batch of 12 on one rank, and its shares on two and four
    /// (rank r takes samples r, r + world, …, as DistributedSampler deals them): each rank divides its
    /// loss gradient by the global batch, so the ranks' gradients summed by the tree are the one rank's,
    /// bit for bit.
    func testAFastGRNNsGradientIsTheSameOnOneTwoAndFourRanks() throws {
        let batch = 12, steps = 7, width = 5
        var rng = RNG(seed: 9)
        let images = (0..<batch * steps * width).map { _ in Float(rng.uniform(0, 1)) }
        let labels = (0..<batch).map { _ in Int32(rng.below(3)) }
        func gradients(world: Int, rank: Int) throws -> [Float] {
            var o = ModelOptions()
            o.arch = "FastGRNN"; o.numClasses = 3; o.inputChannels = 1; o.inputWidth = width; o.hiddenSize = 12
            o.convKind = .str; o.sInit = -3; o.wRank = 4
            let model = try Model(o, threads: 2)
            let n = batch / world, net = model.network
            net.plan(ActShape(channels: 1, batch: n, height: steps, width: width), ranks: world)
            net.initialize(seed: 1)
            for i in 0..<n {
                let sample = rank + world * i
                for k in 0..<steps * width { net.input[i * steps * width + k] = images[sample * steps * width + k] }
                net.labels[i] = labels[sample]
            }
            net.forward(training: true)
            _ = net.loss(smoothing: 0.1, gradientOver: batch)   // as TrainingStep does in the tree's order
            net.backward()
            return Array(UnsafeBufferPointer(start: net.store.grads.base, count: net.store.parameters.count))
        }
        let one = try gradients(world: 1, rank: 0)
        XCTAssertGreaterThan(one.filter { $0 != 0 }.count, 100)
        for world in [2, 4] {
            var shares = try (0..<world).map { try gradients(world: world, rank: $0) }
            var distance = world / 2
            while distance >= 1 {
                shares = (0..<world).map { r in zip(shares[r], shares[r ^ distance]).map { $0 + $1 } }
                distance /= 2
            }
            let sum = shares[0]
            let differing = (0..<one.count).filter { sum[$0].bitPattern != one[$0].bitPattern }
            XCTAssertEqual(differing, [], "\(world) ranks: gradients differ at \(differing.map { "\($0): \(sum[$0]) vs \(one[$0])" })")
        }
    }
}
