// Run-time dispatch (AVX-512, AVX2, portable C), the portable bodies, and
// the build of the compressed operand from a dense weight: count, prefix,
// fill (rows split among threads by the caller), transpose, scatter.
#include "CSparse.h"
#include "sparse_isa.h"
#include <math.h>
#include <string.h>

static int detected(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw")) return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
#endif
    return 0;
}

static int current_isa = -1;

int sp_isa(void) {
    if (current_isa < 0) current_isa = detected();
    return current_isa;
}

int sp_force_isa(int isa) {
    int best = detected();
    current_isa = isa < 0 ? best : (isa > best ? best : isa);
    return current_isa;
}

void sp_epilogue_c(float *cr, int64_t q0, int64_t q1, float shift, const float *rr, int relu) {
    for (int64_t q = q0; q < q1; q++) {
        float y = cr[q] + shift;
        if (rr) y += rr[q];
        cr[q] = relu && !(y > 0) ? 0.0f : y;
    }
}

static void spmm_c(const sp_matrix *a, const float *b, int64_t stride, int64_t q0, int64_t q1,
                   float *c, int64_t ldc, int accumulate, const float *bias, const float *residual, int relu) {
    const int32_t rows = a->rows;
    for (int32_t blk = 0; blk < a->blocks; blk++) {
        const int32_t *st = a->start + (int64_t)blk * (rows + 1);
        for (int32_t i = 0; i < rows; i++) {
            float *cr = c + (int64_t)i * ldc;
            if (blk == 0 && !accumulate) for (int64_t q = q0; q < q1; q++) cr[q] = 0;
            for (int32_t e = st[i]; e < st[i + 1]; e++) {
                const float v = a->value[e];
                const float *br = b + (int64_t)a->offset[e] * stride;
                for (int64_t q = q0; q < q1; q++) cr[q] += v * br[q];
            }
            if (blk == a->blocks - 1 && (bias || residual || relu))
                sp_epilogue_c(cr, q0, q1, bias ? bias[i] : 0.0f, residual ? residual + (int64_t)i * ldc : 0, relu);
        }
    }
}

static void sddmm_c(const sp_matrix *a, const float *d, int64_t ldd, const float *b, int64_t stride,
                    int64_t q0, int64_t q1, int32_t r0, int32_t r1, float *out) {
    const int32_t rows = a->rows;
    for (int32_t blk = 0; blk < a->blocks; blk++) {
        const int32_t *st = a->start + (int64_t)blk * (rows + 1);
        for (int32_t i = r0; i < r1; i++) {
            const float *dr = d + (int64_t)i * ldd;
            for (int32_t e = st[i]; e < st[i + 1]; e++) {
                const float *br = b + (int64_t)a->offset[e] * stride;
                float s = 0;
                for (int64_t q = q0; q < q1; q++) s += dr[q] * br[q];
                out[e] += s;
            }
        }
    }
}

void sp_spmm(const sp_matrix *a, const float *b, int64_t stride, int32_t brows, float *pack, int64_t q0, int64_t q1,
             float *c, int64_t ldc, int flags, const float *bias, const float *residual) {
    switch (sp_isa()) {
    case 2: sp_spmm_avx512(a, b, stride, brows, pack, q0, q1, c, ldc, flags, bias, residual); break;
    case 1: sp_spmm_avx2(a, b, stride, brows, pack, q0, q1, c, ldc, flags, bias, residual); break;
    // The portable body stores through the caches (SP_STREAM is a hint).
    default: spmm_c(a, b, stride, q0, q1, c, ldc, flags & SP_ACCUMULATE, bias, residual, (flags & SP_RELU) != 0);
    }
}

/// spmm_c position by position into the cropped output: each output element's sums in spmm_c's order.
static void spmm_cropped_c(const sp_matrix *a, const float *b, int64_t q0, int64_t q1, const sp_crop *g, float *c,
                           int64_t ldc, int accumulate, const float *bias, const float *residual, int relu) {
    const int32_t rows = a->rows;
    const int64_t plane = g->hp * g->wp;
    for (int64_t q = q0; q < q1; q++) {
        const int64_t n = q / plane, r = q - n * plane, h = r / g->wp, x = r - h * g->wp;
        if (h >= g->oh || x >= g->ow) continue;
        const int64_t at = (n * g->oh + h) * g->ow + x;
        for (int32_t i = 0; i < rows; i++) {
            float *cr = c + (int64_t)i * ldc + at;
            if (!accumulate) *cr = 0;
            for (int32_t blk = 0; blk < a->blocks; blk++) {
                const int32_t *st = a->start + (int64_t)blk * (rows + 1);
                for (int32_t e = st[i]; e < st[i + 1]; e++) *cr += a->value[e] * b[a->offset[e] + q];
            }
            if (bias || residual || relu)
                sp_epilogue_c(cr, 0, 1, bias ? bias[i] : 0.0f, residual ? residual + (int64_t)i * ldc + at : 0, relu);
        }
    }
}

