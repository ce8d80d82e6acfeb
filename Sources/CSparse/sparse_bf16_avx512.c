// The AVX512_BF16 bodies of the bf16 SpMM and SDDMM (sparse_bf16.c defines what they compute): two entries of a row
// at a time, their dense rows interleaved word by word (vpunpcklwd/hwd) so that one vdpbf16ps adds both
// products to 16 columns — any two entries pair, kept weights need not be adjacent. The interleave
// leaves the columns of a 32-column half in the order {0–3, 8–11, 16–19, 24–27} | {4–7, 12–15, 20–23,
// 28–31}; C's tile is permuted into that order when loaded and back when stored.
#include "CSparse.h"
#include "sparse_ahead.h"
#include "sparse_crop.h"
#include "sparse_isa.h"
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx512bf16,avx2,fma,popcnt"))), apply_to = function)

#define TILE 64

static inline __mmask32 mask32(int n) { return n >= 32 ? (__mmask32)0xFFFFFFFFu : n <= 0 ? 0 : (__mmask32)((1u << n) - 1u); }
static inline __mmask16 mask16(int n) { return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? 0 : (__mmask16)((1u << n) - 1u); }

/// The 64 bf16 of a dense row from p (columns past w read as zero when the tile is partial).
static inline void load_row(const bf16_t *p, int w, __m512i *h0, __m512i *h1) {
    if (w == TILE) {
        *h0 = _mm512_loadu_si512(p);
        *h1 = _mm512_loadu_si512(p + 32);
    } else {
        *h0 = _mm512_maskz_loadu_epi16(mask32(w), p);
        *h1 = _mm512_maskz_loadu_epi16(mask32(w - 32), p + 32);
    }
}

#include "sparse_reduce16.h"

/// The first popcount(lanes) lanes, where compressed values sit.
static inline __mmask16 packed_lanes(uint32_t lanes) { return (__mmask16)((1u << __builtin_popcount(lanes)) - 1u); }

/// popcount(lanes) floats from p spread over the lanes set in `lanes`, zeros elsewhere.
static inline __m512 expand_load(const float *p, uint32_t lanes) {
    return _mm512_maskz_expand_ps((__mmask16)lanes, _mm512_maskz_loadu_ps(packed_lanes(lanes), p));
}

