// The sizes of one 2-D convolution and how its columns are cut into chunks.
// Columns are the output positions of the whole batch, N·OH·OW, in CNHW
// order; a chunk is a run of whole images, so chunks never share input or
// input-gradient memory and each thread can work on its own chunks.
// 3×3 stride-1 convs may instead run as Winograd F(4×4, 3×3) (see
// WinogradConv.swift) when the layer's plan says so (STRDist's ConvPlanner).

/// How convolutions are computed (`conv_algorithm`): `auto` picks per layer by a cost model —
/// Winograd F(4×4, 3×3) or im2col for a 3×3 stride-1 conv, and the sparse kernels for a sparse
/// kind's layer whose current density makes them cheaper; `im2col` always lowers to one dense GEMM
/// (the reference's sums); `winograd` runs every 3×3 stride-1 conv by Winograd and the rest dense;
/// `sparse` runs every conv but the depthwise ones on the sparse kernels.
public enum ConvAlgorithm: String, CaseIterable, Sendable, CustomStringConvertible {
    case auto, im2col, winograd, sparse
    public var description: String { rawValue }
}

public struct ConvGeometry: Equatable, Sendable {
    public var inChannels: Int, outChannels: Int
    public var kernelH: Int, kernelW: Int
    public var strideH: Int, strideW: Int
    public var padH: Int, padW: Int
    public var dilationH: Int, dilationW: Int
    public var groups: Int
    public var batch: Int, inH: Int, inW: Int
    /// Computed by Winograd F(4×4, 3×3) rather than im2col + GEMM (set from the layer's plan).
    public var winograd = false
    /// Operands in bf16, sums in fp32 (`precision: bf16`; im2col and pointwise plans only).
    public var bf16 = false
    /// The sparse kernels' products (forward, ∂X, the kept-only ∂Ŵ) with bf16 operands and fp32 sums
    /// (`precision: bf16`, any shape).
    public var sparseBF16 = false
    /// Whether a training step computes ∂X (not for a conv that reads the network's input).
    public var inputGradient = true

    public init(inChannels: Int, outChannels: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
                padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1,
                batch: Int, inH: Int, inW: Int) {
        precondition(groups >= 1 && inChannels % groups == 0 && outChannels % groups == 0,
                     "channels \(inChannels)→\(outChannels) are not divisible by groups \(groups)")
        self.inChannels = inChannels; self.outChannels = outChannels
        kernelH = kernel.0; kernelW = kernel.1
        strideH = stride.0; strideW = stride.1
        padH = padding.0; padW = padding.1
        dilationH = dilation.0; dilationW = dilation.1
        self.groups = groups
        self.batch = batch; self.inH = inH; self.inW = inW
        precondition(outH > 0 && outW > 0,
                     "convolution output is empty: input \(inH)×\(inW), kernel \(kernelH)×\(kernelW), padding \(padH)")
    }

    /// 3×3, stride 1, no dilation, one group: the shapes Winograd F(4×4, 3×3) computes.
    @inlinable public var winogradApplies: Bool {
        kernelH == 3 && kernelW == 3 && strideH == 1 && strideW == 1 && dilationH == 1 && dilationW == 1
            && groups == 1
    }

    @inlinable public var outH: Int { (inH + 2 * padH - dilationH * (kernelH - 1) - 1) / strideH + 1 }
    @inlinable public var outW: Int { (inW + 2 * padW - dilationW * (kernelW - 1) - 1) / strideW + 1 }
    @inlinable public var inPlane: Int { inH * inW }
    @inlinable public var outPlane: Int { outH * outW }
    /// Input channels per group.
    @inlinable public var groupIn: Int { inChannels / groups }
    /// Output channels per group.
    @inlinable public var groupOut: Int { outChannels / groups }
    /// Rows of the im2col matrix of one group: (C/g)·kh·kw.
    @inlinable public var colRows: Int { groupIn * kernelH * kernelW }
    /// All output positions of the batch: N·OH·OW.
    @inlinable public var columns: Int { batch * outPlane }
    @inlinable public var weightCount: Int { outChannels * colRows }
    /// 1×1, stride 1, no padding: the input already is the column matrix.
    @inlinable public var isPointwise: Bool {
        kernelH == 1 && kernelW == 1 && strideH == 1 && strideW == 1 && padH == 0 && padW == 0
    }
    /// Stride 1, no dilation, output the size of the input (3×3 with padding 1, …).
    @inlinable public var isSame: Bool {
        strideH == 1 && strideW == 1 && dilationH == 1 && dilationW == 1 && outH == inH && outW == inW
    }
    @inlinable public var isDepthwise: Bool { groups == inChannels && groups == outChannels && groups > 1 }
    /// Multiply-accumulates of the dense forward pass.
    public var macs: Int { columns * outChannels * colRows }

    /// Floats one chunk's column matrix should stay near (≈ 4 MiB: L2 + a share of L3).
    // unsafe: a tuning knob that tests and benchmarks set before any work starts; steps only read it.
    nonisolated(unsafe) public static var chunkBudget = 1 << 20

    /// Floats one piece's column matrix should stay near (512 KiB: half a Zen 4 core's L2, the other half
    /// for the product's panels): bf16 plans cut every conv into such pieces (no thinner than
    /// `minPieceColumns`, ConvKernels+BF16.swift), and the fp32 forward cuts an
    /// image whose columns outgrow a chunk into runs of output rows. On the 7×7 stem (ResNet50 b16, Zen 4,
    /// 2 threads) pieces of 512 KiB took the forward from 35.8–52 ms (whole images) to 30–33 ms.
    // unsafe: a tuning knob that tests and benchmarks set before any work starts; steps only read it.
    nonisolated(unsafe) public static var pieceBudget = 1 << 17

    /// Output rows per forward piece when one image's columns outgrow `chunkBudget` (im2col only), else nil.
    public var forwardRowsPerPiece: Int? {
        guard !isPointwise, !isDepthwise, !winograd, colRows * outPlane > ConvGeometry.chunkBudget else { return nil }
        return min(outH, outputRowsPerPiece)
    }

    /// Output rows whose im2col columns fit `pieceBudget` (at least one).
    var outputRowsPerPiece: Int { max(1, ConvGeometry.pieceBudget / max(1, colRows * outW)) }

    /// Images per chunk: as many as keep one chunk's columns near `chunkBudget` floats.
    public func imagesPerChunk() -> Int {
        max(1, min(batch, ConvGeometry.chunkBudget / max(1, colRows * outPlane)))
    }

    /// Floats of per-thread scratch: im2col's columns and their gradient, Winograd's tiles, or the
    /// depthwise phase planes.
    public var scratchPerThread: Int {
        if isDepthwise { return DepthwisePhases.applies(self) ? DepthwisePhases(self).scratchFloats : 0 }
        if winograd { return WinogradPlan(self).scratchPerThread }
        if bf16 { return isPointwise ? 0 : 2 * colRows * pieceColumns }
        return isPointwise || isDepthwise ? 0 : 2 * colRows * imagesPerChunk() * outPlane
    }

    /// Floats of scratch shared by `threads` threads: partial weight gradients
    /// (and Winograd's transformed weights).
    public func sharedScratch(threads: Int) -> Int {
        if winograd { return WinogradPlan(self).sharedScratch(threads: threads) }
        return isDepthwise ? 0 : (threads - 1) * weightCount
    }
}