void sp_spmm_cropped(const sp_matrix *a, const float *b, int64_t q0, int64_t q1, const sp_crop *crop, float *c,
                     int64_t ldc, int flags, const float *bias, const float *residual) {
    switch (sp_isa()) {
    case 2: sp_spmm_cropped_avx512(a, b, q0, q1, crop, c, ldc, flags, bias, residual); break;
    case 1: sp_spmm_cropped_avx2(a, b, q0, q1, crop, c, ldc, flags, bias, residual); break;
    default:
        spmm_cropped_c(a, b, q0, q1, crop, c, ldc, flags & SP_ACCUMULATE, bias, residual, (flags & SP_RELU) != 0);
    }
}

/// spmm_c over the subsampled operand, position by position, each reading x where its column's input element is.
static void spmm_subsampled_c(const sp_matrix *a, const float *x, int64_t chan, const sp_subsample *g, int64_t q0,
                              int64_t q1, float *c, int64_t ldc, int accumulate, const float *bias, const float *residual,
                              int relu) {
    const int32_t rows = a->rows;
    const int64_t plane = g->oh * g->ow;
    for (int64_t q = q0; q < q1; q++) {
        const int64_t n = q / plane, r = q - n * plane, i = r / g->ow, j = r - i * g->ow;
        const int64_t at = (n * g->h + 2 * i) * g->wd + 2 * j;
        for (int32_t row = 0; row < rows; row++) {
            float *cr = c + (int64_t)row * ldc + q;
            if (!accumulate) *cr = 0;
            for (int32_t blk = 0; blk < a->blocks; blk++) {
                const int32_t *st = a->start + (int64_t)blk * (rows + 1);
                for (int32_t e = st[row]; e < st[row + 1]; e++) *cr += a->value[e] * x[(int64_t)a->offset[e] * chan + at];
            }
            if (bias || residual || relu)
                sp_epilogue_c(cr, 0, 1, bias ? bias[row] : 0.0f, residual ? residual + (int64_t)row * ldc + q : 0, relu);
        }
    }
}

void sp_spmm_subsampled(const sp_matrix *a, const float *x, int64_t chan, int32_t rows, const sp_subsample *g, float *pack,
                        int64_t q0, int64_t q1, float *c, int64_t ldc, int flags, const float *bias, const float *residual) {
    switch (sp_isa()) {
    case 2: sp_spmm_subsampled_avx512(a, x, chan, rows, g, pack, q0, q1, c, ldc, flags, bias, residual); break;
    case 1: sp_spmm_subsampled_avx2(a, x, chan, rows, g, pack, q0, q1, c, ldc, flags, bias, residual); break;
    // The portable body stores through the caches (SP_STREAM is a hint).
    default:
        spmm_subsampled_c(a, x, chan, g, q0, q1, c, ldc, flags & SP_ACCUMULATE, bias, residual, (flags & SP_RELU) != 0);
    }
}

/// The vector bodies' narrow product lane by lane: four fused chains per column, a block's entries
/// dealt round-robin from the first.
static void spmm_narrow_c(const sp_matrix *a, const float *b, int64_t stride, int32_t width, float *c, int64_t ldc,
                          int accumulate) {
    const int32_t rows = a->rows;
    for (int32_t i = 0; i < rows; i++) {
        float s[4][16] = {{0}};
        for (int32_t blk = 0; blk < a->blocks; blk++) {
            const int32_t *st = a->start + (int64_t)blk * (rows + 1);
            int k = 0;
            for (int32_t e = st[i]; e < st[i + 1]; e++) {
                const float v = a->value[e];
                const float *br = b + (int64_t)a->offset[e] * stride;
                for (int32_t q = 0; q < width; q++) s[k][q] = fmaf(v, br[q], s[k][q]);
                k = (k + 1) & 3;
            }
        }
        float *cr = c + (int64_t)i * ldc;
        for (int32_t q = 0; q < width; q++) {
            const float sum = (s[0][q] + s[1][q]) + (s[2][q] + s[3][q]);
            cr[q] = accumulate ? cr[q] + sum : sum;
        }
    }
}