/// One 64-column tile of C for every row (q: its first column, w ≤ 64 its width); b is bf16, row
/// `offset[e]·stride` of entry e, read from column q. With `c16` the last block's store (after the epilogue)
/// goes there instead, rounded to bf16 (rows ldc16 apart); the blocks before it keep their sums in c. The first
/// block's rows fetch `ahead` and `ahead2` (next tiles of the operands) a share each. With `crop` the output
/// (c16, else c and the residual) holds only the tile's output positions, where `crop` says; nothing streams.
static inline __attribute__((always_inline)) void spmm_tile(const sp_matrix *a, const bf16_t *b, int64_t stride, int64_t q,
                                                            int w, float *c, int64_t ldc, int accumulate,
                                                            const float *bias, const float *residual, int relu,
                                                            int stream, bf16_t *c16, int64_t ldc16, sp_ahead ahead,
                                                            sp_ahead ahead2, const sp_crop_tile *crop) {
    // Natural order from the interleaved accumulators, and back.
    const __m512i out_lo = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
    const __m512i out_hi = _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
    const __m512i in_lo = _mm512_setr_epi32(0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27);
    const __m512i in_hi = _mm512_setr_epi32(4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
    __mmask16 m[4];
    for (int v = 0; v < 4; v++) m[v] = mask16(w - 16 * v);
    const int full = w == TILE;
    const sp_crop_tile *cropc = c16 ? 0 : crop;   // C itself is the cropped output (else the cached tile of sums)
    const __m512i zero = _mm512_setzero_si512();
    const int32_t rows = a->rows;
    const bf16_t *bq = b + q;
    for (int32_t blk = 0; blk < a->blocks; blk++) {
        const int32_t *st = a->start + (int64_t)blk * (rows + 1);
        const int fresh = blk == 0 && !accumulate, last = blk == a->blocks - 1;
        const int epilogue = last && (bias || residual || relu), to16 = c16 && last;
        // Only the last block's stores may pass the cache: the blocks before it store sums the next one reloads.
        const int streamed = stream && last;
        for (int32_t i = 0; i < rows; i++) {
            if (blk == 0) {
                sp_ahead_share(&ahead, i, rows);
                sp_ahead_share(&ahead2, i, rows);
            }
            const int32_t e0 = st[i], e1 = st[i + 1];
            if (e0 == e1 && !fresh && !epilogue && !to16) continue;
            float *cr = c + (int64_t)i * ldc + (cropc ? 0 : q);
            __m512 acc[4];
            if (fresh) {
                for (int v = 0; v < 4; v++) acc[v] = _mm512_setzero_ps();
            } else {
                // Accumulating: C's rows come from memory, far apart; fetch this row's next tile meanwhile.
                if (accumulate && blk == 0 && !cropc)
                    for (int v = 0; v < 4; v++) _mm_prefetch((const char *)(cr + TILE + 16 * v), _MM_HINT_T1);
                __m512 n[4];
                for (int v = 0; v < 4; v++)
                    n[v] = cropc ? expand_load(cr + sp_crop_at(cropc, v, 16), sp_crop_lanes(cropc, v, 16))
                           : full ? _mm512_loadu_ps(cr + 16 * v) : _mm512_maskz_loadu_ps(m[v], cr + 16 * v);
                for (int h = 0; h < 2; h++) {
                    acc[2 * h] = _mm512_permutex2var_ps(n[2 * h], in_lo, n[2 * h + 1]);
                    acc[2 * h + 1] = _mm512_permutex2var_ps(n[2 * h], in_hi, n[2 * h + 1]);
                }
            }
            int32_t e = e0;
            for (; e + 2 <= e1; e += 2) {
                // Words 0, 1 = bf16(value[e]), bf16(value[e + 1]): the pair's weights in every dword.
                const __m128 wv = _mm_castpd_ps(_mm_load_sd((const double *)(a->value + e)));
                const __m512bh wp = (__m512bh)_mm512_broadcastd_epi32((__m128i)_mm_cvtneps_pbh(wv));
                __m512i x0, x1, y0, y1;
                load_row(bq + (int64_t)a->offset[e] * stride, w, &x0, &x1);
                load_row(bq + (int64_t)a->offset[e + 1] * stride, w, &y0, &y1);
                acc[0] = _mm512_dpbf16_ps(acc[0], (__m512bh)_mm512_unpacklo_epi16(x0, y0), wp);
                acc[1] = _mm512_dpbf16_ps(acc[1], (__m512bh)_mm512_unpackhi_epi16(x0, y0), wp);
                acc[2] = _mm512_dpbf16_ps(acc[2], (__m512bh)_mm512_unpacklo_epi16(x1, y1), wp);
                acc[3] = _mm512_dpbf16_ps(acc[3], (__m512bh)_mm512_unpackhi_epi16(x1, y1), wp);
            }
            if (e < e1) {
                // A lone last entry pairs with a zero weight over zero words.
                const __m512bh wp = (__m512bh)_mm512_broadcastd_epi32((__m128i)_mm_cvtneps_pbh(_mm_load_ss(a->value + e)));
                __m512i x0, x1;
                load_row(bq + (int64_t)a->offset[e] * stride, w, &x0, &x1);
                acc[0] = _mm512_dpbf16_ps(acc[0], (__m512bh)_mm512_unpacklo_epi16(x0, zero), wp);
                acc[1] = _mm512_dpbf16_ps(acc[1], (__m512bh)_mm512_unpackhi_epi16(x0, zero), wp);
                acc[2] = _mm512_dpbf16_ps(acc[2], (__m512bh)_mm512_unpacklo_epi16(x1, zero), wp);
                acc[3] = _mm512_dpbf16_ps(acc[3], (__m512bh)_mm512_unpackhi_epi16(x1, zero), wp);
            }
            __m512 n[4];
            for (int h = 0; h < 2; h++) {
                n[2 * h] = _mm512_permutex2var_ps(acc[2 * h], out_lo, acc[2 * h + 1]);
                n[2 * h + 1] = _mm512_permutex2var_ps(acc[2 * h], out_hi, acc[2 * h + 1]);
            }
            if (epilogue) {
                const __m512 shift = _mm512_set1_ps(bias ? bias[i] : 0.0f);
                const float *rr = residual ? residual + (int64_t)i * ldc + (cropc ? 0 : q) : 0;
                for (int v = 0; v < 4; v++) {
                    n[v] = _mm512_add_ps(n[v], shift);
                    if (rr)
                        n[v] = _mm512_add_ps(n[v], cropc ? expand_load(rr + sp_crop_at(cropc, v, 16), sp_crop_lanes(cropc, v, 16))
                                                   : full ? _mm512_loadu_ps(rr + 16 * v) : _mm512_maskz_loadu_ps(m[v], rr + 16 * v));
                    if (relu) n[v] = _mm512_max_ps(n[v], _mm512_setzero_ps());
                }
            }
            if (to16 && crop) {
                bf16_t *hr = c16 + (int64_t)i * ldc16;
                for (int v = 0; v < 4; v++) {
                    const uint32_t lanes = sp_crop_lanes(crop, v, 16);
                    if (!lanes) continue;
                    const __m256i h = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_compress_ps((__mmask16)lanes, n[v]));
                    _mm256_mask_storeu_epi16(hr + sp_crop_at(crop, v, 16), packed_lanes(lanes), h);
                }
            } else if (to16) {
                bf16_t *hr = c16 + (int64_t)i * ldc16 + q;
                for (int v = 0; v < 4; v++) {
                    const __m256i h = (__m256i)_mm512_cvtneps_pbh(n[v]);
                    if (!full) _mm256_mask_storeu_epi16(hr + 16 * v, m[v], h);
                    else if (streamed && ((uintptr_t)hr % 32) == 0) _mm256_stream_si256((__m256i *)(hr + 16 * v), h);
                    else _mm256_storeu_si256((__m256i *)(hr + 16 * v), h);
                }
            } else if (cropc) {
                for (int v = 0; v < 4; v++) {
                    const uint32_t lanes = sp_crop_lanes(cropc, v, 16);
                    if (lanes)
                        _mm512_mask_storeu_ps(cr + sp_crop_at(cropc, v, 16), packed_lanes(lanes),
                                              _mm512_maskz_compress_ps((__mmask16)lanes, n[v]));
                }
            } else if (full && streamed && !c16 && ((uintptr_t)cr % 64) == 0) {   // (c16: c is the cached tile)
                for (int v = 0; v < 4; v++) _mm512_stream_ps(cr + 16 * v, n[v]);
            } else {
                for (int v = 0; v < 4; v++) {
                    if (full) _mm512_storeu_ps(cr + 16 * v, n[v]); else _mm512_mask_storeu_ps(cr + 16 * v, m[v], n[v]);
                }
            }
        }
    }
}

