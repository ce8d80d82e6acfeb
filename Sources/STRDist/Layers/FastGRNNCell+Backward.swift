// Backpropagation through time for the FastGRNN cell, a group per thread:
// the group's steps run backward, each turning ∂L/∂h_t into ∂L/∂pre_t and
// passing ∂L/∂h_{t−1} = z⊙∂L/∂h_t + ∂L/∂pre_t·Uᵀ on; then the group's weight
// gradients are one GEMM each over its steps and samples (h_0…h_{T−1}
// against ∂pre), written to the matrices' leaves, and its bias and scalar
// gradients are its own sums. The groups' tree adds them all.

extension FastGRNNCell {
    public func backward(_ ctx: StepContext) {
        let start = ctx.profileStart()
        let n = batch, h = hidden
        let w0 = w[0].current(ctx), w1 = w.count > 1 ? w[1].current(ctx) : w0
        let u0 = u[0].current(ctx), u1 = u.count > 1 ? u[1].current(ctx) : u0
        // ∂L/∂h_T of every group, from the [hidden, N] output gradient.
        let dy = ctx.workspace.grad(output)!, dhAll = ctx.region(dh)
        for i in 0..<n {
            let (g, j) = groups.group(ofSample: i), to = dhAll + (g * groups.size + j) * h
            for o in 0..<h { to[o] = dy[o * n + i] }
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

    /// Group g backward: its steps from the last, then its weight-gradient leaves and ∂x rows (in `xs`).
    private func backwardGroup(_ g: Int, _ a: StepArgs) {
        let ctx = a.ctx, h = hidden, b = groups.size, rows = steps * b, base = rowBase(g)
        let sums = ctx.region(leaves) + g * leafStride
        sums.update(repeating: 0, count: leafStride)
        let dhG = ctx.region(dh) + g * b * h, states = UnsafePointer(ctx.region(hs) + stateBase(g) * h)
        let dp = ctx.region(dPre) + base * h
        for t in (0..<steps).reversed() {
            let at = (base + t * b) * h, dpT = dp + t * b * h
            var s = FastGRNNKernels.Sums(biasGate: sums, biasUpdate: sums + h)
            FastGRNNKernels.backward(dh: dhG, z: ctx.region(zs) + at, c: ctx.region(cs) + at, hPrev: states + t * b * h,
                                     zeta: a.zeta, nu: a.nu, dPre: dpT, sums: &s, rows: b, hidden: h)
            sums[2 * h] += Float(s.zeta); sums[2 * h + 1] += Float(s.nu)
            if let r = uRank {
                let dpu = ctx.region(dps) + (base + t * b) * r
                Gemm.gemm(transA: false, transB: true, m: b, n: r, k: h, a: dpT, lda: h, b: a.u1, ldb: h, beta: 0, c: dpu, ldc: r)
                Gemm.gemm(transA: false, transB: true, m: b, n: h, k: r, a: dpu, lda: r, b: a.u0, ldb: r, beta: 1, c: dhG, ldc: h)
            } else {
                Gemm.gemm(transA: false, transB: true, m: b, n: h, k: h, a: dpT, lda: h, b: a.u0, ldb: h, beta: 1, c: dhG, ldc: h)
            }
        }

        // Weight-gradient leaves over the group's steps and samples: h_0…h_{T−1} (the first `rows` state rows) against ∂pre.
        if let r = uRank {
            // pre = (h·U1)·U2: ∂U2 = (h·U1)ᵀ·∂pre, ∂U1 = hᵀ·∂(h·U1).
            Gemm.gemm(transA: true, transB: false, m: r, n: h, k: rows, a: ctx.region(ps) + base * r, lda: r, b: dp, ldb: h,
                      beta: 0, c: u[1].leaf(ctx, group: g), ldc: h)
            Gemm.gemm(transA: true, transB: false, m: h, n: r, k: rows, a: states, lda: h, b: ctx.region(dps) + base * r, ldb: r,
                      beta: 0, c: u[0].leaf(ctx, group: g), ldc: r)
        } else {
            Gemm.gemm(transA: true, transB: false, m: h, n: h, k: rows, a: states, lda: h, b: dp, ldb: h,
                      beta: 0, c: u[0].leaf(ctx, group: g), ldc: h)
        }
        let x = ctx.region(xs) + base * inputSize, inputGradient = ctx.workspace.grad(input) != nil
        if let r = wRank {
            // pre = (x·W1)·W2: ∂W2 = (x·W1)ᵀ·∂pre, ∂(x·W1) = ∂pre·W2ᵀ, ∂W1 = xᵀ·∂(x·W1), ∂x = ∂(x·W1)·W1ᵀ.
            let dq = ctx.region(dqs) + base * r
            Gemm.gemm(transA: true, transB: false, m: r, n: h, k: rows, a: ctx.region(qs) + base * r, lda: r, b: dp, ldb: h,
                      beta: 0, c: w[1].leaf(ctx, group: g), ldc: h)
            Gemm.gemm(transA: false, transB: true, m: rows, n: r, k: h, a: dp, lda: h, b: a.w1, ldb: h, beta: 0, c: dq, ldc: r)
            Gemm.gemm(transA: true, transB: false, m: inputSize, n: r, k: rows, a: x, lda: inputSize, b: dq, ldb: r,
                      beta: 0, c: w[0].leaf(ctx, group: g), ldc: r)
            if inputGradient {
                Gemm.gemm(transA: false, transB: true, m: rows, n: inputSize, k: r, a: dq, lda: r, b: a.w0, ldb: r, beta: 0, c: x, ldc: inputSize)
            }
        } else {
            Gemm.gemm(transA: true, transB: false, m: inputSize, n: h, k: rows, a: x, lda: inputSize, b: dp, ldb: h,
                      beta: 0, c: w[0].leaf(ctx, group: g), ldc: h)
            if inputGradient {
                Gemm.gemm(transA: false, transB: true, m: rows, n: inputSize, k: h, a: dp, lda: h, b: a.w0, ldb: h, beta: 0, c: x, ldc: inputSize)
            }
        }
    }

    /// Group-major ∂x rows (in `xs`) back to the CNHW input's gradient.
    private func scatterInputGradient(_ ctx: StepContext) {
        let s = input.shape, dx = ctx.workspace.grad(input)!, xt = ctx.region(xs)
        let accumulate = ctx.workspace.accumulates(inputGrad)
        for c in 0..<s.channels {
            for i in 0..<s.batch {
                for t in 0..<steps {
                    let src = xt + row(sample: i, step: t) * inputSize + c * s.width, dst = dx + ((c * s.batch + i) * steps + t) * s.width
                    if accumulate { for j in 0..<s.width { dst[j] += src[j] } } else { dst.update(from: src, count: s.width) }
                }
            }
        }
    }
}
