// `Gemm.gemm` with C's rows split over the pool's threads: each thread one
// contiguous run of rows, one single-threaded product each.

extension Gemm {
    /// C[m×n] = op(A)·op(B) + beta·C, row-major, rows of C (and of op(A)) split over `pool`'s threads.
    public static func rows(pool: ThreadPool, transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                            beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        pool.parallelRanges(m, (transA, transB, n, k, a, lda, b, ldb, beta, c, ldc)) { g, r, _ in
            // op(A)'s row i is A's row i, or A's column i when A is transposed.
            let a0 = g.0 ? g.4 + r.lowerBound : g.4 + r.lowerBound * g.5
            gemm(transA: g.0, transB: g.1, m: r.count, n: g.2, k: g.3, a: a0, lda: g.5, b: g.6, ldb: g.7,
                 beta: g.8, c: g.9 + r.lowerBound * g.10, ldc: g.10)
        }
    }
}