/// Rows [0, rows) of B's tile at column q (width w) rounded to bf16 into `pack`, 64 apart (zeros past w).
static inline void pack_tile(const float *b, int64_t stride, int32_t rows, int64_t q, int w, bf16_t *pack) {
    __mmask16 m[4];
    for (int v = 0; v < 4; v++) m[v] = mask16(w - 16 * v);
    for (int32_t r = 0; r < rows; r++) {
        const float *src = b + (int64_t)r * stride + q;
        bf16_t *dst = pack + (int64_t)r * TILE;
        for (int v = 0; v < 4; v++) {
            const __m512 x = w == TILE ? _mm512_loadu_ps(src + 16 * v) : _mm512_maskz_loadu_ps(m[v], src + 16 * v);
            _mm256_storeu_si256((__m256i *)(dst + 16 * v), (__m256i)_mm512_cvtneps_pbh(x));
        }
    }
}

/// The same tile of a B already in bf16 (SP_B_BF16), copied (zeros past w).
static inline void pack_tile16(const bf16_t *b, int64_t stride, int32_t rows, int64_t q, int w, bf16_t *pack) {
    for (int32_t r = 0; r < rows; r++) {
        const bf16_t *src = b + (int64_t)r * stride + q;
        __m512i h0, h1;
        load_row(src, w, &h0, &h1);
        _mm512_storeu_si512(pack + (int64_t)r * TILE, h0);
        _mm512_storeu_si512(pack + (int64_t)r * TILE + 32, h1);
    }
}

/// B's tile into the pack: rounded from fp32, or copied from bf16.
static inline void pack_b(const void *b, int bf16, int64_t stride, int32_t rows, int64_t q, int w, bf16_t *pack) {
    if (bf16) pack_tile16((const bf16_t *)b, stride, rows, q, w, pack);
    else pack_tile((const float *)b, stride, rows, q, w, pack);
}

