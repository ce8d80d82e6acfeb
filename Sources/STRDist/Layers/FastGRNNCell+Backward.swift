// Backpropagation through time for the FastGRNN cell: the steps run
// backward (batch rows split over the threads), each turning ∂L/∂h_t into
// ∂L/∂pre_t and passing ∂L/∂h_{t−1} = z⊙∂L/∂h_t + ∂L/∂pre_t·Uᵀ on; then each
// weight's gradient is one GEMM over every step and sample (time-major rows:
// h_0…h_{T−1} against ∂pre), and the biases' and scalars' gradients are the
// threads' partial sums added in a fixed order.

extension FastGRNNCell {
    public func backward(_ ctx: StepContext) {
        let start = ctx.profileStart()
        let n = batch, h = hidden, rows = steps * batch, stride = 2 * hidden + 2
        let w0 = w[0].current(ctx), w1 = w.count > 1 ? w[1].current(ctx) : w0
        let u0 = u[0].current(ctx), u1 = u.count > 1 ? u[1].current(ctx) : u0
        // ∂L/∂h_T, batch-major, from the [hidden, N] output gradient.
        let dy = ctx.workspace.grad(output)!, g = ctx.region(dh)
        for i in 0..<n { for j in 0..<h { g[i * h + j] = dy[j * n + i] } }
        ctx.region(partials).update(repeating: 0, count: threads * stride)
        let (zt, nt) = scalars(ctx)
        let args = (cell: self, ctx: ctx, u0: u0, u1: u1, zeta: zt, nu: nt)
        for t in (0..<steps).reversed() {
            ctx.pool.parallelRanges(n, (args, t)) { a, range, thread in a.0.cell.backwardStep(a.1, rows: range, thread: thread, a.0) }
        }

        let pool = ctx.pool, x = ctx.region(xs), states = UnsafePointer(ctx.region(hs)), dp = UnsafePointer(ctx.region(dPre))
        if let r = uRank {
            // pre = (h·U1)·U2: ∂U2 = (h·U1)ᵀ·∂pre, ∂U1 = hᵀ·∂(h·U1).
            Gemm.rows(pool: pool, transA: true, m: r, n: h, k: rows, a: ctx.region(ps), lda: r, b: dp, ldb: h,
                      beta: 0, c: ctx.grad(u[1].weight), ldc: h)
            Gemm.rows(pool: pool, transA: true, m: h, n: r, k: rows, a: states, lda: h, b: ctx.region(dps), ldb: r,
                      beta: 0, c: ctx.grad(u[0].weight), ldc: r)
        } else {
            Gemm.rows(pool: pool, transA: true, m: h, n: h, k: rows, a: states, lda: h, b: dp, ldb: h,
                      beta: 0, c: ctx.grad(u[0].weight), ldc: h)
        }
        let inputGradient = ctx.workspace.grad(input) != nil
        if let r = wRank {
            // pre = (x·W1)·W2: ∂W2 = (x·W1)ᵀ·∂pre, ∂(x·W1) = ∂pre·W2ᵀ, ∂W1 = xᵀ·∂(x·W1), ∂x = ∂(x·W1)·W1ᵀ.
            let dq = ctx.region(dqs)
            Gemm.rows(pool: pool, transA: true, m: r, n: h, k: rows, a: ctx.region(qs), lda: r, b: dp, ldb: h,
                      beta: 0, c: ctx.grad(w[1].weight), ldc: h)
            Gemm.rows(pool: pool, transB: true, m: rows, n: r, k: h, a: dp, lda: h, b: w1, ldb: h, beta: 0, c: dq, ldc: r)
            Gemm.rows(pool: pool, transA: true, m: inputSize, n: r, k: rows, a: x, lda: inputSize, b: dq, ldb: r,
                      beta: 0, c: ctx.grad(w[0].weight), ldc: r)
            if inputGradient {
                Gemm.rows(pool: pool, transB: true, m: rows, n: inputSize, k: r, a: dq, lda: r, b: w0, ldb: r, beta: 0, c: x, ldc: inputSize)
            }
        } else {
            Gemm.rows(pool: pool, transA: true, m: inputSize, n: h, k: rows, a: x, lda: inputSize, b: dp, ldb: h,
                      beta: 0, c: ctx.grad(w[0].weight), ldc: h)
            if inputGradient {
                Gemm.rows(pool: pool, transB: true, m: rows, n: inputSize, k: h, a: dp, lda: h, b: w0, ldb: h, beta: 0, c: x, ldc: inputSize)
            }
        }
        if inputGradient { scatterInputGradient(ctx) }

        // The small gradients: the threads' partial sums in thread order.
        let part = ctx.region(partials), dbg = ctx.grad(biasGate), dbu = ctx.grad(biasUpdate)
        var dz: Float = 0, dn: Float = 0
        for j in 0..<h { dbg[j] = 0; dbu[j] = 0 }
        for t in 0..<threads {
            let p = part + t * stride
            for j in 0..<h { dbg[j] += p[j]; dbu[j] += p[h + j] }
            dz += p[2 * h]; dn += p[2 * h + 1]
        }
        ctx.grad(zeta).pointee = dz * zt * (1 - zt)
        ctx.grad(nu).pointee = dn * nt * (1 - nt)
        for m in w { m.finishBackward(ctx) }
        for m in u { m.finishBackward(ctx) }
        if let sync = ctx.collectives {
            sync.gradientReady(biasGate); sync.gradientReady(biasUpdate)
            sync.gradientReady(zeta); sync.gradientReady(nu)
        }
        ctx.profiled(profileKey, backward: true, since: start, floats: rows * (inputSize + 6 * h))
    }

