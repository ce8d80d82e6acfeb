// The AVX-512 bodies (F, VL, DQ, BW): 16-float vectors, 4 per 64-column tile.
#include "CSparse.h"
#include "sparse_isa.h"
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma"))), apply_to = function)

typedef __m512 VF;
typedef __mmask16 VMASK;
#define VW 16
#define VZERO _mm512_setzero_ps()
#define VSET1(x) _mm512_set1_ps(x)
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps(p, v)
#define VMASK_N(n) ((__mmask16)((1u << (n)) - 1u))
#define VMLOAD(m, p) _mm512_maskz_loadu_ps(m, p)
#define VMSTORE(p, m, v) _mm512_mask_storeu_ps(p, m, v)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VHSUM(v) _mm512_reduce_add_ps(v)
#define NAME(x) x##_avx512
#define VMAX(a, b) _mm512_max_ps(a, b)

/// 16 vectors → one whose lane j sums v[j]: pairwise unpack-adds within 128-bit chunks, then across chunks.
static inline __m512 reduce16(const __m512 *v) {
    __m512 y[4];
    for (int g = 0; g < 4; g++) {
        const __m512 *s = v + 4 * g;
        __m512 x01 = _mm512_add_ps(_mm512_unpacklo_ps(s[0], s[1]), _mm512_unpackhi_ps(s[0], s[1]));
        __m512 x23 = _mm512_add_ps(_mm512_unpacklo_ps(s[2], s[3]), _mm512_unpackhi_ps(s[2], s[3]));
        y[g] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(x01), _mm512_castps_pd(x23))),
                             _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(x01), _mm512_castps_pd(x23))));
    }
    __m512 v01 = _mm512_add_ps(_mm512_shuffle_f32x4(y[0], y[1], 0x88), _mm512_shuffle_f32x4(y[0], y[1], 0xDD));
    __m512 v23 = _mm512_add_ps(_mm512_shuffle_f32x4(y[2], y[3], 0x88), _mm512_shuffle_f32x4(y[2], y[3], 0xDD));
    return _mm512_add_ps(_mm512_shuffle_f32x4(v01, v23, 0x88), _mm512_shuffle_f32x4(v01, v23, 0xDD));
}
#define VREDUCE(v) reduce16(v)

#include "sparse_body.inc"

void sp_spmm_avx512(const sp_matrix *a, const float *b, int64_t stride, int32_t brows, float *pack, int64_t q0,
                  int64_t q1, float *c, int64_t ldc, int accumulate, const float *bias, int relu) {
    spmm_avx512(a, b, stride, brows, pack, q0, q1, c, ldc, accumulate, bias, relu);
}

void sp_sddmm_avx512(const sp_matrix *a, const float *d, int64_t ldd, const float *b, int64_t stride, int32_t brows,
                     float *pack, int64_t q0, int64_t q1, int32_t r0, int32_t r1, float *out) {
    sddmm_avx512(a, d, ldd, b, stride, brows, pack, q0, q1, r0, r1, out);
}

#pragma clang attribute pop
