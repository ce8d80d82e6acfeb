// The SDDMM's transposing reduction, shared by the AVX-512 bodies (sparse_avx512.c, sparse_bf16_avx512.c);
// included inside their AVX-512 target region.
#ifndef SPARSE_REDUCE16_H
#define SPARSE_REDUCE16_H
#include <immintrin.h>

/// 16 vectors → one whose lane t sums v[t]'s lanes: pairwise unpack-adds within 128-bit chunks, then
/// across chunks — lane t is (S0 + S1) + (S2 + S3) of v[t], Sc = (v[4c] + v[4c+2]) + (v[4c+1] + v[4c+3])
/// (the order sparse_bf16.c's portable body repeats).
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
#endif
