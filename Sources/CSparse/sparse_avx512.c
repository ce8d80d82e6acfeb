// The AVX-512 bodies (F, VL, DQ, BW): 16-float vectors, 4 per 64-column tile.
#include "CSparse.h"
#include "sparse_isa.h"
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,popcnt"))), apply_to = function)

typedef __m512 VF;
typedef __mmask16 VMASK;
#define VW 16
#define VZERO _mm512_setzero_ps()
#define VSET1(x) _mm512_set1_ps(x)
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTREAM(p, v) _mm512_stream_ps(p, v)
#define VFENCE() _mm_sfence()
#define VSTORE(p, v) _mm512_storeu_ps(p, v)
#define VMASK_N(n) ((__mmask16)((1u << (n)) - 1u))
#define VMLOAD(m, p) _mm512_maskz_loadu_ps(m, p)
#define VMSTORE(p, m, v) _mm512_mask_storeu_ps(p, m, v)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VHSUM(v) _mm512_reduce_add_ps(v)
#define NAME(x) x##_avx512
#define VMAX(a, b) _mm512_max_ps(a, b)
#define VLANES(lanes) ((__mmask16)((1u << __builtin_popcount(lanes)) - 1u))
#define VCSTORE(p, lanes, v) _mm512_mask_storeu_ps(p, VLANES(lanes), _mm512_maskz_compress_ps((__mmask16)(lanes), v))
#define VXLOAD(p, lanes) _mm512_maskz_expand_ps((__mmask16)(lanes), _mm512_maskz_loadu_ps(VLANES(lanes), p))

/// dst[j] = src[2j], j < n ≤ 16: two loads (masked to src[2n − 2]) and one two-source permutation.
static inline void evens_avx512(float *dst, const float *src, int n) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const int last = 2 * n - 1;   // floats read
    const __m512 lo = last >= 16 ? _mm512_loadu_ps(src) : _mm512_maskz_loadu_ps((__mmask16)((1u << last) - 1u), src);
    const __m512 hi = last > 16 ? _mm512_maskz_loadu_ps((__mmask16)((1u << (last - 16)) - 1u), src + 16) : _mm512_setzero_ps();
    const __m512 v = _mm512_permutex2var_ps(lo, even, hi);
    if (n == 16) _mm512_storeu_ps(dst, v); else _mm512_mask_storeu_ps(dst, (__mmask16)((1u << n) - 1u), v);
}
#define VEVENS(dst, src, n) evens_avx512(dst, src, n)

/// dst[2j] = dst[2j] + src[j], j < n ≤ 16: src's halves expanded to even lanes, added and stored under masks of the
/// even positions up to dst[2n − 2] (the odd ones neither read nor written).
static inline void add_evens_avx512(float *dst, const float *src, int n) {
    const __m512 v = n == 16 ? _mm512_loadu_ps(src) : _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1u), src);
    const int last = 2 * n - 1;   // floats spanned
    const __mmask16 m0 = (__mmask16)(0x5555u & (last >= 16 ? 0xFFFFu : (1u << last) - 1u));
    const __mmask16 m1 = (__mmask16)(0x5555u & (last > 16 ? (1u << (last - 16)) - 1u : 0u));
    const __m512 lo = _mm512_maskz_expand_ps((__mmask16)0x5555, v);
    _mm512_mask_storeu_ps(dst, m0, _mm512_add_ps(_mm512_maskz_loadu_ps(m0, dst), lo));
    if (m1) {
        const __m512 hi = _mm512_maskz_expand_ps((__mmask16)0x5555, _mm512_shuffle_f32x4(v, v, 0xEE));
        _mm512_mask_storeu_ps(dst + 16, m1, _mm512_add_ps(_mm512_maskz_loadu_ps(m1, dst + 16), hi));
    }
}
#define VADD_EVENS(dst, src, n) add_evens_avx512(dst, src, n)

#include "sparse_reduce16.h"
#define VREDUCE(v) reduce16(v)

#include "sparse_body.inc"

#pragma clang attribute pop