void sp_spmm_narrow(const sp_matrix *a, const float *b, int64_t stride, int32_t width, float *c, int64_t ldc, int flags) {
    switch (sp_isa()) {
    case 2: sp_spmm_narrow_avx512(a, b, stride, width, c, ldc, flags); break;
    case 1: sp_spmm_narrow_avx2(a, b, stride, width, c, ldc, flags); break;
    default: spmm_narrow_c(a, b, stride, width, c, ldc, flags & SP_ACCUMULATE);
    }
}

void sp_sddmm(const sp_matrix *a, const float *d, int64_t ldd, const float *b, int64_t stride, int32_t brows,
              float *pack, int64_t q0, int64_t q1, int32_t r0, int32_t r1, float *out) {
    switch (sp_isa()) {
    case 2: sp_sddmm_avx512(a, d, ldd, b, stride, brows, pack, q0, q1, r0, r1, out); break;
    case 1: sp_sddmm_avx2(a, d, ldd, b, stride, brows, pack, q0, q1, r0, r1, out); break;
    default: sddmm_c(a, d, ldd, b, stride, q0, q1, r0, r1, out);
    }
}

void sp_pointwise_backward(const sp_matrix *a, const sp_matrix *at, const float *d, int64_t ldd, int32_t drows,
                           const float *b, int64_t ldb, int32_t brows, float *pack, int64_t q0, int64_t q1,
                           float *c, int64_t ldc, int flags, float *out) {
    switch (sp_isa()) {
    case 2: sp_pointwise_backward_avx512(a, at, d, ldd, drows, b, ldb, brows, pack, q0, q1, c, ldc, flags, out); break;
    case 1: sp_pointwise_backward_avx2(a, at, d, ldd, drows, b, ldb, brows, pack, q0, q1, c, ldc, flags, out); break;
    default:
        sddmm_c(a, d, ldd, b, ldb, q0, q1, 0, a->rows, out);
        if (at) spmm_c(at, d, ldd, q0, q1, c, ldc, flags & SP_ACCUMULATE, 0, 0, 0);
    }
}

void sp_subsampled_backward(const sp_matrix *a, const sp_matrix *at, const float *d, int64_t ldd, int32_t drows,
                            const float *x, int64_t chan, int32_t brows, const sp_subsample *g, float *pack, float *tile,
                            int64_t q0, int64_t q1, float *dx, float *out) {
    switch (sp_isa()) {
    case 2: sp_subsampled_backward_avx512(a, at, d, ldd, drows, x, chan, brows, g, pack, tile, q0, q1, dx, out); return;
    case 1: sp_subsampled_backward_avx2(a, at, d, ldd, drows, x, chan, brows, g, pack, tile, q0, q1, dx, out); return;
    }
    // Portable: sddmm_c's and spmm_c's sums over the columns, each column's input element found by its place.
    const int64_t plane = g->oh * g->ow;
    for (int32_t blk = 0; out && blk < a->blocks; blk++) {
        const int32_t *st = a->start + (int64_t)blk * (a->rows + 1);
        for (int32_t i = 0; i < a->rows; i++)
            for (int32_t e = st[i]; e < st[i + 1]; e++) {
                float s = 0;
                for (int64_t q = q0; q < q1; q++) {
                    const int64_t n = q / plane, r = q - n * plane, oi = r / g->ow, oj = r - oi * g->ow;
                    s += d[(int64_t)i * ldd + q] * x[(int64_t)a->offset[e] * chan + (n * g->h + 2 * oi) * g->wd + 2 * oj];
                }
                out[e] += s;
            }
    }
    if (!at) return;
    for (int64_t q = q0; q < q1; q++) {
        const int64_t n = q / plane, r = q - n * plane, oi = r / g->ow, oj = r - oi * g->ow;
        const int64_t place = (n * g->h + 2 * oi) * g->wd + 2 * oj;
        for (int32_t k = 0; k < at->rows; k++) {
            float s = 0;
            for (int32_t blk = 0; blk < at->blocks; blk++) {
                const int32_t *st = at->start + (int64_t)blk * (at->rows + 1);
                for (int32_t e = st[k]; e < st[k + 1]; e++) s += at->value[e] * d[(int64_t)at->offset[e] * ldd + q];
            }
            dx[(int64_t)k * chan + place] += s;
        }
    }
    (void)pack, (void)tile, (void)drows, (void)brows;
}

