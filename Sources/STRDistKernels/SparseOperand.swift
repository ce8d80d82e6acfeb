// What the sparse conv kernels take: how they address the dense operand
// (SparseLayout, SparseAddressing) and the compressed weight as pointers
// (SparseOperand; the engine's CompressedWeight builds it in planned memory).

import CSparse

/// How the sparse kernels address the dense operand of a compressed weight.
public enum SparseLayout: Int, CaseIterable, Sendable {
    /// 1×1 stride-1: the input itself is the dense operand.
    case pointwise
    /// Stride-1 or -2 k×k on padded planes (stride 2: their phase planes), one shifted view per kernel tap
    /// (no im2col).
    case shifted
    /// Any other shape: im2col columns, chunk by chunk.
    case columns
}

/// How a compressed weight's entries address the dense operand.
public enum SparseAddressing: Sendable {
    /// im2col columns: forward entry (o, k) reads row k; the transpose's row k reads ∂Y row o.
    case columns
    /// Shifted padded planes (direct convolution): at stride 1, forward entry (o, c, a, b) reads
    /// x + c·planes + a·rowLength + b, and the transpose's row c reads ∂Y at o·gradRows + margin − (a·rowLength + b).
    /// At stride s each channel has s² phase planes (ShiftedPlanes): the entry reads phase plane
    /// c·s² + (a mod s)·s + b mod s at (a / s)·rowLength + b / s, and that plane is the transpose's row.
    case shifted(channels: Int, kernel: Int, stride: Int, rowLength: Int, planes: Int, gradRows: Int, margin: Int)
}

/// A compressed weight as the sparse kernels read it.
public struct SparseOperand {
    /// The forward operand (rows: output channels).
    public var matrix: sp_matrix
    /// The transposed operand, for the input gradient (training only; empty otherwise).
    public var transposed: sp_matrix
    /// Each forward entry's dense position o·K + k.
    public var entryIndex: UnsafeMutablePointer<Int32>
    /// Entries now, and the most the planned memory holds.
    public var count: Int, capacity: Int

    public init(matrix: sp_matrix, transposed: sp_matrix, entryIndex: UnsafeMutablePointer<Int32>, count: Int, capacity: Int) {
        self.matrix = matrix; self.transposed = transposed; self.entryIndex = entryIndex; self.count = count
        self.capacity = capacity
    }
}
