// What a conv computes in its store besides the product. At inference on the
// sparse kernels a conv applies the BatchNorm that alone reads its output
// (folded from the running statistics), that norm's ReLU, or — when the norm
// has no ReLU and a residual join alone reads it — relu(norm + shortcut); the
// norm and the join then skip their own passes. Planned once, after the whole
// network is planned, by ConvPlanner.planEpilogues from the dataflow the
// planner recorded (who writes and who reads each activation).

/// The inference epilogue of a conv on the sparse kernels.
struct ConvEpilogue {
    /// The BatchNorm folded in: per output channel a scale and a shift.
    let norm: BatchNorm2d
    /// The residual join computed in the store (it adds the shortcut and applies the ReLU).
    let join: AddReLU?

    /// Whether the store applies a ReLU: the norm's own, or the join's.
    var relu: Bool { join != nil || norm.fuseReLU }
    /// The activation the store writes: the join's output, or the norm's.
    var output: ActRef { join?.outputRef ?? norm.outputRef }
}

extension ConvPlanner {
    /// Gives each conv that can run sparse its inference epilogue. A conv whose output only a BatchNorm
    /// reads folds that norm; when the norm has no ReLU and only a residual join reads its output, as
    /// the join's main operand, the conv computes the join too (the block computes the shortcut first).
    static func planEpilogues(_ planner: WorkspacePlanner) {
        for case let conv as Conv2d in planner.producers {
            conv.epilogue = nil
            guard conv.canFold, let out = conv.outputRef, planner.readers(of: out).count == 1,
                  let norm = planner.readers(of: out).first as? BatchNorm2d else { continue }
            let join = ResidualFusion.join(after: norm, planner)
            conv.epilogue = ConvEpilogue(norm: norm, join: join)
            norm.foldingConv = conv
            join?.foldingConv = conv
        }
    }
}
