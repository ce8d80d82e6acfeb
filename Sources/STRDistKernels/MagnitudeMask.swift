// DNW's and GMP's magnitude pruning: zero the p = floor(rate·numel)
// smallest |w| of a layer. The p-th smallest |w| is found by a two-pass radix
// select on the bit pattern of |w| (monotonic for non-negative floats): a
// histogram of the high 16 bits, then of the low 16 bits inside the chosen
// bin — two streaming passes, no sort. Ties at the cut-off keep the
// higher-indexed weights, so the result never depends on thread count.

public enum MagnitudeMask {
    /// Scratch floats `apply` needs: two 65 536-bin histograms per thread.
    public static func scratchCount(threads: Int) -> Int { 2 * 65536 * threads }

    /// out = w with the p smallest |w| zeroed; mask = 1 where kept, 0 where pruned.
    public static func apply(_ w: UnsafePointer<Float>, count: Int, prune p: Int,
                             out: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<Float>,
                             pool: ThreadPool, scratch: UnsafeMutablePointer<Float>) {
        if p <= 0 {
            out.update(from: w, count: count)
            mask.update(repeating: 1, count: count)
            return
        }
        if p >= count {
            out.update(repeating: 0, count: count)
            mask.update(repeating: 0, count: count)
            return
        }
        // The shared Float scratch holds the Int32 histograms, rebound for this call only (other layers
        // read it as Float).
        let (high, below, low, belowInBin, equal) = scratch.withMemoryRebound(to: Int32.self, capacity: 65536 * pool.threads) {
            hist in
            // Pass 1: which high-16-bit bin holds the p-th smallest (0-based p − 1).
            histogram(w, count, pool, hist, prefix: nil)
            let (high, below) = findBin(hist, pool.threads, rank: p - 1)
            // Pass 2: the exact bit pattern inside that bin.
            histogram(w, count, pool, hist, prefix: high)
            let (low, belowInBin) = findBin(hist, pool.threads, rank: p - 1 - below)
            return (high, below, low, belowInBin, Int(total(hist, pool.threads, bin: low)))
        }
        let cut = UInt32(high) << 16 | UInt32(low)
        let needEqual = p - below - belowInBin           // how many |w| == cut to zero, ≥ 1
        pool.parallelRanges(count, (w: w, out: out, mask: mask, cut: cut, all: needEqual == equal)) { a, r, _ in
            for i in r {
                let m = a.w[i].bitPattern & 0x7FFF_FFFF
                let prune = m < a.cut || (m == a.cut && a.all)
                a.out[i] = prune ? 0 : a.w[i]
                a.mask[i] = prune ? 0 : 1
            }
        }
        if needEqual < equal {
            // Zero the lowest-indexed ties, in index order.
            var left = needEqual
            for i in 0..<count where left > 0 && w[i].bitPattern & 0x7FFF_FFFF == cut {
                out[i] = 0; mask[i] = 0; left -= 1
            }
        }
    }

    /// Per-thread histograms of |w|'s high 16 bits, or of its low 16 bits among values whose high bits are `prefix`.
    private static func histogram(_ w: UnsafePointer<Float>, _ count: Int, _ pool: ThreadPool,
                                  _ hist: UnsafeMutablePointer<Int32>, prefix: Int?) {
        hist.update(repeating: 0, count: 65536 * pool.threads)
        pool.parallelRanges(count, (w: w, hist: hist, prefix: prefix.map(UInt32.init) ?? 0x1_0000, all: prefix == nil)) { a, r, t in
            let h = a.hist + t * 65536
            if a.all {
                for i in r { h[Int((a.w[i].bitPattern & 0x7FFF_FFFF) >> 16)] += 1 }
            } else {
                for i in r {
                    let m = a.w[i].bitPattern & 0x7FFF_FFFF
                    if m >> 16 == a.prefix { h[Int(m & 0xFFFF)] += 1 }
                }
            }
        }
    }

    @inline(__always)
    private static func total(_ hist: UnsafePointer<Int32>, _ threads: Int, bin: Int) -> Int32 {
        var s: Int32 = 0
        for t in 0..<threads { s += hist[t * 65536 + bin] }
        return s
    }

    /// The bin holding the element of 0-based `rank`, and how many elements lie in lower bins.
    private static func findBin(_ hist: UnsafePointer<Int32>, _ threads: Int, rank: Int) -> (Int, Int) {
        var below = 0
        for bin in 0..<65536 {
            let n = Int(total(hist, threads, bin: bin))
            if below + n > rank { return (bin, below) }
            below += n
        }
        preconditionFailure("rank \(rank) exceeds the histogram total \(below)")
    }
}
