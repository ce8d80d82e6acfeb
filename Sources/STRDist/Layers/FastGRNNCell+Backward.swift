// Backpropagation through time for the FastGRNN cell, a group per thread:
// the group's steps run backward, each turning ∂L/∂h_t into ∂L/∂pre_t and
// passing ∂L/∂h_{t−1} = z⊙∂L/∂h_t + U·∂L/∂pre_t on (U's transposed
// `multiply`, sparse when the plan says so); then the group's weight
// gradients are one GEMM each over its steps and samples (h_0…h_{T−1}
// against ∂pre, feature-major), written to the matrices' leaves, and its
// bias and scalar gradients are its own sums. The groups' tree adds them all.

extension FastGRNNCell {
    public func backward(_ ctx: StepContext) {
        let start = ctx.profileStart()
        let n = batch, h = hidden
        let w0 = w[0].current(ctx), w1 = w.count > 1 ? w[1].current(ctx) : w0
        let u0 = u[0].current(ctx), u1 = u.count > 1 ? u[1].current(ctx) : u0
        // ∂L/∂h_T of every group, from the [hidden, N] output gradient.
        let dy = ctx.workspace.grad(output)!, dhAll = ctx.region(dh), b = groups.size
        for i in 0..<n {
            let (g, j) = groups.group(ofSample: i), to = dhAll + g * h * b + j
            for o in 0..<h { to[o * b] = dy[o * n + i] }
        }
        let (zt, nt) = scalars(ctx)
        let args = (cell: self, ctx: ctx, w0: w0, w1: w1, u0: u0, u1: u1, zeta: zt, nu: nt)
        ctx.pool.parallelRanges(groups.local, args) { a, range, _ in for g in range { a.cell.backwardGroup(g, a) } }
        if ctx.workspace.grad(input) != nil { scatterInputGradient(ctx) }

        // The small gradients: the groups' sums by the tree, ζ's and ν's through the sigmoid first (per
        // group: a·k + b·k is not (a + b)·k in floating point, and a rank only sees its own groups).
        let all = ctx.region(leaves), stride = leafStride
        for g in 0..<groups.local {
            all[g * stride + 2 * h] *= zt * (1 - zt)
            all[g * stride + 2 * h + 1] *= nt * (1 - nt)
        }
        groups.sum(all, stride: stride, count: stride, into: all)
        ctx.grad(biasGate).update(from: all, count: h)
        ctx.grad(biasUpdate).update(from: all + h, count: h)
        ctx.grad(zeta).pointee = all[2 * h]
        ctx.grad(nu).pointee = all[2 * h + 1]
        for m in w { m.finishBackward(ctx) }
        for m in u { m.finishBackward(ctx) }
        if let sync = ctx.collectives {
            sync.gradientReady(biasGate); sync.gradientReady(biasUpdate)
            sync.gradientReady(zeta); sync.gradientReady(nu)
        }
        ctx.profiled(profileKey, backward: true, since: start, floats: steps * n * (inputSize + 6 * h))
    }