void sp_shifted_backward(const sp_matrix *a, const sp_matrix *at, const float *d, int64_t ldd, const float *b,
                         const float *dt, int64_t q0, int64_t q1, float *c, int64_t ldc, float *out) {
    switch (sp_isa()) {
    case 2: sp_shifted_backward_avx512(a, at, d, ldd, b, dt, q0, q1, c, ldc, out); break;
    case 1: sp_shifted_backward_avx2(a, at, d, ldd, b, dt, q0, q1, c, ldc, out); break;
    default:
        sddmm_c(a, d, ldd, b, 1, q0, q1, 0, a->rows, out);
        spmm_c(at, dt, 1, q0, q1, c, ldc, 0, 0, 0, 0);
    }
}

static inline int kept(const float *mask, const float *w, int64_t k, float threshold) {
    return mask ? mask[k] != 0 : fabsf(w[k]) > threshold;
}

void sp_count(const float *w, const float *mask, float threshold, int32_t rows, int32_t cols, int32_t block_cols,
              int32_t r0, int32_t r1, int32_t *start) {
    if (sp_isa() == 2) { sp_count_avx512(w, mask, threshold, rows, cols, block_cols, r0, r1, start); return; }
    const int32_t blocks = (cols + block_cols - 1) / block_cols;
    for (int32_t i = r0; i < r1; i++) {
        const float *wr = w + (int64_t)i * cols, *mr = mask ? mask + (int64_t)i * cols : 0;
        for (int32_t blk = 0; blk < blocks; blk++) {
            const int32_t k0 = blk * block_cols, k1 = k0 + block_cols < cols ? k0 + block_cols : cols;
            int32_t n = 0;
            for (int32_t k = k0; k < k1; k++) n += kept(mr, wr, k, threshold);
            start[(int64_t)blk * (rows + 1) + i + 1] = n;
        }
    }
}

int64_t sp_prefix(int32_t rows, int32_t blocks, int32_t *start) {
    int64_t total = 0;
    for (int32_t blk = 0; blk < blocks; blk++) {
        int32_t *st = start + (int64_t)blk * (rows + 1);
        st[0] = (int32_t)total;
        for (int32_t i = 0; i < rows; i++) {
            total += st[i + 1];
            st[i + 1] = (int32_t)total;
        }
    }
    return total;
}

int64_t sp_counted(int32_t rows, int32_t blocks, const int32_t *start) {
    int64_t total = 0;
    for (int32_t blk = 0; blk < blocks; blk++)
        for (int32_t i = 0; i < rows; i++) total += start[(int64_t)blk * (rows + 1) + i + 1];
    return total;
}

int32_t sp_merge_blocks(int32_t rows, int32_t blocks, int32_t factor, int32_t *start) {
    const int32_t merged = (blocks + factor - 1) / factor;
    // In place, in increasing order: merged block b reads blocks ≥ b only.
    for (int32_t blk = 0; blk < merged; blk++) {
        int32_t *dst = start + (int64_t)blk * (rows + 1);
        const int32_t last = (blk + 1) * factor < blocks ? (blk + 1) * factor : blocks;
        for (int32_t i = 1; i <= rows; i++) {
            int32_t n = 0;
            for (int32_t b = blk * factor; b < last; b++) n += start[(int64_t)b * (rows + 1) + i];
            dst[i] = n;
        }
    }
    return merged;
}

void sp_fill(const float *w, const float *mask, float threshold, int32_t rows, int32_t cols, int32_t block_cols,
             const int32_t *col_offset, int32_t r0, int32_t r1, const int32_t *start,
             int32_t *offset, int32_t *index, float *value) {
    if (sp_isa() == 2) {
        sp_fill_avx512(w, mask, threshold, rows, cols, block_cols, col_offset, r0, r1, start, offset, index, value);
        return;
    }
    const int32_t blocks = (cols + block_cols - 1) / block_cols;
    for (int32_t i = r0; i < r1; i++) {
        const float *wr = w + (int64_t)i * cols, *mr = mask ? mask + (int64_t)i * cols : 0;
        for (int32_t blk = 0; blk < blocks; blk++) {
            const int32_t k0 = blk * block_cols, k1 = k0 + block_cols < cols ? k0 + block_cols : cols;
            int32_t e = start[(int64_t)blk * (rows + 1) + i];
            const int32_t end = start[(int64_t)blk * (rows + 1) + i + 1];
            // Branch-free: every k is written at e; e advances only past kept ones.
            for (int32_t k = k0; k < k1 && e < end; k++) {
                offset[e] = col_offset[k];
                index[e] = i * cols + k;
                value[e] = wr[k] - copysignf(threshold, wr[k]);
                e += kept(mr, wr, k, threshold);
            }
        }
    }
}

