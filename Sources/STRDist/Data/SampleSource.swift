// What a loader needs from a data set: how many samples, and per loader
// thread a worker that writes sample i (augmented for training, from the
// randomness of (seed, epoch, i) alone) into one slot of a CNHW batch.

public protocol SampleSource: AnyObject {
    var count: Int { get }
    /// Output side in pixels (images are square).
    var size: Int { get }
    /// Channels per image (the model's stem reads this many).
    var channels: Int { get }
    func makeWorker() -> any SampleWorker
}

public protocol SampleWorker: AnyObject {
    /// Writes sample `index` as `channels` planes of size × size floats at `out + c · planeStride`; returns its label.
    func write(_ index: Int, train: Bool, epoch: Int, out: UnsafeMutablePointer<Float>, planeStride: Int) throws -> Int32
}

/// The per-sample random stream: the same draws whatever the batching, worker count or timing.
@inline(__always) func sampleRNG(seed: Int, epoch: Int, index: Int) -> RNG {
    RNG(seed: UInt64(bitPattern: Int64(seed)), stream: UInt64(epoch) << 32 | UInt64(index))
}

/// Fashion-MNIST (or another small in-memory grayscale set) as a sample source.
public final class SmallImageSamples: SampleSource, SampleWorker {
    public let batcher: SmallImageBatcher
    public let seed: Int

    public init(_ batcher: SmallImageBatcher, seed: Int) { self.batcher = batcher; self.seed = seed }

    public var count: Int { batcher.dataset.count }
    public var size: Int { batcher.size }
    public var channels: Int { batcher.channels }
    /// Stateless, so one object serves every thread.
    public func makeWorker() -> any SampleWorker { self }

    public func write(_ index: Int, train: Bool, epoch: Int, out: UnsafeMutablePointer<Float>, planeStride: Int) throws -> Int32 {
        batcher.write(index, train: train, seed: seed, epoch: epoch, out: out, planeStride: planeStride)
    }
}
