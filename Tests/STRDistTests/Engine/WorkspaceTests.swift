import XCTest
@testable import STRDist

final class WorkspaceTests: XCTestCase {
    func testLastPlannedConsumerOverwritesOthersAccumulate() {
        let p = WorkspacePlanner(threads: 1)
        let a = p.activation(ActShape(channels: 1, batch: 1, height: 2, width: 2))
        let first = p.use(a, by: self), second = p.use(a, by: self)
        let noGrad = p.use(p.activation(ActShape(channels: 1, batch: 1, height: 1, width: 1), needsGrad: false), by: self)
        let ws = Workspace(p)
        XCTAssertTrue(ws.accumulates(first))
        XCTAssertFalse(ws.accumulates(second))
        XCTAssertFalse(ws.accumulates(noGrad))
    }

    func testRegionsAreAlignedAndDisjoint() {
        let p = WorkspacePlanner(threads: 2)
        let r1 = p.region(3), r2 = p.region(17)
        p.scratch(perThread: 5)
        p.scratch(perThread: 40)
        XCTAssertEqual(r1.offset % 16, 0)
        XCTAssertEqual(r2.offset, 16)
        let ws = Workspace(p)
        XCTAssertEqual(ws.scratchPerThread, 48)
        XCTAssertEqual(ws.scratch(thread: 1) - ws.scratch(thread: 0), 48)
        XCTAssertGreaterThanOrEqual(ws.scratch(thread: 0) - ws.pointer(r1), 48)
    }

    /// Int32 regions are bound to Int32 in the allocated workspace (no Int32 through Float-bound memory),
    /// and they sit apart from the Float regions planned around them.
    func testInt32RegionsAreTheirOwnType() {
        let p = WorkspacePlanner(threads: 1)
        let f1 = p.region(5), ints = p.intRegion(20), f2 = p.region(3)
        let ws = Workspace(p)
        let i = ws.pointer(ints)
        for k in 0..<20 { i[k] = Int32(k - 10) }
        ws.pointer(f1).update(repeating: 1, count: 5); ws.pointer(f2).update(repeating: 2, count: 3)
        XCTAssertEqual((0..<20).map { i[$0] }, (0..<20).map { Int32($0 - 10) })
        XCTAssertEqual(UnsafeMutableRawPointer(i) - UnsafeMutableRawPointer(ws.pointer(f1)), 16 * 4)
        XCTAssertEqual(f2.offset - ints.offset, 32)
    }

    func testLayoutRoundTrip() {
        var x = randomArray(2 * 3 * 4 * 5, seed: 1)
        var cnhw = [Float](repeating: 0, count: x.count), back = cnhw
        let s = ActShape(channels: 3, batch: 2, height: 4, width: 5)
        Layout.nchwToCNHW(&x, &cnhw, s)
        XCTAssertEqual(cnhw[(1 * 2 + 1) * 20 + 7], x[(1 * 3 + 1) * 20 + 7])  // c1 n1 → NCHW n1 c1
        Layout.cnhwToNCHW(&cnhw, &back, s)
        XCTAssertEqual(back, x)
    }
}