int64_t sp_transpose(const sp_matrix *a, const int32_t *index, int32_t cols, const int32_t *trow,
                     const int32_t *tshift, int32_t tstride, int32_t trows, int32_t tblock_rows,
                     int32_t *tstart, int32_t *toffset, float *tvalue) {
    const int32_t rows = a->rows, tblocks = (rows + tblock_rows - 1) / tblock_rows;
    const int64_t n = a->start[(int64_t)(a->blocks - 1) * (rows + 1) + rows];
    memset(tstart, 0, sizeof(int32_t) * (size_t)tblocks * (trows + 1));
    // Entries are stored block by block, row by row, so walking (block, row) visits them in order and gives
    // each its row i without a division per entry (two per entry made this 3 ms on a 512x4608 weight).
    for (int32_t blk = 0; blk < a->blocks; blk++) {
        const int32_t *st = a->start + (int64_t)blk * (rows + 1);
        for (int32_t i = 0; i < rows; i++) {
            int32_t *count = tstart + (int64_t)(i / tblock_rows) * (trows + 1) + 1;
            const int32_t base = i * cols;
            for (int32_t e = st[i]; e < st[i + 1]; e++) count[trow[index[e] - base]]++;
        }
    }
    sp_prefix(trows, tblocks, tstart);
    // Place entries in source order; tstart[b][r] walks forward as its row fills, then is restored.
    for (int32_t blk = 0; blk < a->blocks; blk++) {
        const int32_t *st = a->start + (int64_t)blk * (rows + 1);
        for (int32_t i = 0; i < rows; i++) {
            int32_t *slots = tstart + (int64_t)(i / tblock_rows) * (trows + 1);
            const int32_t base = i * cols, shifted = i * tstride;
            for (int32_t e = st[i]; e < st[i + 1]; e++) {
                const int32_t k = index[e] - base, t = slots[trow[k]]++;
                toffset[t] = shifted + tshift[k];
                tvalue[t] = a->value[e];
            }
        }
    }
    for (int32_t blk = tblocks - 1; blk >= 0; blk--) {
        int32_t *st = tstart + (int64_t)blk * (trows + 1);
        for (int32_t r = trows; r > 0; r--) st[r] = st[r - 1];
        st[0] = blk == 0 ? 0 : tstart[(int64_t)(blk - 1) * (trows + 1) + trows];
    }
    return n;
}

void sp_scatter(const int32_t *index, const float *value, int64_t e0, int64_t e1, float *dense) {
    for (int64_t e = e0; e < e1; e++) dense[index[e]] = value[e];
}

// Eight Double partial sums, combined pairwise at the end, and selects instead of branches: the
// compiler vectorizes these (a branchy loop with one chain of Double adds took 5 ns an element on
// random signs, this one 0.5 ns). A kept weight is never ±0, so its sign bit is its sign.
#define SP_LANES 8

/// d with its sign flipped where x is negative: sign(x)·d for the nonzero x of kept weights.
static inline float sp_signed(float d, float x) {
    uint32_t a, b;
    memcpy(&a, &d, 4);
    memcpy(&b, &x, 4);
    a ^= b & 0x80000000u;
    memcpy(&d, &a, 4);
    return d;
}

static inline double sp_combine(const double *acc) {
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

double sp_signed_sum(const float *w, const int32_t *index, const float *g, int64_t e0, int64_t e1) {
    double acc[SP_LANES] = {0};
    int64_t e = e0;
    for (; e + SP_LANES <= e1; e += SP_LANES)
        for (int j = 0; j < SP_LANES; j++) acc[j] += (double)sp_signed(g[e + j], w[index[e + j]]);
    for (; e < e1; e++) acc[0] += (double)sp_signed(g[e], w[index[e]]);
    return sp_combine(acc);
}

double sp_threshold_backward(const float *w, float threshold, float *grad, int64_t n) {
    double acc[SP_LANES] = {0};
    int64_t i = 0;
    for (; i + SP_LANES <= n; i += SP_LANES) {
        for (int j = 0; j < SP_LANES; j++) {
            const float x = w[i + j], d = grad[i + j];
            const float kept = fabsf(x) > threshold ? d : 0.0f;
            acc[j] += (double)sp_signed(kept, x);
            grad[i + j] = kept;
        }
    }
    for (; i < n; i++) {
        const float x = w[i], d = grad[i];
        const float kept = fabsf(x) > threshold ? d : 0.0f;
        acc[0] += (double)sp_signed(kept, x);
        grad[i] = kept;
    }
    return sp_combine(acc);
}