    /// Step t backward for the batch rows `range`: ∂pre_t, the small gradients' partial sums of `thread`,
    /// and ∂L/∂h_{t−1} in place of ∂L/∂h_t.
    private func backwardStep(_ t: Int, rows range: Range<Int>, thread: Int, _ a: StepArgs) {
        let ctx = a.ctx, n = batch, h = hidden, lo = range.lowerBound, m = range.count
        let at = (t * n + lo) * h
        let g = ctx.region(dh) + lo * h, dp = ctx.region(dPre) + at
        let part = ctx.region(partials) + thread * (2 * h + 2)
        var sums = FastGRNNKernels.Sums(biasGate: part, biasUpdate: part + h)
        FastGRNNKernels.backward(dh: g, z: ctx.region(zs) + at, c: ctx.region(cs) + at, hPrev: ctx.region(hs) + at,
                                 zeta: a.zeta, nu: a.nu, dPre: dp, sums: &sums, rows: m, hidden: h)
        part[2 * h] += Float(sums.zeta); part[2 * h + 1] += Float(sums.nu)
        if let r = uRank {
            let dpu = ctx.region(dps) + (t * n + lo) * r
            Gemm.gemm(transA: false, transB: true, m: m, n: r, k: h, a: dp, lda: h, b: a.u1, ldb: h, beta: 0, c: dpu, ldc: r)
            Gemm.gemm(transA: false, transB: true, m: m, n: h, k: r, a: dpu, lda: r, b: a.u0, ldb: r, beta: 1, c: g, ldc: h)
        } else {
            Gemm.gemm(transA: false, transB: true, m: m, n: h, k: h, a: dp, lda: h, b: a.u0, ldb: h, beta: 1, c: g, ldc: h)
        }
    }

    /// Time-major ∂x rows (in `xs`) back to the CNHW input's gradient.
    private func scatterInputGradient(_ ctx: StepContext) {
        let s = input.shape, dx = ctx.workspace.grad(input)!, xt = ctx.region(xs)
        let accumulate = ctx.workspace.accumulates(inputGrad)
        for c in 0..<s.channels {
            for i in 0..<s.batch {
                for t in 0..<steps {
                    let src = xt + (t * s.batch + i) * inputSize + c * s.width, dst = dx + ((c * s.batch + i) * steps + t) * s.width
                    if accumulate { for j in 0..<s.width { dst[j] += src[j] } } else { dst.update(from: src, count: s.width) }
                }
            }
        }
    }
}
