// The AVX2 + FMA bodies: 8-float vectors, 8 per 64-column tile.
#include "CSparse.h"
#include "sparse_isa.h"
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,popcnt"))), apply_to = function)

typedef __m256 VF;
typedef __m256i VMASK;
#define VW 8
#define VZERO _mm256_setzero_ps()
#define VSET1(x) _mm256_set1_ps(x)
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTREAM(p, v) _mm256_stream_ps(p, v)
#define VFENCE() _mm_sfence()
#define VSTORE(p, v) _mm256_storeu_ps(p, v)
#define VMASK_N(n) _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define VMLOAD(m, p) _mm256_maskload_ps(p, m)
#define VMSTORE(p, m, v) _mm256_maskstore_ps(p, m, v)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define NAME(x) x##_avx2
#define VMAX(a, b) _mm256_max_ps(a, b)

/// The compressed store and expanding load AVX2 lacks, lane by lane through the stack.
static inline void cstore_avx2(float *p, uint32_t lanes, __m256 v) {
    float t[8];
    _mm256_storeu_ps(t, v);
    for (int j = 0, k = 0; j < 8; j++)
        if (lanes >> j & 1) p[k++] = t[j];
}
static inline __m256 xload_avx2(const float *p, uint32_t lanes) {
    float t[8];
    for (int j = 0, k = 0; j < 8; j++) t[j] = lanes >> j & 1 ? p[k++] : 0.0f;
    return _mm256_loadu_ps(t);
}
#define VCSTORE(p, lanes, v) cstore_avx2(p, lanes, v)
#define VXLOAD(p, lanes) xload_avx2(p, lanes)
#define VEVENS(dst, src, n) do { for (int j_ = 0; j_ < (n); j_++) (dst)[j_] = (src)[2 * j_]; } while (0)
#define VADD_EVENS(dst, src, n) do { for (int j_ = 0; j_ < (n); j_++) (dst)[2 * j_] = (dst)[2 * j_] + (src)[j_]; } while (0)

static inline float hsum_avx2(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#define VHSUM(v) hsum_avx2(v)

/// 8 vectors → one whose lane j sums v[j].
static inline __m256 reduce8(const __m256 *v) {
    __m256 x01 = _mm256_add_ps(_mm256_unpacklo_ps(v[0], v[1]), _mm256_unpackhi_ps(v[0], v[1]));
    __m256 x23 = _mm256_add_ps(_mm256_unpacklo_ps(v[2], v[3]), _mm256_unpackhi_ps(v[2], v[3]));
    __m256 x45 = _mm256_add_ps(_mm256_unpacklo_ps(v[4], v[5]), _mm256_unpackhi_ps(v[4], v[5]));
    __m256 x67 = _mm256_add_ps(_mm256_unpacklo_ps(v[6], v[7]), _mm256_unpackhi_ps(v[6], v[7]));
    __m256 y0 = _mm256_add_ps(_mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(x01), _mm256_castps_pd(x23))),
                              _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(x01), _mm256_castps_pd(x23))));
    __m256 y1 = _mm256_add_ps(_mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(x45), _mm256_castps_pd(x67))),
                              _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(x45), _mm256_castps_pd(x67))));
    return _mm256_add_ps(_mm256_permute2f128_ps(y0, y1, 0x20), _mm256_permute2f128_ps(y0, y1, 0x31));
}
#define VREDUCE(v) reduce8(v)

#include "sparse_body.inc"

#pragma clang attribute pop