// The build's two passes with compares and compressing stores, 16 columns at a time.
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,popcnt"))), apply_to = function)

static inline __mmask16 valid16(int32_t k, int32_t k1) {
    const int32_t n = k1 - k < 16 ? k1 - k : 16;
    return (__mmask16)((1u << n) - 1u);
}

/// Lanes kept among columns [k, min(k + 16, k1)): mask ≠ 0, or |w| > threshold.
static inline __mmask16 kept16(const float *mask, const float *w, float threshold, int32_t k, int32_t k1) {
    const __mmask16 valid = valid16(k, k1);
    if (mask) return _mm512_mask_cmp_ps_mask(valid, _mm512_maskz_loadu_ps(valid, mask + k), _mm512_setzero_ps(), _CMP_NEQ_UQ);
    return _mm512_mask_cmp_ps_mask(valid, _mm512_abs_ps(_mm512_maskz_loadu_ps(valid, w + k)), _mm512_set1_ps(threshold),
                                   _CMP_GT_OQ);
}

void sp_count_avx512(const float *w, const float *mask, float threshold, int32_t rows, int32_t cols, int32_t block_cols,
                     int32_t r0, int32_t r1, int32_t *start) {
    const int32_t blocks = (cols + block_cols - 1) / block_cols;
    for (int32_t i = r0; i < r1; i++) {
        const float *wr = w + (int64_t)i * cols, *mr = mask ? mask + (int64_t)i * cols : 0;
        for (int32_t blk = 0; blk < blocks; blk++) {
            const int32_t k0 = blk * block_cols, k1 = k0 + block_cols < cols ? k0 + block_cols : cols;
            int32_t n = 0;
            for (int32_t k = k0; k < k1; k += 16) n += __builtin_popcount(kept16(mr, wr, threshold, k, k1));
            start[(int64_t)blk * (rows + 1) + i + 1] = n;
        }
    }
}

void sp_fill_avx512(const float *w, const float *mask, float threshold, int32_t rows, int32_t cols, int32_t block_cols,
                    const int32_t *col_offset, int32_t r0, int32_t r1, const int32_t *start,
                    int32_t *offset, int32_t *index, float *value) {
    const int32_t blocks = (cols + block_cols - 1) / block_cols;
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512 t = _mm512_set1_ps(threshold), sign = _mm512_set1_ps(-0.0f);
    for (int32_t i = r0; i < r1; i++) {
        const float *wr = w + (int64_t)i * cols, *mr = mask ? mask + (int64_t)i * cols : 0;
        for (int32_t blk = 0; blk < blocks; blk++) {
            const int32_t k0 = blk * block_cols, k1 = k0 + block_cols < cols ? k0 + block_cols : cols;
            int32_t e = start[(int64_t)blk * (rows + 1) + i];
            for (int32_t k = k0; k < k1; k += 16) {
                const __mmask16 m = kept16(mr, wr, threshold, k, k1);
                if (!m) continue;
                const __m512 x = _mm512_maskz_loadu_ps(m, wr + k);
                // Compressed in registers, then stored under the mask of the first popcount(m) lanes: AMD Zen 4
                // runs a compressing store to memory as microcode (about 140 cycles each), which made this fill
                // 20x slower than the count on a 512x4608 weight.
                const int n = __builtin_popcount(m);
                const __mmask16 first = (__mmask16)((1u << n) - 1u);
                // x − copysign(threshold, x): STR's soft threshold (threshold 0 leaves x).
                _mm512_mask_storeu_ps(value + e, first,
                                      _mm512_maskz_compress_ps(m, _mm512_sub_ps(x, _mm512_or_ps(t, _mm512_and_ps(x, sign)))));
                _mm512_mask_storeu_epi32(offset + e, first, _mm512_maskz_compress_epi32(m, _mm512_maskz_loadu_epi32(m, col_offset + k)));
                _mm512_mask_storeu_epi32(index + e, first,
                                         _mm512_maskz_compress_epi32(m, _mm512_add_epi32(iota, _mm512_set1_epi32(i * cols + k))));
                e += n;
            }
        }
    }
}

#pragma clang attribute pop
