// The bf16 SpMM and SDDMM (mixed precision): what they compute, in portable C — the reference the tests
// hold the AVX512_BF16 bodies (sparse_bf16_avx512.c) to, bit for bit on normal values (vdpbf16ps also
// flushes subnormal inputs and sums to zero, which this body does not; CBFloat16's product likewise) —
// and the dispatch between the two (CBFloat16's bf16_isa). bf() rounds to nearest even, denormals to zero (bf16_from_float); bf16 products
// are exact in fp32, and every sum below is rounded to fp32.
//
// SpMM: per (block, row), the row's entries go in pairs (e, e + 1) from its first; per column, as
// vdpbf16ps does, acc + bf(w[e+1])·bf(B[e+1]), then + bf(w[e])·bf(B[e]); a lone last entry adds 0·0 first.
// SDDMM, per 64-column tile from q0 (columns past the tile's width count as zeros): for each entry, lane j
// (0…15) sums columns 2j+1, 2j, 32+2j+1, 32+2j in that order from 0; the tile's sum is (S0 + S1) + (S2 +
// S3) with Sc = (l[4c] + l[4c+2]) + (l[4c+1] + l[4c+3]), added to out[e].
#include "CSparse.h"
#include "sparse_isa.h"
#include <string.h>

/// One pair's (or a lone entry's) contribution to a column, in the order the hardware adds them.
static inline float add_pair(float acc, float w0, bf16_t b0, float w1, bf16_t b1) {
    acc = acc + w1 * bf16_to_float(b1);
    return acc + w0 * bf16_to_float(b0);
}

static void spmm_bf16_c(const sp_matrix *a, const bf16_t *b, int64_t stride, int64_t q0, int64_t q1, float *c,
                        int64_t ldc, int accumulate, const float *bias, const float *residual, int relu) {
    const int32_t rows = a->rows;
    for (int32_t blk = 0; blk < a->blocks; blk++) {
        const int32_t *st = a->start + (int64_t)blk * (rows + 1);
        for (int32_t i = 0; i < rows; i++) {
            float *cr = c + (int64_t)i * ldc;
            if (blk == 0 && !accumulate) for (int64_t q = q0; q < q1; q++) cr[q] = 0;
            const int32_t e1 = st[i + 1];
            for (int32_t e = st[i]; e < e1; e += 2) {
                const float w0 = bf16_to_float(bf16_from_float(a->value[e]));
                const bf16_t *r0 = b + (int64_t)a->offset[e] * stride;
                if (e + 1 < e1) {
                    const float w1 = bf16_to_float(bf16_from_float(a->value[e + 1]));
                    const bf16_t *r1 = b + (int64_t)a->offset[e + 1] * stride;
                    for (int64_t q = q0; q < q1; q++) cr[q] = add_pair(cr[q], w0, r0[q], w1, r1[q]);
                } else {
                    for (int64_t q = q0; q < q1; q++) cr[q] = add_pair(cr[q], w0, r0[q], 0.0f, 0);
                }
            }
            if (blk == a->blocks - 1 && (bias || residual || relu))
                sp_epilogue_c(cr, q0, q1, bias ? bias[i] : 0.0f, residual ? residual + (int64_t)i * ldc : 0, relu);
        }
    }
}

/// One entry's sum over a 64-column tile of bf16 rows d and b (w columns valid), in the fast body's order.
static float tile_dot(const bf16_t *d, const bf16_t *b, int w) {
    float l[16];
    for (int j = 0; j < 16; j++) {
        float t = 0.0f;
        for (int h = 0; h < 2; h++) {
            const int k = 32 * h + 2 * j;
            const float d1 = k + 1 < w ? bf16_to_float(d[k + 1]) : 0.0f, b1 = k + 1 < w ? bf16_to_float(b[k + 1]) : 0.0f;
            const float d0 = k < w ? bf16_to_float(d[k]) : 0.0f, b0 = k < w ? bf16_to_float(b[k]) : 0.0f;
            t = t + d1 * b1;
            t = t + d0 * b0;
        }
        l[j] = t;
    }
    float s[4];
    for (int c = 0; c < 4; c++) s[c] = (l[4 * c] + l[4 * c + 2]) + (l[4 * c + 1] + l[4 * c + 3]);
    return (s[0] + s[1]) + (s[2] + s[3]);
}

static void sddmm_bf16_c(const sp_matrix *a, const bf16_t *d, int64_t ldd, const bf16_t *b, int64_t stride, int64_t q0,
                         int64_t q1, float *out) {
    const int32_t rows = a->rows;
    for (int64_t q = q0; q < q1; q += 64) {
        const int w = q1 - q < 64 ? (int)(q1 - q) : 64;
        for (int32_t blk = 0; blk < a->blocks; blk++) {
            const int32_t *st = a->start + (int64_t)blk * (rows + 1);
            for (int32_t i = 0; i < rows; i++)
                for (int32_t e = st[i]; e < st[i + 1]; e++)
                    out[e] = out[e] + tile_dot(d + (int64_t)i * ldd + q, b + (int64_t)a->offset[e] * stride + q, w);
        }
    }
}