/// The next tile of B (fp32, or bf16 with `bf16`) after tile q.
static inline sp_ahead ahead_b(const void *b, int bf16, int64_t stride, int32_t rows, int64_t q, int64_t q1) {
    return sp_ahead_of(b, stride, rows, q, q1, bf16 ? (int)sizeof(bf16_t) : (int)sizeof(float));
}

/// The sampled product's tile (rows [r0, r1), q, w): each row's 64 bf16 of D in two registers; per entry,
/// two vdpbf16ps over adjacent column pairs leave 16 partial sums, and sixteen entries' sums are reduced at
/// once (reduce16: lane t of the result is vector t's (S0 + S1) + (S2 + S3), Sc = (v[4c] + v[4c+2]) +
/// (v[4c+1] + v[4c+3])); a row's last few entries go through the same reduction beside zero vectors. The
/// first block's rows fetch `ahead` and `ahead2` a share each.
static inline __attribute__((always_inline)) void sddmm_tile(const sp_matrix *a, const bf16_t *d, int64_t ldd,
                                                             const bf16_t *b, int64_t stride, int64_t q, int w,
                                                             int32_t r0, int32_t r1, float *out, sp_ahead ahead,
                                                             sp_ahead ahead2) {
    const int32_t rows = a->rows;
    for (int32_t blk = 0; blk < a->blocks; blk++) {
        const int32_t *st = a->start + (int64_t)blk * (rows + 1);
        for (int32_t i = r0; i < r1; i++) {
            if (blk == 0) {
                sp_ahead_share(&ahead, i - r0, r1 - r0);
                sp_ahead_share(&ahead2, i - r0, r1 - r0);
            }
            const int32_t e0 = st[i], e1 = st[i + 1];
            if (e0 == e1) continue;
            __m512i d0, d1;
            load_row(d + (int64_t)i * ldd + q, w, &d0, &d1);
            for (int32_t e = e0; e < e1; e += 16) {
                const int n = e1 - e < 16 ? e1 - e : 16;
                __m512 sums[16];
                for (int j = 0; j < 16; j++) {
                    if (j < n) {
                        __m512i x0, x1;
                        load_row(b + (int64_t)a->offset[e + j] * stride + q, w, &x0, &x1);
                        const __m512 s0 = _mm512_dpbf16_ps(_mm512_setzero_ps(), (__m512bh)d0, (__m512bh)x0);
                        sums[j] = _mm512_dpbf16_ps(s0, (__m512bh)d1, (__m512bh)x1);
                    } else {
                        sums[j] = _mm512_setzero_ps();
                    }
                }
                const __mmask16 m = mask16(n);
                _mm512_mask_storeu_ps(out + e, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, out + e), reduce16(sums)));
            }
        }
    }
}

/// pack_tile for a 1×1 stride-2 conv's operand gathered from its input x (sp_spmm_subsampled's runs), rounded to bf16;
/// unlike pack_tile it leaves the columns past w as they were (load_row reads them as zeros).
static inline void pack_subsampled(const float *x, int64_t chan, int32_t rows, const sp_subsample *g, int64_t q, int w,
                                   bf16_t *pack) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    int32_t run_at[TILE], run_len[TILE];
    int64_t run_src[TILE];
    int runs = 0;
    const int64_t plane = g->oh * g->ow;
    int64_t n = q / plane, r = q - n * plane, i = r / g->ow, j = r - i * g->ow;
    for (int k = 0; k < w;) {
        const int len = g->ow - j < w - k ? (int)(g->ow - j) : w - k;
        run_at[runs] = k, run_len[runs] = len, run_src[runs] = (n * g->h + 2 * i) * g->wd + 2 * j;
        runs++, k += len, j = 0;
        if (++i == g->oh) i = 0, n++;
    }
    for (int32_t c = 0; c < rows; c++) {
        const float *src = x + (int64_t)c * chan;
        bf16_t *dst = pack + (int64_t)c * TILE;
        for (int u = 0; u < runs; u++)
            for (int k = 0; k < run_len[u]; k += 16) {
                const int m = run_len[u] - k < 16 ? run_len[u] - k : 16, last = 2 * m - 1;   // outputs, floats read
                const float *p = src + run_src[u] + 2 * k;
                const __m512 lo = last >= 16 ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps((__mmask16)((1u << last) - 1u), p);
                const __m512 hi = last > 16 ? _mm512_maskz_loadu_ps((__mmask16)((1u << (last - 16)) - 1u), p + 16)
                                            : _mm512_setzero_ps();
                const __m256i h = (__m256i)_mm512_cvtneps_pbh(_mm512_permutex2var_ps(lo, even, hi));
                _mm256_mask_storeu_epi16(dst + run_at[u] + k, mask16(m), h);
            }
    }
}

