// ReLU and the residual join y = relu(a + b), forward and backward.
// Backward reads the mask from the output (y > 0), so nothing extra is kept.

public enum ElementwiseKernels {
    public static func reluForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int,
                                   pool: ThreadPool) {
        pool.parallelRanges(n, (x: x, y: y)) { a, r, _ in
            for i in r { a.y[i] = max(0, a.x[i]) }
        }
    }

    /// dx = dy·1[y > 0], written or (accumulate) added.
    public static func reluBackward(_ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                    _ dx: UnsafeMutablePointer<Float>, accumulate: Bool, _ n: Int, pool: ThreadPool) {
        pool.parallelRanges(n, (y: y, dy: dy, dx: dx, accumulate: accumulate)) { a, r, _ in
            if a.accumulate {
                for i in r where a.y[i] > 0 { a.dx[i] += a.dy[i] }
            } else {
                for i in r { a.dx[i] = a.y[i] > 0 ? a.dy[i] : 0 }
            }
        }
    }

    /// y = relu(a + b).
    public static func addReluForward(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                                      _ y: UnsafeMutablePointer<Float>, _ n: Int, pool: ThreadPool) {
        pool.parallelRanges(n, (a: a, b: b, y: y)) { p, r, _ in
            for i in r { p.y[i] = max(0, p.a[i] + p.b[i]) }
        }
    }

    /// d = dy·1[y > 0] written (or added) into both da and db in one pass: the residual join's backward.
    public static func addReluBackward(_ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                       _ da: UnsafeMutablePointer<Float>, accumulateA: Bool,
                                       _ db: UnsafeMutablePointer<Float>, accumulateB: Bool, _ n: Int, pool: ThreadPool) {
        let args = (y: y, dy: dy, da: da, accA: accumulateA, db: db, accB: accumulateB)
        pool.parallelRanges(n, args) { a, r, _ in
            for i in r {
                let d = a.y[i] > 0 ? a.dy[i] : 0
                a.da[i] = a.accA ? a.da[i] + d : d
                a.db[i] = a.accB ? a.db[i] + d : d
            }
        }
    }

    /// x[i] *= m[i].
    public static func multiply(_ x: UnsafeMutablePointer<Float>, by m: UnsafePointer<Float>, _ n: Int, pool: ThreadPool) {
        pool.parallelRanges(n, (x: x, m: m)) { a, r, _ in
            for i in r { a.x[i] *= a.m[i] }
        }
    }
}