/// Rows [0, brows) of B's tile at column q (w wide) into the pack, 64 apart: rounded from fp32, or (bf16) copied.
static void pack_b_c(const void *b, int bf16, int64_t stride, int32_t brows, int64_t q, int64_t w, bf16_t *pack) {
    for (int32_t r = 0; r < brows; r++) {
        if (bf16) memcpy(pack + (int64_t)r * 64, (const bf16_t *)b + (int64_t)r * stride + q, (size_t)w * sizeof(bf16_t));
        else bf16_round((const float *)b + (int64_t)r * stride + q, pack + (int64_t)r * 64, w);
    }
}

/// The portable sp_spmm_bf16 and sp_spmm_bf16_to_bf16: each 64-column tile of B rounded (or, already bf16,
/// copied) into the pack as the fast body does, then the product into C — or, with c16, into `tile` (fp32, epilogue included) and rounded from there.
static void spmm_bf16_tiles_c(const sp_matrix *a, const void *b, int64_t stride, int32_t brows, bf16_t *pack,
                              int64_t q0, int64_t q1, float *c, int64_t ldc, int flags, const float *bias,
                              const float *residual, float *tile, bf16_t *c16) {
    for (int64_t q = q0; q < q1; q += 64) {
        const int64_t w = q1 - q < 64 ? q1 - q : 64;
        pack_b_c(b, flags & SP_B_BF16, stride, brows, q, w, pack);
        if (!c16) {
            spmm_bf16_c(a, pack - q, 64, q, q + w, c, ldc, flags & SP_ACCUMULATE, bias, residual, (flags & SP_RELU) != 0);
            continue;
        }
        spmm_bf16_c(a, pack - q, 64, q, q + w, tile - q, 64, 0, bias, 0, (flags & SP_RELU) != 0);
        for (int32_t i = 0; i < a->rows; i++) bf16_round(tile + (int64_t)i * 64, c16 + (int64_t)i * ldc + q, w);
    }
}

void sp_spmm_bf16(const sp_matrix *a, const void *b, int64_t stride, int32_t brows, bf16_t *pack, int64_t q0, int64_t q1,
                  float *c, int64_t ldc, int flags, const float *bias, const float *residual) {
    if (bf16_isa() == 1) {
        sp_spmm_bf16_avx512bf16(a, b, stride, brows, pack, q0, q1, c, ldc, flags, bias, residual);
        return;
    }
    spmm_bf16_tiles_c(a, b, stride, brows, pack, q0, q1, c, ldc, flags, bias, residual, 0, 0);
}

void sp_spmm_bf16_subsampled(const sp_matrix *a, const float *x, int64_t chan, int32_t rows, const sp_subsample *g,
                             bf16_t *pack, float *tile, int64_t q0, int64_t q1, float *c, bf16_t *c16, int64_t ldc, int flags,
                             const float *bias, const float *residual) {
    if (bf16_isa() == 1) {
        sp_spmm_bf16_subsampled_avx512bf16(a, x, chan, rows, g, pack, tile, q0, q1, c, c16, ldc, flags, bias, residual);
        return;
    }
    // Each tile gathered and rounded into the pack (as the fast body does), then spmm_bf16_c over it.
    const int64_t plane = g->oh * g->ow;
    for (int64_t q = q0; q < q1; q += 64) {
        const int64_t w = q1 - q < 64 ? q1 - q : 64;
        for (int64_t k = 0; k < w; k++) {
            const int64_t p = q + k, n = p / plane, i = (p - n * plane) / g->ow, j = p - n * plane - i * g->ow;
            const float *src = x + (n * g->h + 2 * i) * g->wd + 2 * j;
            for (int32_t r = 0; r < rows; r++) pack[(int64_t)r * 64 + k] = bf16_from_float(src[(int64_t)r * chan]);
        }
        if (!c16) {
            spmm_bf16_c(a, pack - q, 64, q, q + w, c, ldc, flags & SP_ACCUMULATE, bias, residual, (flags & SP_RELU) != 0);
            continue;
        }
        spmm_bf16_c(a, pack - q, 64, q, q + w, tile - q, 64, 0, bias, 0, (flags & SP_RELU) != 0);
        for (int32_t i = 0; i < a->rows; i++) bf16_round(tile + (int64_t)i * 64, c16 + (int64_t)i * ldc + q, w);
    }
}

void sp_spmm_bf16_to_bf16(const sp_matrix *a, const void *b, int64_t stride, int32_t brows, bf16_t *pack, float *tile,
                          int64_t q0, int64_t q1, bf16_t *c, int64_t ldc, int flags, const float *bias) {
    if (bf16_isa() == 1) {
        sp_spmm_bf16_to_bf16_avx512bf16(a, b, stride, brows, pack, tile, q0, q1, c, ldc, flags, bias);
        return;
    }
    spmm_bf16_tiles_c(a, b, stride, brows, pack, q0, q1, 0, ldc, flags, bias, 0, tile, c);
}

