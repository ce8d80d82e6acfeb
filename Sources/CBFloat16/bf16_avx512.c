// The AVX512_BF16 bodies: vcvtneps2bf16 for rounding and packing, vdpbf16ps for the product.
#include "CBFloat16.h"
#include "bf16_isa.h"
#include <immintrin.h>
#include <string.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx512bf16,avx2,fma"))), apply_to = function)

static inline __mmask16 mask16(int64_t n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u); }

/// 16 floats (the first `n`; the rest read as zero) → 16 bf16.
static inline __m256i round16(const float *src, int64_t n) {
    __m512 v = n >= 16 ? _mm512_loadu_ps(src) : _mm512_maskz_loadu_ps(mask16(n), src);
    return (__m256i)_mm512_cvtneps_pbh(v);
}

void bf16_round_avx512(const float *src, bf16_t *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm256_storeu_si256((__m256i *)(dst + i), round16(src + i, 16));
    if (i < n) _mm256_mask_storeu_epi16(dst + i, mask16(n - i), round16(src + i, n - i));
}

void bf16_pack_rows_avx512(const float *src, int64_t ld, int32_t rows, int32_t cols, bf16_t *dst, int64_t ldd) {
    for (int32_t r = 0; r < rows; r++) {
        bf16_round_avx512(src + r * ld, dst + r * ldd, cols);
        for (int64_t c = cols; c < ldd; c++) dst[r * ldd + c] = 0;
    }
}

void bf16_pack_pairs_avx512(const float *src, int64_t ld, int32_t k, int32_t n, bf16_t *dst) {
    int64_t np = bf16_packed_columns(n);
    // Word 2j of the result is row r's column j, word 2j + 1 row r + 1's.
    const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                                23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    for (int32_t r = 0; r < k; r += 2) {
        const float *r0 = src + r * ld, *r1 = r + 1 < k ? r0 + ld : NULL;
        bf16_t *out = dst + (r / 2) * np * 2;
        for (int64_t j = 0; j < np; j += 16) {
            int64_t w = n - j < 16 ? (n - j > 0 ? n - j : 0) : 16;
            __m512 v0 = _mm512_maskz_loadu_ps(mask16(w), r0 + j);
            __m512 v1 = r1 ? _mm512_maskz_loadu_ps(mask16(w), r1 + j) : _mm512_setzero_ps();
            __m512i both = (__m512i)_mm512_cvtne2ps_pbh(v1, v0);   // words 0–15 row r, 16–31 row r + 1
            _mm512_storeu_si512(out + j * 2, _mm512_permutexvar_epi16(interleave, both));
        }
    }
}

/// Sixteen rows of S (each 8 pair-words from round16) → 8 vectors of 16 words, word i of vector q from row i:
/// two 8 × 8 word transposes, one per 256-bit half.
static inline void transpose16x8(const __m256i *row, __m512i *out) {
    __m512i z[8], a[8], b[8];
    for (int i = 0; i < 8; i++) z[i] = _mm512_inserti64x4(_mm512_castsi256_si512(row[i]), row[i + 8], 1);
    for (int i = 0; i < 8; i += 2) {
        a[i] = _mm512_unpacklo_epi32(z[i], z[i + 1]);
        a[i + 1] = _mm512_unpackhi_epi32(z[i], z[i + 1]);
    }
    for (int h = 0; h < 8; h += 4) {
        b[h] = _mm512_unpacklo_epi64(a[h], a[h + 2]);
        b[h + 1] = _mm512_unpackhi_epi64(a[h], a[h + 2]);
        b[h + 2] = _mm512_unpacklo_epi64(a[h + 1], a[h + 3]);
        b[h + 3] = _mm512_unpackhi_epi64(a[h + 1], a[h + 3]);
    }
    const __m512i low = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0), high = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
    for (int q = 0; q < 4; q++) {
        out[q] = _mm512_permutex2var_epi64(b[q], low, b[q + 4]);
        out[q + 4] = _mm512_permutex2var_epi64(b[q], high, b[q + 4]);
    }
}

/// Pair p of a row of k floats as one word: element 2p in the low half, 2p + 1 (or 0 past k) in the high.
static inline uint32_t pair_word(const float *row, int64_t p, int32_t k) {
    bf16_t lo = bf16_from_float(row[2 * p]), hi = 2 * p + 1 < k ? bf16_from_float(row[2 * p + 1]) : 0;
    return (uint32_t)lo | ((uint32_t)hi << 16);
}

void bf16_pack_pairs_transposed_avx512(const float *src, int64_t ld, int32_t n, int32_t k, bf16_t *dst) {
    int64_t np = bf16_packed_columns(n), pairs = (k + 1) / 2;
    uint32_t *out = (uint32_t *)dst;
    // Whole blocks of 16 rows of S × 8 pairs: rounded, transposed in registers, stored as 8 runs of 16 words.
    int64_t j0 = 0;
    for (; j0 + 16 <= n; j0 += 16) {
        int64_t p = 0;
        for (; p + 8 <= pairs && 2 * p + 16 <= k; p += 8) {
            __m256i rows[16];
            __m512i cols[8];
            for (int i = 0; i < 16; i++) rows[i] = round16(src + (j0 + i) * ld + 2 * p, 16);
            transpose16x8(rows, cols);
            for (int q = 0; q < 8; q++) _mm512_storeu_si512(out + (p + q) * np + j0, cols[q]);
        }
        for (int64_t jj = j0; jj < j0 + 16; jj++)
            for (int64_t pp = p; pp < pairs; pp++) out[pp * np + jj] = pair_word(src + jj * ld, pp, k);
    }
    // The last rows of S (fewer than 16) and the zero columns up to np.
    for (int64_t j = j0; j < np; j++)
        for (int64_t p = 0; p < pairs; p++) out[p * np + j] = j < n ? pair_word(src + j * ld, p, k) : 0;
}