void sp_spmm_bf16_subsampled_avx512bf16(const sp_matrix *a, const float *x, int64_t chan, int32_t rows,
                                        const sp_subsample *g, bf16_t *pack, float *tile, int64_t q0, int64_t q1, float *c,
                                        bf16_t *c16, int64_t ldc, int flags, const float *bias, const float *residual) {
    const int accumulate = flags & SP_ACCUMULATE, relu = (flags & SP_RELU) != 0, stream = flags & SP_STREAM;
    const int64_t plane = g->oh * g->ow;
    for (int64_t q = q0; q < q1; q += TILE) {
        const int w = q1 - q < TILE ? (int)(q1 - q) : TILE;
        pack_subsampled(x, chan, rows, g, q, w, pack);
        // The next tile's input span, as the fp32 body fetches it (sparse_body.inc, spmm_subsampled).
        sp_ahead next = sp_ahead_none();
        if (q + TILE < q1) {
            const int64_t p = q + TILE, n = p / plane, i = (p - n * plane) / g->ow;
            const int64_t span = (TILE / g->ow + 2) * 2 * g->wd;
            next = (sp_ahead){(const char *)(x + (n * g->h + 2 * i) * g->wd), chan * (int64_t)sizeof(float), rows,
                              (int32_t)(span * sizeof(float))};
        }
        if (c16) spmm_tile(a, pack - q, TILE, q, w, tile - q, TILE, 0, bias, 0, relu, stream, c16, ldc, next, sp_ahead_none(), 0);
        else spmm_tile(a, pack - q, TILE, q, w, c, ldc, accumulate, bias, residual, relu, stream, 0, 0, next, sp_ahead_none(), 0);
    }
    if (stream) _mm_sfence();
}

void sp_spmm_bf16_avx512bf16(const sp_matrix *a, const void *b, int64_t stride, int32_t brows, bf16_t *pack, int64_t q0,
                             int64_t q1, float *c, int64_t ldc, int flags, const float *bias, const float *residual) {
    const int accumulate = flags & SP_ACCUMULATE, relu = (flags & SP_RELU) != 0, stream = flags & SP_STREAM;
    const int b16 = (flags & SP_B_BF16) != 0;
    for (int64_t q = q0; q < q1; q += TILE) {
        const int w = q1 - q < TILE ? (int)(q1 - q) : TILE;
        pack_b(b, b16, stride, brows, q, w, pack);
        spmm_tile(a, pack - q, TILE, q, w, c, ldc, accumulate, bias, residual, relu, stream, 0, 0,
                  ahead_b(b, b16, stride, brows, q, q1), sp_ahead_none(), 0);
    }
    if (stream) _mm_sfence();
}

void sp_spmm_bf16_to_bf16_avx512bf16(const sp_matrix *a, const void *b, int64_t stride, int32_t brows, bf16_t *pack,
                                     float *tile, int64_t q0, int64_t q1, bf16_t *c, int64_t ldc, int flags,
                                     const float *bias) {
    const int relu = (flags & SP_RELU) != 0, stream = flags & SP_STREAM, b16 = (flags & SP_B_BF16) != 0;
    for (int64_t q = q0; q < q1; q += TILE) {
        const int w = q1 - q < TILE ? (int)(q1 - q) : TILE;
        pack_b(b, b16, stride, brows, q, w, pack);
        spmm_tile(a, pack - q, TILE, q, w, tile - q, TILE, 0, bias, 0, relu, stream, c, ldc,
                  ahead_b(b, b16, stride, brows, q, q1), sp_ahead_none(), 0);
    }
    if (stream) _mm_sfence();
}