void sp_spmm_bf16_planes(const sp_matrix *a, const bf16_t *b, int64_t q0, int64_t q1, float *c, int64_t ldc, int flags,
                         const float *bias, const float *residual) {
    if (bf16_isa() == 1) {
        sp_spmm_bf16_planes_avx512bf16(a, b, q0, q1, c, ldc, flags, bias, residual);
        return;
    }
    spmm_bf16_c(a, b, 1, q0, q1, c, ldc, flags & SP_ACCUMULATE, bias, residual, (flags & SP_RELU) != 0);
}

void sp_spmm_bf16_cropped(const sp_matrix *a, const bf16_t *b, int64_t q0, int64_t q1, const sp_crop *g, float *tile,
                          float *c, bf16_t *c16, int64_t ldc, int flags, const float *bias, const float *residual) {
    if (bf16_isa() == 1) {
        sp_spmm_bf16_cropped_avx512bf16(a, b, q0, q1, g, tile, c, c16, ldc, flags, bias, residual);
        return;
    }
    // Position by position: each output element's sums in spmm_bf16_c's order, then its epilogue (and rounding).
    const int32_t rows = a->rows;
    const int64_t plane = g->hp * g->wp;
    const int relu = (flags & SP_RELU) != 0;
    for (int64_t q = q0; q < q1; q++) {
        const int64_t n = q / plane, r = q - n * plane, h = r / g->wp, x = r - h * g->wp;
        if (h >= g->oh || x >= g->ow) continue;
        const int64_t at = (n * g->oh + h) * g->ow + x;
        for (int32_t i = 0; i < rows; i++) {
            float acc = !c16 && (flags & SP_ACCUMULATE) ? c[(int64_t)i * ldc + at] : 0.0f;
            for (int32_t blk = 0; blk < a->blocks; blk++) {
                const int32_t *st = a->start + (int64_t)blk * (rows + 1);
                const int32_t e1 = st[i + 1];
                for (int32_t e = st[i]; e < e1; e += 2) {
                    const float w0 = bf16_to_float(bf16_from_float(a->value[e]));
                    const bf16_t b0 = b[a->offset[e] + q];
                    if (e + 1 < e1) acc = add_pair(acc, w0, b0, bf16_to_float(bf16_from_float(a->value[e + 1])), b[a->offset[e + 1] + q]);
                    else acc = add_pair(acc, w0, b0, 0.0f, 0);
                }
            }
            if (bias || (residual && !c16) || relu)
                sp_epilogue_c(&acc, 0, 1, bias ? bias[i] : 0.0f, residual && !c16 ? residual + (int64_t)i * ldc + at : 0, relu);
            if (c16) c16[(int64_t)i * ldc + at] = bf16_from_float(acc);
            else c[(int64_t)i * ldc + at] = acc;
        }
    }
    (void)tile;
}

void sp_backward_bf16(const sp_matrix *a, const sp_matrix *at, const void *d, int64_t ldd, int32_t drows, const void *b,
                      int64_t ldb, int32_t brows, bf16_t *pack, int64_t q0, int64_t q1, float *c, int64_t ldc, int flags,
                      float *out) {
    if (bf16_isa() == 1) {
        sp_backward_bf16_avx512bf16(a, at, d, ldd, drows, b, ldb, brows, pack, q0, q1, c, ldc, flags, out);
        return;
    }
    const int in_place = flags & SP_D_BF16;
    bf16_t *dp = pack, *bp = pack + (int64_t)drows * 64;
    for (int64_t q = q0; q < q1; q += 64) {
        const int64_t w = q1 - q < 64 ? q1 - q : 64;
        // D's tile: read where it is (bf16 already), or rounded into the pack as the fast body does.
        const bf16_t *dt = in_place ? (const bf16_t *)d : dp - q;
        const int64_t dld = in_place ? ldd : 64;
        if (!in_place) pack_b_c(d, 0, ldd, drows, q, w, dp);
        if (out) {
            pack_b_c(b, flags & SP_B_BF16, ldb, brows, q, w, bp);
            sddmm_bf16_c(a, dt, dld, bp - q, 64, q, q + w, out);
        }
        if (at) spmm_bf16_c(at, dt, dld, q, q + w, c, ldc, flags & SP_ACCUMULATE, 0, 0, 0);
    }
}

void sp_backward_bf16_planes(const sp_matrix *a, const sp_matrix *at, const bf16_t *d, int64_t ldd, const bf16_t *b,
                             const bf16_t *dt, int64_t q0, int64_t q1, float *c, int64_t ldc, float *out) {
    if (bf16_isa() == 1) {
        sp_backward_bf16_planes_avx512bf16(a, at, d, ldd, b, dt, q0, q1, c, ldc, out);
        return;
    }
    if (out) sddmm_bf16_c(a, d, ldd, b, 1, q0, q1, out);
    if (at) spmm_bf16_c(at, dt, 1, q0, q1, c, ldc, 0, 0, 0, 0);
}
