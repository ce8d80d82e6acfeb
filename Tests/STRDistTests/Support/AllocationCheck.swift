// The allocation proof shared by the step tests: a model's training steps and
// evaluation, after one warm-up of each, touch no heap.
import XCTest
import CAllocCounter
@testable import STRDist

/// Two SGD steps and an evaluation of `model` (planned and initialised), after one of each to warm up,
/// make no heap allocation.
func assertStepsAllocateNothing(_ model: Model, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
    let net = model.network
    let run = sgdStep(net, SGD(SGDSettings(), table: model.layout.parameters))
    fillToyBatch(net, step: 0)
    try run.run(lr: 0.01)
    net.forward(training: false)
    alloc_counter_start()
    for _ in 0..<2 { try run.run(lr: 0.01) }
    net.forward(training: false)
    let count = alloc_counter_stop()
    XCTAssertEqual(count, 0, "\(what) made \(count) heap allocations", file: file, line: line)
}
