// The bf16 SpMM (mixed precision): what it computes, in portable C — the reference the tests hold the
// AVX512_BF16 body (sparse_bf16_avx512.c) to — and the dispatch between the two (CBFloat16's bf16_isa).
//
// Per (block, row), the row's entries go in pairs (e, e + 1) from its first; per column, as vdpbf16ps
// does, acc += bf(w[e+1])·bf(B[e+1]) and then acc += bf(w[e])·bf(B[e]), each sum rounded to fp32 (bf16
// products are exact in fp32); a lone last entry adds bf(0)·bf(0) first (acc + 0). bf() rounds to
// nearest even, denormals to zero (bf16_from_float).
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
            if (blk == a->blocks - 1 && (bias || residual || relu)) {
                for (int64_t q = q0; q < q1; q++) {
                    float y = cr[q] + (bias ? bias[i] : 0.0f);
                    if (residual) y += residual[(int64_t)i * ldc + q];
                    cr[q] = relu && !(y > 0) ? 0.0f : y;
                }
            }
        }
    }
}

void sp_spmm_bf16(const sp_matrix *a, const float *b, int64_t stride, int32_t brows, bf16_t *pack, int64_t q0, int64_t q1,
                  float *c, int64_t ldc, int flags, const float *bias, const float *residual) {
    if (bf16_isa() == 1) {
        sp_spmm_bf16_avx512bf16(a, b, stride, brows, pack, q0, q1, c, ldc, flags, bias, residual);
        return;
    }
    // The portable body rounds each 64-column tile into the pack as the fast one does.
    for (int64_t q = q0; q < q1; q += 64) {
        const int64_t w = q1 - q < 64 ? q1 - q : 64;
        for (int32_t r = 0; r < brows; r++) bf16_round(b + (int64_t)r * stride + q, pack + (int64_t)r * 64, w);
        spmm_bf16_c(a, pack - q, 64, q, q + w, c, ldc, flags & SP_ACCUMULATE, bias, residual, (flags & SP_RELU) != 0);
    }
}

void sp_spmm_bf16_planes(const sp_matrix *a, const bf16_t *b, int64_t q0, int64_t q1, float *c, int64_t ldc, int flags,
                         const float *bias, const float *residual) {
    if (bf16_isa() == 1) {
        sp_spmm_bf16_planes_avx512bf16(a, b, q0, q1, c, ldc, flags, bias, residual);
        return;
    }
    spmm_bf16_c(a, b, 1, q0, q1, c, ldc, flags & SP_ACCUMULATE, bias, residual, (flags & SP_RELU) != 0);
}
