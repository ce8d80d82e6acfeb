// The GEMM seam: every matrix product in the engine goes through `gemm`
// (row-major, OpenBLAS's cblas_sgemm, always single-threaded: the engine's
// pool splits the work so that im2col and the product of one chunk run on
// one core, in cache). `naiveGemm` is the reference the tests compare with.

import CBLAS

public enum Gemm {
    /// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, row-major.
    @inline(__always)
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                            alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        let tail = transA || transB || !smallKernelsAllocate ? 0 : allocatingTail(m: m, n: n, k: k)
        if tail == 0 {
            cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
            return
        }
        // Column blocks whose widths end 9…15 past a multiple of 16 take OpenBLAS's masked path, which
        // allocates nothing: 9 + (n − 9), or 9 + 9 + (n − 18) when n ends 1 past one.
        let widths = nonAllocatingWidths(n)
        var n0 = 0
        for part in 0..<3 {
            let w = part == 0 ? widths.0 : part == 1 ? widths.1 : widths.2
            if w == 0 { continue }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(w), Int32(k), alpha, a, Int32(lda),
                        b + n0, Int32(ldb), beta, c + n0, Int32(ldc))
            n0 += w
        }
        // Too narrow to split (n ≤ 8, or 17): the last columns are computed here.
        if n0 < n { narrowColumns(m: m, n0: n0, n1: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc) }
    }

    /// Whether the core OpenBLAS loaded has the AVX-512 small-matrix kernels (SkylakeX's, which
    /// Cooperlake and Sapphire Rapids share) that malloc; the other cores' products go through whole.
    static let smallKernelsAllocate = ["skylakex", "cooperlake", "sapphirerapids"].contains(BLASInfo.coreName.lowercased())

    /// How many of C's last columns OpenBLAS must not get in one block: its AVX-512 small-matrix kernel
    /// for a plain product (0.3.21 and later, taken when M·N·K ≤ 100³) mallocs a scratch copy of A
    /// whenever the columns past a multiple of 16 number 1 to 8 and K ≥ 32 (row-major N is its
    /// column-major M). A step must not touch the heap, so such a product is cut into blocks that do not.
    @inline(__always)
    static func allocatingTail(m: Int, n: Int, k: Int) -> Int {
        let tail = n % 16
        return tail >= 1 && tail <= 8 && k >= 32 && Double(m) * Double(n) * Double(k) <= 1e6 ? tail : 0
    }

    /// Up to three widths that each end 9…15 past a multiple of 16 and sum to `n` (which ends 1…8 past
    /// one); when `n` is too narrow for that, its columns up to the multiple of 16 (the rest is ours).
    static func nonAllocatingWidths(_ n: Int) -> (Int, Int, Int) {
        let tail = n % 16
        if tail >= 2 && n >= 18 { return (9, n - 9, 0) }       // n − 9 ends tail + 7, in 9…15
        if tail == 1 && n >= 33 { return (9, 9, n - 18) }     // n − 18 ends 15
        return (n - tail, 0, 0)
    }

    /// C[:, n0..<n1] = alpha · A · B[:, n0..<n1] + beta · C[:, n0..<n1] for at most 8 columns, summed
    /// over k in order: four rows of C at a time, each in eight lanes, sharing each row of B's columns.
    static func narrowColumns(m: Int, n0: Int, n1: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                              b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let w = n1 - n0
        precondition(w > 0 && w <= 8, "narrowColumns takes 1 to 8 columns, got \(w)")
        // Eight floats from B's row p at n0 in one load while they lie inside B (lanes past the w columns
        // are read, never stored); lane by lane where they would not.
        let end = (k - 1) * ldb + n1
        @inline(__always) func columns(_ p: Int) -> SIMD8<Float> {
            let bp = b + p * ldb + n0
            if p * ldb + n0 + 8 <= end { return UnsafeRawPointer(bp).loadUnaligned(as: SIMD8<Float>.self) }
            var v = SIMD8<Float>(repeating: 0)
            for j in 0..<w { v[j] = bp[j] }
            return v
        }
        @inline(__always) func store(_ acc: SIMD8<Float>, row i: Int) {
            let cp = c + i * ldc + n0
            for j in 0..<w { cp[j] = beta == 0 ? alpha * acc[j] : alpha * acc[j] + beta * cp[j] }
        }
        var i = 0
        while i + 4 <= m {
            var acc0 = SIMD8<Float>(repeating: 0), acc1 = acc0, acc2 = acc0, acc3 = acc0
            let r0 = a + i * lda, r1 = r0 + lda, r2 = r1 + lda, r3 = r2 + lda
            for p in 0..<k {
                let bv = columns(p)
                acc0 = acc0.addingProduct(SIMD8(repeating: r0[p]), bv)
                acc1 = acc1.addingProduct(SIMD8(repeating: r1[p]), bv)
                acc2 = acc2.addingProduct(SIMD8(repeating: r2[p]), bv)
                acc3 = acc3.addingProduct(SIMD8(repeating: r3[p]), bv)
            }
            store(acc0, row: i); store(acc1, row: i + 1); store(acc2, row: i + 2); store(acc3, row: i + 3)
            i += 4
        }
        while i < m {
            var acc = SIMD8<Float>(repeating: 0)
            let row = a + i * lda
            for p in 0..<k { acc = acc.addingProduct(SIMD8(repeating: row[p]), columns(p)) }
            store(acc, row: i)
            i += 1
        }
    }

    /// The same product computed in Double by three loops.
    public static func naiveGemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                                 alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                                 b: UnsafePointer<Float>, ldb: Int,
                                 beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let av = transA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                    s += Double(av) * Double(bv)
                }
                let old = beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])
                c[i * ldc + j] = Float(Double(alpha) * s + old)
            }
        }
    }
}

/// OpenBLAS facts worth reporting with every timing.
public enum BLASInfo {
    /// The kernel family OpenBLAS chose at load time (e.g. "Cooperlake", "Haswell").
    public static var coreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    public static var config: String {
        guard let p = openblas_get_config() else { return "unknown" }
        return String(cString: p)
    }

    /// The engine parallelises around BLAS, so BLAS itself runs one thread per call.
    public static func useSingleThread() { openblas_set_num_threads(1) }
}
