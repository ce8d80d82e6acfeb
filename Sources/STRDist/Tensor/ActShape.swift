// Activation shapes. Activations are stored channel-major, [C, N, H, W]
// ("CNHW"): one channel of the whole per-rank batch is contiguous. This makes
// a convolution over the batch one GEMM ([O, C·k·k] × [C·k·k, N·H·W] lands
// directly in [O, N·H·W]), a 1×1 stride-1 conv a GEMM with no copy, and a
// BatchNorm channel one contiguous run. Each (c, n) plane is still H×W
// row-major, as in NCHW. Weights stay OIHW, PyTorch's layout.

/// The shape of a CNHW activation tensor.
public struct ActShape: Equatable, CustomStringConvertible, Sendable {
    public var channels: Int
    public var batch: Int
    public var height: Int
    public var width: Int

    public init(channels: Int, batch: Int, height: Int, width: Int) {
        precondition(channels > 0 && batch > 0 && height > 0 && width > 0,
                     "activation dimensions must be positive, got C\(channels) N\(batch) H\(height) W\(width)")
        self.channels = channels
        self.batch = batch
        self.height = height
        self.width = width
    }

    /// Elements in one H×W plane.
    @inlinable public var plane: Int { height * width }
    /// Elements of one channel over the batch: N·H·W.
    @inlinable public var perChannel: Int { batch * height * width }
    @inlinable public var count: Int { channels * batch * height * width }

    public var description: String { "[C\(channels) N\(batch) H\(height) W\(width)]" }
}

/// Converts between PyTorch's NCHW and the engine's CNHW layout.
public enum Layout {
    /// `dst` is CNHW, `src` is NCHW, both `shape.count` elements.
    public static func nchwToCNHW(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ shape: ActShape) {
        let plane = shape.plane
        for n in 0..<shape.batch {
            for c in 0..<shape.channels {
                (dst + (c * shape.batch + n) * plane).update(from: src + (n * shape.channels + c) * plane, count: plane)
            }
        }
    }

    /// `dst` is NCHW, `src` is CNHW.
    public static func cnhwToNCHW(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ shape: ActShape) {
        let plane = shape.plane
        for n in 0..<shape.batch {
            for c in 0..<shape.channels {
                (dst + (n * shape.channels + c) * plane).update(from: src + (c * shape.batch + n) * plane, count: plane)
            }
        }
    }
}
