// Builds CNHW input batches from a small grayscale dataset: each image is
// centred on a size×size canvas (zero padding), replicated to 3 channels and
// normalised; training adds a random crop from a 4-pixel zero border and a
// horizontal flip (p 0.5). For a recurrent model (`sequences`) an image is
// one channel and never augmented: the sequential-MNIST protocol's rows. Sample i's draws in epoch e come from
// RNG(seed, stream(e, i)), so batches do not depend on batching or timing.

public struct SmallImageBatcher {
    public let dataset: ImageDataset
    public let size: Int
    public let mean: Float, std: Float
    public let channels: Int
    /// Whether training samples get the random crop and flip.
    public let augments: Bool
    public let padding = 4

    /// Fashion-MNIST's pixel mean and standard deviation (over the training set).
    /// - Parameter sequences: one channel, no augmentation (a recurrent model reads the rows).
    public init(dataset: ImageDataset, size: Int, mean: Float = 0.2860, std: Float = 0.3530, sequences: Bool = false) {
        precondition(size >= dataset.height && size >= dataset.width,
                     "image_size \(size) is smaller than the \(dataset.height)×\(dataset.width) images")
        self.dataset = dataset; self.size = size; self.mean = mean; self.std = std
        channels = sequences ? 1 : 3
        augments = !sequences
    }

    /// Writes samples `indices` into `input` (CNHW, batch = indices.count) and their labels.
    /// Slots past `indices.count` up to `batch` repeat the last sample (they are not counted).
    public func fill(_ input: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>, batch: Int,
                     indices: ArraySlice<Int>, train: Bool, seed: Int, epoch: Int) {
        for slot in 0..<batch {
            let i = indices[indices.startIndex + min(slot, indices.count - 1)]
            labels[slot] = write(i, train: train, seed: seed, epoch: epoch, out: input + slot * size * size,
                                 planeStride: batch * size * size)
        }
    }

    /// Writes sample `i` as `channels` planes at `out + c · planeStride`; returns its label.
    public func write(_ i: Int, train: Bool, seed: Int, epoch: Int, out: UnsafeMutablePointer<Float>, planeStride: Int) -> Int32 {
        var dy = 0, dx = 0, flip = false
        if train && augments {
            var rng = sampleRNG(seed: seed, epoch: epoch, index: i)
            dy = rng.below(2 * padding + 1) - padding
            dx = rng.below(2 * padding + 1) - padding
            flip = rng.below(2) == 1
        }
        render(i, into: out, shiftY: dy, shiftX: dx, flip: flip)
        for c in 1..<channels { (out + c * planeStride).update(from: out, count: size * size) }
        return dataset.labels[i]
    }

    /// out[y, x] = normalised pixel of the centred image at (y + dy, x + dx), flipped horizontally if asked.
    private func render(_ i: Int, into out: UnsafeMutablePointer<Float>, shiftY: Int, shiftX: Int, flip: Bool) {
        let h = dataset.height, w = dataset.width
        let top = (size - h) / 2, left = (size - w) / 2
        let background = -mean / std
        let base = i * h * w
        dataset.pixels.withUnsafeBufferPointer { px in
            for y in 0..<size {
                let sy = y + shiftY - top
                for x in 0..<size {
                    let cx = flip ? size - 1 - x : x
                    let sx = cx + shiftX - left
                    out[y * size + x] = sy >= 0 && sy < h && sx >= 0 && sx < w
                        ? (Float(px[base + sy * w + sx]) / 255 - mean) / std : background
                }
            }
        }
    }
}
