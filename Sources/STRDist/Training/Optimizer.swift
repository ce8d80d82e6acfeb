// The optimizer contract: one step over the whole parameter arena with the
// epoch's learning rate. Both optimizers keep their state in arenas with the
// parameter layout, so a checkpoint stores it under the parameter keys.

public protocol Optimizer: AnyObject {
    func step(values: FloatBuffer, grads: FloatBuffer, lr: Float, pool: ThreadPool)
    /// Steps taken so far (restored with the state on resume).
    var steps: Int { get set }
    /// The state arenas, each laid out like the parameters, with the name a checkpoint
    /// stores them under (PyTorch's: `momentum_buffer`, `exp_avg`, `exp_avg_sq`).
    var stateBuffers: [(name: String, buffer: FloatBuffer)] { get }
}

extension SGD: Optimizer {
    public var stateBuffers: [(name: String, buffer: FloatBuffer)] { [("momentum_buffer", momentumBuffer)] }
}
