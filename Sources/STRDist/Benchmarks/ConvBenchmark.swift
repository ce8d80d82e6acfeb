// Conv forward/backward throughput at real ResNet50 shapes, next to raw
// cblas_sgemm on the same GEMM sizes (OpenBLAS threaded natively). This is
// how close the im2col + chunked GEMM path gets to what BLAS alone can do.

import CBLAS
import Foundation

public struct ConvBenchmarkRow: Codable {
    public var shape: String
    public var forwardGflops: Double, forwardGemmGflops: Double
    public var backwardGflops: Double, backwardGemmGflops: Double
    public var forwardRatio: Double { forwardGflops / forwardGemmGflops }
    public var backwardRatio: Double { backwardGflops / backwardGemmGflops }
}

public enum ConvBenchmark {
    /// (name, in, out, kernel, stride, input size) — ResNet50 layers at 224×224.
    public static let resnet50Shapes: [(String, Int, Int, Int, Int, Int)] = [
        ("3x3 64->64 @56", 64, 64, 3, 1, 56),
        ("1x1 256->64 @56", 256, 64, 1, 1, 56),
        ("1x1 64->256 @56", 64, 256, 1, 1, 56),
        ("3x3 128->128 @28", 128, 128, 3, 1, 28),
        ("3x3 256->256 @14", 256, 256, 3, 1, 14),
        ("3x3 512->512 @7", 512, 512, 3, 1, 7),
        ("3x3/2 256->256 @28", 256, 256, 3, 2, 28),
        ("7x7/2 3->64 @224 (stem)", 3, 64, 7, 2, 224),
    ]

    public static func run(batch: Int, threads: Int, repeats: Int) -> [ConvBenchmarkRow] {
        let pool = ThreadPool(threads: threads)
        return resnet50Shapes.map { name, c, o, k, s, size in
            var g = ConvGeometry(inChannels: c, outChannels: o, kernel: (k, k), stride: (s, s),
                                 padding: (k / 2, k / 2), batch: batch, inH: size, inW: size)
            g.winograd = ConvPlanner.densePlan(g, algorithm: .auto) == .winograd
            return measure(name, g, pool: pool, repeats: repeats)
        }
    }

    static func measure(_ name: String, _ g: ConvGeometry, pool: ThreadPool, repeats: Int) -> ConvBenchmarkRow {
        let x = FloatBuffer(count: g.inChannels * g.batch * g.inPlane)
        let y = FloatBuffer(count: g.outChannels * g.columns), dy = FloatBuffer(count: y.count)
        let dx = FloatBuffer(count: x.count)
        let w = FloatBuffer(count: g.weightCount), dw = FloatBuffer(count: g.weightCount)
        var rng = RNG(seed: 1)
        rng.fillUniform(x.base, count: x.count, low: -1, high: 1)
        rng.fillUniform(w.base, count: w.count, low: -1, high: 1)
        rng.fillUniform(dy.base, count: dy.count, low: -1, high: 1)
        let scratch = FloatBuffer(count: pool.threads * max(1, g.scratchPerThread) + g.sharedScratch(threads: pool.threads))
        let cs = ConvScratch(base: scratch.base, stride: max(1, g.scratchPerThread),
                             partials: scratch.base + pool.threads * max(1, g.scratchPerThread))
        let cols = FloatBuffer(count: g.colRows * g.columns)
        rng.fillUniform(cols.base, count: cols.count, low: -1, high: 1)
        let threads = Int32(pool.threads)
        // Ours and raw BLAS alternate, so a noisy neighbour slows both alike; best of `repeats`.
        var fwd = Double.infinity, bwd = Double.infinity, gemmFwd = Double.infinity, gemmBwd = Double.infinity
        for _ in 0...repeats {
            BLASInfo.useSingleThread()
            fwd = min(fwd, seconds {
                ConvKernels.forward(x: x.base, w: w.base, bias: nil, y: y.base, g, pool: pool, scratch: cs)
            })
            bwd = min(bwd, seconds {
                ConvKernels.backward(x: x.base, w: w.base, dy: dy.base, dx: dx.base, accumulate: false, dw: dw.base,
                                     dbias: nil, g, pool: pool, scratch: cs)
            })
            // Raw GEMMs of the same sizes over whole-batch matrices, BLAS threaded natively.
            openblas_set_num_threads(threads)
            gemmFwd = min(gemmFwd, seconds {
                Gemm.gemm(transA: false, transB: false, m: g.outChannels, n: g.columns, k: g.colRows, a: w.base,
                          lda: g.colRows, b: cols.base, ldb: g.columns, beta: 0, c: y.base, ldc: g.columns)
            })
            gemmBwd = min(gemmBwd, seconds {
                Gemm.gemm(transA: false, transB: true, m: g.outChannels, n: g.colRows, k: g.columns, a: dy.base,
                          lda: g.columns, b: cols.base, ldb: g.columns, beta: 0, c: dw.base, ldc: g.colRows)
                Gemm.gemm(transA: true, transB: false, m: g.colRows, n: g.columns, k: g.outChannels, a: w.base,
                          lda: g.colRows, b: dy.base, ldb: g.columns, beta: 0, c: cols.base, ldc: g.columns)
            })
        }
        BLASInfo.useSingleThread()
        let flops = 2 * Double(g.macs)
        return ConvBenchmarkRow(shape: name, forwardGflops: flops / fwd / 1e9, forwardGemmGflops: flops / gemmFwd / 1e9,
                                backwardGflops: 2 * flops / bwd / 1e9, backwardGemmGflops: 2 * flops / gemmBwd / 1e9)
    }

    /// Wall time of one run of `body`.
    public static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let t0 = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    }
}