    /// Group g backward: its steps from the last, then its weight-gradient leaves and ∂x (in `xs`).
    private func backwardGroup(_ g: Int, _ a: StepArgs) {
        let ctx = a.ctx, h = hidden, b = groups.size, tb = stepColumns, sb = stateColumns
        let laneCount = FastGRNNKernels.laneCount(hidden: h), sums = ctx.region(lanes) + g * laneCount
        sums.update(repeating: 0, count: laneCount)
        let dhG = ctx.region(dh) + g * h * b, hs = UnsafePointer(states(ctx, group: g))
        let dp = block(dPre, ctx, group: g, rows: h), z = UnsafePointer(block(zs, ctx, group: g, rows: h))
        let c = UnsafePointer(block(cs, ctx, group: g, rows: h))
        for t in (0..<steps).reversed() {
            let dpT = dp + t * b
            FastGRNNKernels.backward(dh: dhG, lddh: b, z: z + t * b, c: c + t * b, ldz: tb, hPrev: hs + t * b, ldh: sb,
                                     zeta: a.zeta, nu: a.nu, dPre: dpT, lanes: sums, hidden: h, width: b)
            if let r = uRank {
                // ∂(U1ᵀh) = U2·∂pre, then ∂h += U1·∂(U1ᵀh).
                let dpu = block(dps, ctx, group: g, rows: r) + t * b
                Gemm.gemm(transA: false, transB: false, m: r, n: b, k: h, a: a.u1, lda: h, b: dpT, ldb: tb, beta: 0, c: dpu, ldc: tb)
                Gemm.gemm(transA: false, transB: false, m: h, n: b, k: r, a: a.u0, lda: r, b: dpu, ldb: tb, beta: 1, c: dhG, ldc: b)
            } else {
                u[0].multiplyTransposed(ctx, dpT, ldy: tb, into: dhG, ldx: b, width: b, accumulate: true)
            }
        }

        FastGRNNKernels.reduce(lanes: sums, hidden: h, into: ctx.region(leaves) + g * leafStride)

        // Weight-gradient leaves over the group's steps and samples: h_0…h_{T−1} (each state row's first
        // T·size columns) against ∂pre.
        if let r = uRank {
            // pre = U2ᵀ·(U1ᵀ·h): ∂U2 = (U1ᵀh)·∂preᵀ, ∂U1 = h·∂(U1ᵀh)ᵀ.
            Gemm.gemm(transA: false, transB: true, m: r, n: h, k: tb, a: block(ps, ctx, group: g, rows: r), lda: tb, b: dp, ldb: tb,
                      beta: 0, c: u[1].leaf(ctx, group: g), ldc: h)
            Gemm.gemm(transA: false, transB: true, m: h, n: r, k: tb, a: hs, lda: sb, b: block(dps, ctx, group: g, rows: r), ldb: tb,
                      beta: 0, c: u[0].leaf(ctx, group: g), ldc: r)
        } else {
            Gemm.gemm(transA: false, transB: true, m: h, n: h, k: tb, a: hs, lda: sb, b: dp, ldb: tb,
                      beta: 0, c: u[0].leaf(ctx, group: g), ldc: h)
        }
        let x = block(xs, ctx, group: g, rows: inputSize), inputGradient = ctx.workspace.grad(input) != nil
        if let r = wRank {
            // pre = W2ᵀ·(W1ᵀ·x): ∂W2 = (W1ᵀx)·∂preᵀ, ∂(W1ᵀx) = W2·∂pre, ∂W1 = x·∂(W1ᵀx)ᵀ, ∂x = W1·∂(W1ᵀx).
            let dq = block(dqs, ctx, group: g, rows: r)
            Gemm.gemm(transA: false, transB: true, m: r, n: h, k: tb, a: block(qs, ctx, group: g, rows: r), lda: tb, b: dp, ldb: tb,
                      beta: 0, c: w[1].leaf(ctx, group: g), ldc: h)
            Gemm.gemm(transA: false, transB: false, m: r, n: tb, k: h, a: a.w1, lda: h, b: dp, ldb: tb, beta: 0, c: dq, ldc: tb)
            Gemm.gemm(transA: false, transB: true, m: inputSize, n: r, k: tb, a: x, lda: tb, b: dq, ldb: tb,
                      beta: 0, c: w[0].leaf(ctx, group: g), ldc: r)
            if inputGradient {
                Gemm.gemm(transA: false, transB: false, m: inputSize, n: tb, k: r, a: a.w0, lda: r, b: dq, ldb: tb, beta: 0, c: x, ldc: tb)
            }
        } else {
            Gemm.gemm(transA: false, transB: true, m: inputSize, n: h, k: tb, a: x, lda: tb, b: dp, ldb: tb,
                      beta: 0, c: w[0].leaf(ctx, group: g), ldc: h)
            if inputGradient {
                Gemm.gemm(transA: false, transB: false, m: inputSize, n: tb, k: h, a: a.w0, lda: h, b: dp, ldb: tb, beta: 0, c: x, ldc: tb)
            }
        }
    }

    /// Feature-major ∂x (in `xs`) back to the CNHW input's gradient.
    private func scatterInputGradient(_ ctx: StepContext) {
        let s = input.shape, dx = ctx.workspace.grad(input)!, xt = UnsafePointer(ctx.region(xs)), tb = stepColumns
        let accumulate = ctx.workspace.accumulates(inputGrad)
        for c in 0..<s.channels {
            for i in 0..<s.batch {
                for t in 0..<steps {
                    let from = xt + inputColumn(sample: i, step: t) + c * s.width * tb, to = dx + ((c * s.batch + i) * steps + t) * s.width
                    for k in 0..<s.width { to[k] = accumulate ? to[k] + from[k * tb] : from[k * tb] }
                }
            }
        }
    }
}
