// The AVX2 + FMA bodies: 8-float vectors, 8 per SpMM tile, 8 per SDDMM tile (16 registers).
#include "CSparse.h"
#include "sparse_isa.h"
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)

typedef __m256 VF;
typedef __m256i VMASK;
#define VW 8
#define SD_NV 8
#define VZERO _mm256_setzero_ps()
#define VSET1(x) _mm256_set1_ps(x)
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps(p, v)
#define VMASK_N(n) _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define VMLOAD(m, p) _mm256_maskload_ps(p, m)
#define VMSTORE(p, m, v) _mm256_maskstore_ps(p, m, v)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define NAME(x) x##_avx2

static inline float hsum_avx2(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#define VHSUM(v) hsum_avx2(v)

#include "sparse_body.inc"

void sp_spmm_avx2(const sp_matrix *a, const float *b, int64_t stride, int64_t q0, int64_t q1,
                  float *c, int64_t ldc, int accumulate) {
    spmm_avx2(a, b, stride, q0, q1, c, ldc, accumulate);
}

void sp_sddmm_avx2(const sp_matrix *a, const float *d, int64_t ldd, const float *b, int64_t stride,
                   int64_t q0, int64_t q1, int32_t r0, int32_t r1, float *out) {
    sddmm_avx2(a, d, ldd, b, stride, q0, q1, r0, r1, out);
}

#pragma clang attribute pop
