// bf16 between a sparse conv and the BatchNorm that alone reads its output.
// Under `precision: bf16` the sparse kernels round what they read to bf16, and
// PyTorch's autocast keeps a conv's output, and the gradient handed back to
// it, in bf16. So the pair exchanges bf16, half the bytes each way:
//   forward   the conv writes its output rounded to bf16 (after its sums, as
//             autocast does), and the norm computes its statistics and
//             normalises from those values;
//   backward  the norm writes ∂ of the conv's output rounded to bf16 — the
//             same bits the conv's bf16 products would round it to — and the
//             conv reads it in place.
// The pair agrees each step on both (Conv2d.writesBF16Output,
// Conv2d.takesBF16OutputGradient): a conv's plan can move between its dense and
// sparse kernels as its density changes, only the sparse kernels write and read
// the bf16, and only their kept-only products read a bf16 ∂Y. A depthwise
// conv's norm (DepthwiseNormFusion) runs inside the conv and is left out.
//
// The other way round, a norm whose output (its own, not a residual join's)
// only a sparse-capable conv reads — on packed tiles or shifted planes, which
// copy a bf16 input where they would round an fp32 one — writes that output in
// bf16 when, this training step, the conv will read it on its bf16 kept-only
// products (Conv2d.readsBF16Input). The conv's plan for the step is chosen with
// its weight, so the norm has the conv prepare its weight ahead of its own
// forward (Conv2d.prepareAhead), and tells it what it wrote (Conv2d.inputInBF16).
// The same bits as before (the conv rounded that input anyway), half the bytes
// written and read, forward and backward (the weight gradient reads the input
// again). Training steps only: at inference the output stays fp32 (the conv
// before the norm often computes it in its own store: ConvEpilogue).

enum BF16Handoff {
    /// Whether the conv hands its output over in bf16 where planned (off: fp32, the values before rounding).
    // unsafe (both): switches tests set before any step runs; steps only read them.
    nonisolated(unsafe) static var outputs = true
    /// Whether the norm hands the gradient back in bf16 where planned (either way the same bits).
    nonisolated(unsafe) static var gradients = true
    /// Whether a norm hands its output to the conv after it in bf16 where planned (either way the same bits).
    nonisolated(unsafe) static var inputs = true

    static func plan(_ planner: WorkspacePlanner) {
        for case let conv as Conv2d in planner.producers {
            conv.bf16Norm = nil
            guard conv.geometry.sparseBF16, conv.compressed != nil, let out = conv.outputRef,
                  planner.readers(of: out).count == 1, let norm = planner.readers(of: out).first as? BatchNorm2d,
                  norm.fusedConv == nil else { continue }
            conv.bf16Norm = norm
            norm.bf16Conv = conv
        }
        for case let norm as BatchNorm2d in planner.producers {
            norm.bf16Reader = nil
            guard norm.join == nil, norm.fusedConv == nil, planner.readers(of: norm.outputRef).count == 1,
                  let conv = planner.readers(of: norm.outputRef).first as? Conv2d, conv.geometry.sparseBF16,
                  conv.compressed != nil, let layout = conv.sparseLayout, layout != .columns,
                  conv.transform.gradientRule == .keptOnly else { continue }
            norm.bf16Reader = conv
            conv.bf16Input = norm
        }
    }
}
