// The optimizer contract: one step over the whole parameter arena with the
// epoch's learning rate. Both optimizers keep their state in arenas with the
// parameter layout, so a checkpoint stores it under the parameter keys.

public protocol Optimizer: AnyObject {
    func step(values: FloatBuffer, grads: FloatBuffer, lr: Float, pool: ThreadPool)
    /// Steps taken so far.
    var steps: Int { get }
}

extension SGD: Optimizer {}