void sp_spmm_bf16_planes_avx512bf16(const sp_matrix *a, const bf16_t *b, int64_t q0, int64_t q1, float *c, int64_t ldc,
                                    int flags, const float *bias, const float *residual) {
    const int accumulate = flags & SP_ACCUMULATE, relu = (flags & SP_RELU) != 0, stream = flags & SP_STREAM;
    for (int64_t q = q0; q < q1; q += TILE) {
        const int w = q1 - q < TILE ? (int)(q1 - q) : TILE;
        spmm_tile(a, b, 1, q, w, c, ldc, accumulate, bias, residual, relu, stream, 0, 0, sp_ahead_none(), sp_ahead_none(), 0);
    }
    if (stream) _mm_sfence();
}

void sp_spmm_bf16_cropped_avx512bf16(const sp_matrix *a, const bf16_t *b, int64_t q0, int64_t q1, const sp_crop *g,
                                     float *tile, float *c, bf16_t *c16, int64_t ldc, int flags, const float *bias,
                                     const float *residual) {
    const int accumulate = flags & SP_ACCUMULATE, relu = (flags & SP_RELU) != 0;
    for (int64_t q = q0; q < q1; q += TILE) {
        const int w = q1 - q < TILE ? (int)(q1 - q) : TILE;
        const sp_crop_tile t = sp_crop_tile_of(g, q, w);
        if (t.first < 0) continue;
        if (c16) spmm_tile(a, b, 1, q, w, tile - q, TILE, 0, bias, 0, relu, 0, c16, ldc, sp_ahead_none(), sp_ahead_none(), &t);
        else spmm_tile(a, b, 1, q, w, c, ldc, accumulate, bias, residual, relu, 0, 0, 0, sp_ahead_none(), sp_ahead_none(), &t);
    }
}

void sp_backward_bf16_avx512bf16(const sp_matrix *a, const sp_matrix *at, const void *d, int64_t ldd, int32_t drows,
                                 const void *b, int64_t ldb, int32_t brows, bf16_t *pack, int64_t q0, int64_t q1,
                                 float *c, int64_t ldc, int flags, float *out) {
    const int accumulate = flags & SP_ACCUMULATE, stream = flags & SP_STREAM, in_place = flags & SP_D_BF16;
    const int b16 = (flags & SP_B_BF16) != 0;
    bf16_t *dp = pack, *bp = pack + (int64_t)drows * TILE;
    for (int64_t q = q0; q < q1; q += TILE) {
        const int w = q1 - q < TILE ? (int)(q1 - q) : TILE;
        // D's tile: read where it is (bf16 already), or rounded into the pack.
        const bf16_t *dt = in_place ? (const bf16_t *)d : dp - q;
        const int64_t dld = in_place ? ldd : TILE;
        if (!in_place) pack_tile((const float *)d, ldd, drows, q, w, dp);
        // The next tiles of D (packed or read in place: rows far apart either way) and of B, fetched during
        // the SDDMM when it runs, else during ∂X's product.
        const sp_ahead next_d = ahead_b(d, in_place, ldd, drows, q, q1);
        const sp_ahead next_b = out ? ahead_b(b, b16, ldb, brows, q, q1) : sp_ahead_none();
        if (out) {
            pack_b(b, b16, ldb, brows, q, w, bp);
            sddmm_tile(a, dt, dld, bp - q, TILE, q, w, 0, a->rows, out, next_d, next_b);
        }
        if (at) spmm_tile(at, dt, dld, q, w, c, ldc, accumulate, 0, 0, 0, stream, 0, 0, out ? sp_ahead_none() : next_d,
                          sp_ahead_none(), 0);
    }
    if (stream) _mm_sfence();
}

void sp_backward_bf16_planes_avx512bf16(const sp_matrix *a, const sp_matrix *at, const bf16_t *d, int64_t ldd,
                                        const bf16_t *b, const bf16_t *dt, int64_t q0, int64_t q1, float *c, int64_t ldc,
                                        float *out) {
    for (int64_t q = q0; q < q1; q += TILE) {
        const int w = q1 - q < TILE ? (int)(q1 - q) : TILE;
        if (out) sddmm_tile(a, d, ldd, b, 1, q, w, 0, a->rows, out, sp_ahead_none(), sp_ahead_none());
        if (at) spmm_tile(at, dt, 1, q, w, c, ldc, 0, 0, 0, 0, 0, 0, 0, sp_ahead_none(), sp_ahead_none(), 0);
    }
}

#pragma clang attribute pop
