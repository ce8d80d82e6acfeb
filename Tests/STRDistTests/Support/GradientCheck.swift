// Finite-difference gradient checks for any Layer. The scalar checked is
// f = Σ r·y for a fixed random r (accumulated in Double), so ∂f/∂y = r is fed
// to backward and every input and parameter gradient is compared with the
// central difference (f(θ+h) − f(θ−h)) / 2h at sampled coordinates.
import XCTest
@testable import STRDist

struct LayerHarness {
    let layer: any Layer
    let store: ParameterStore
    let ctx: StepContext
    let input: ActRef
    let output: ActRef

    /// - Parameter groups: the batch's sample groups, for a layer that sums its gradient in them.
    init(_ layer: any Layer, _ layout: ParameterLayout, input shape: ActShape, threads: Int = 1, seed: UInt64 = 1,
         groups: SampleGroups? = nil) {
        self.layer = layer
        store = ParameterStore(parameters: layout.parameters, buffers: layout.buffers)
        layer.initialize(store, seed: seed)
        // Random parameters (BN's γ, β too) so no gradient is trivially 0 or 1.
        var rng = RNG(seed: seed, stream: 5)
        for e in layout.parameters.entries {
            for i in 0..<e.count { store.values[e.offset + i] += Float(rng.uniform(-0.5, 0.5)) }
        }
        let planner = WorkspacePlanner(threads: threads, groups: groups)
        input = planner.activation(shape, needsGrad: true)
        output = layer.plan(input, planner)
        ctx = StepContext(workspace: Workspace(planner), store: store, pool: ThreadPool(threads: threads))
        ctx.groups = groups
        for (i, v) in randomArray(shape.count, seed: seed &+ 9).enumerated() { ctx.value(input)[i] = v }
    }

    var x: UnsafeMutablePointer<Float> { ctx.value(input) }
    var y: UnsafeMutablePointer<Float> { ctx.value(output) }

    func outputArray() -> [Float] { Array(UnsafeBufferPointer(start: y, count: output.shape.count)) }

    /// f = Σ r·y after a forward pass.
    func objective(_ r: [Float]) -> Double {
        layer.forward(ctx)
        var s = 0.0
        for i in 0..<r.count { s += Double(r[i]) * Double(y[i]) }
        return s
    }

    /// Runs forward + backward with ∂f/∂y = r; the input gradient starts as garbage to catch missing writes.
    func backward(_ r: [Float]) {
        layer.forward(ctx)
        let dy = ctx.workspace.grad(output)!
        for i in 0..<r.count { dy[i] = r[i] }
        ctx.workspace.grad(input)!.update(repeating: 1e30, count: input.shape.count)
        store.grads.base.update(repeating: 1e30, count: store.grads.count)
        layer.backward(ctx)
    }

    /// Compares the analytic gradients of input and every parameter with central differences.
    func check(h: Float = 1e-2, rtol: Double = 5e-3, atol: Double = 1e-3, samples: Int = 48,
               file: StaticString = #filePath, line: UInt = #line) {
        let r = randomArray(output.shape.count, seed: 4242)
        backward(r)
        let dx = Array(UnsafeBufferPointer(start: ctx.workspace.grad(input)!, count: input.shape.count))
        compare("input", x, dx, r, h, rtol, atol, samples, file, line)
        for e in store.parameters.entries {
            let g = Array(UnsafeBufferPointer(start: store.grads.base + e.offset, count: e.count))
            compare(e.key, store.values.base + e.offset, g, r, h, rtol, atol, samples, file, line)
        }
    }

    private func compare(_ what: String, _ p: UnsafeMutablePointer<Float>, _ analytic: [Float], _ r: [Float],
                         _ h: Float, _ rtol: Double, _ atol: Double, _ samples: Int,
                         _ file: StaticString, _ line: UInt) {
        let n = analytic.count
        let stride = max(1, n / samples)
        var scale = 0.0
        for v in analytic { scale = max(scale, abs(Double(v))) }
        for i in Swift.stride(from: 0, to: n, by: stride) {
            let old = p[i]
            p[i] = old + h; let fp = objective(r)
            p[i] = old - h; let fm = objective(r)
            p[i] = old
            let numeric = (fp - fm) / (2 * Double(h))
            let a = Double(analytic[i])
            if abs(numeric - a) > atol * max(1, scale) + rtol * abs(numeric) {
                XCTFail("\(what)[\(i)]: analytic \(a) vs numeric \(numeric)", file: file, line: line)
                return
            }
        }
    }
}