/// C[mr × 16·nv] (+)= A[mr × 2·kc] · B[kc pairs × 16·nv]: mr rows of A broadcast pair by pair against nv
/// vectors of B, mr·nv accumulators; the last vector's store masked to `lastw` columns.
static inline __attribute__((always_inline))
void tile(const int mr, const int nv, int64_t kc, const bf16_t *a, int64_t lda, const bf16_t *b, int64_t np,
          float *c, int64_t ldc, int load, __mmask16 lastm) {
    __m512 acc[8][3];
#pragma clang loop unroll(full)
    for (int r = 0; r < 8; r++)
#pragma clang loop unroll(full)
        for (int v = 0; v < 3; v++) {
            if (r >= mr || v >= nv) continue;
            __mmask16 m = v == nv - 1 ? lastm : (__mmask16)0xFFFF;
            acc[r][v] = load ? _mm512_maskz_loadu_ps(m, c + r * ldc + v * 16) : _mm512_setzero_ps();
        }
    for (int64_t p = 0; p < kc; p++) {
        const bf16_t *bp = b + p * np * 2;
        __m512bh bv[3];
#pragma clang loop unroll(full)
        for (int v = 0; v < 3; v++) if (v < nv) bv[v] = (__m512bh)_mm512_loadu_si512(bp + v * 32);
#pragma clang loop unroll(full)
        for (int r = 0; r < 8; r++) {
            if (r >= mr) continue;
            int32_t pair;
            memcpy(&pair, a + r * lda + 2 * p, 4);
            __m512bh av = (__m512bh)_mm512_set1_epi32(pair);
#pragma clang loop unroll(full)
            for (int v = 0; v < 3; v++) if (v < nv) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], av, bv[v]);
        }
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < 8; r++)
#pragma clang loop unroll(full)
        for (int v = 0; v < 3; v++) {
            if (r >= mr || v >= nv) continue;
            __mmask16 m = v == nv - 1 ? lastm : (__mmask16)0xFFFF;
            _mm512_mask_storeu_ps(c + r * ldc + v * 16, m, acc[r][v]);
        }
}

#define TILE_ROWS(NV)                                                                                        \
    switch (mr) {                                                                                            \
    case 8: tile(8, NV, kc, a, lda, b, np, c, ldc, load, lastm); break;                                      \
    case 7: tile(7, NV, kc, a, lda, b, np, c, ldc, load, lastm); break;                                      \
    case 6: tile(6, NV, kc, a, lda, b, np, c, ldc, load, lastm); break;                                      \
    case 5: tile(5, NV, kc, a, lda, b, np, c, ldc, load, lastm); break;                                      \
    case 4: tile(4, NV, kc, a, lda, b, np, c, ldc, load, lastm); break;                                      \
    case 3: tile(3, NV, kc, a, lda, b, np, c, ldc, load, lastm); break;                                      \
    case 2: tile(2, NV, kc, a, lda, b, np, c, ldc, load, lastm); break;                                      \
    default: tile(1, NV, kc, a, lda, b, np, c, ldc, load, lastm); break;                                     \
    }

static void tile_any(int mr, int nv, int64_t kc, const bf16_t *a, int64_t lda, const bf16_t *b, int64_t np,
                     float *c, int64_t ldc, int load, __mmask16 lastm) {
    if (nv == 3) { TILE_ROWS(3) } else if (nv == 2) { TILE_ROWS(2) } else { TILE_ROWS(1) }
}

void bf16_gemm_avx512(int32_t m, int32_t n, int32_t k, const bf16_t *a, int64_t lda, const bf16_t *b, float *c,
                      int64_t ldc, int accumulate) {
    int64_t np = bf16_packed_columns(n), pairs = (k + 1) / 2;
    for (int64_t p0 = 0; p0 < pairs; p0 += BF16_KC) {
        int64_t kc = pairs - p0 < BF16_KC ? pairs - p0 : BF16_KC;
        int load = accumulate || p0 > 0;
        for (int64_t j0 = 0; j0 < n; j0 += 48) {
            int64_t w = n - j0 < 48 ? n - j0 : 48;
            int nv = (int)((w + 15) / 16);
            __mmask16 lastm = mask16(w - (nv - 1) * 16);
            for (int64_t i0 = 0; i0 < m; i0 += 8) {
                int mr = m - i0 < 8 ? (int)(m - i0) : 8;
                tile_any(mr, nv, kc, a + i0 * lda + 2 * p0, lda, b + (p0 * np + j0) * 2, np, c + i0 * ldc + j0, ldc,
                         load, lastm);
            }
        }
    }
}

#pragma clang attribute pop
