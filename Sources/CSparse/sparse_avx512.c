// The AVX-512 bodies (F, VL, DQ, BW): 16-float vectors, 4 per SpMM tile, 16 per SDDMM tile.
#include "CSparse.h"
#include "sparse_isa.h"
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma"))), apply_to = function)

typedef __m512 VF;
typedef __mmask16 VMASK;
#define VW 16
#define SD_NV 16
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

#include "sparse_body.inc"

void sp_spmm_avx512(const sp_matrix *a, const float *b, int64_t stride, int64_t q0, int64_t q1,
                    float *c, int64_t ldc, int accumulate) {
    spmm_avx512(a, b, stride, q0, q1, c, ldc, accumulate);
}

void sp_sddmm_avx512(const sp_matrix *a, const float *d, int64_t ldd, const float *b, int64_t stride,
                     int64_t q0, int64_t q1, int32_t r0, int32_t r1, float *out) {
    sddmm_avx512(a, d, ldd, b, stride, q0, q1, r0, r1, out);
}

#pragma clang attribute pop
