// A bf16 gradient handed from a BatchNorm to the conv before it. Under
// `precision: bf16` a conv on the sparse kernels rounds its output gradient ∂Y
// to bf16 as it reads it (both its products take bf16 operands). When a
// BatchNorm alone reads the conv's output, the norm's backward — the only
// writer of that gradient — rounds it as it writes it instead: half the bytes
// written and read, and the same bits the conv would have rounded to (autocast
// hands the conv a bf16 gradient there too). The pair agrees each step on
// whether it happens (Conv2d.takesBF16OutputGradient): a conv's plan can move
// between its dense and sparse kernels as its density changes, and only the
// sparse kernels' kept-only products read a bf16 ∂Y.

enum BF16GradientHandoff {
    /// Whether the handoff runs where planned (tests compare it with the fp32 gradient; both give the same bits).
    // unsafe: a switch tests set before any step runs; steps only read it.
    nonisolated(unsafe) static var enabled = true

    static func plan(_ planner: WorkspacePlanner) {
        for case let conv as Conv2d in planner.producers {
            conv.bf16GradientNorm = nil
            guard conv.geometry.sparseBF16, conv.compressed != nil, let out = conv.outputRef,
                  planner.readers(of: out).count == 1, let norm = planner.readers(of: out).first as? BatchNorm2d,
                  norm.fusedConv == nil else { continue }
            conv.bf16GradientNorm = norm
            norm.bf16GradientConv = conv
        }
    }
}
