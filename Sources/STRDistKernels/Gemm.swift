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
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
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
