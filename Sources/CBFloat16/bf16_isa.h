// The per-instruction-set entry points bf16.c dispatches to.
#ifndef CBFLOAT16_ISA_H
#define CBFLOAT16_ISA_H
#include "CBFloat16.h"
void bf16_round_avx512(const float *src, bf16_t *dst, int64_t n);
void bf16_pack_rows_avx512(const float *src, int64_t ld, int32_t rows, int32_t cols, bf16_t *dst, int64_t ldd);
void bf16_pack_pairs_avx512(const float *src, int64_t ld, int32_t k, int32_t n, bf16_t *dst);
void bf16_pack_pairs_transposed_avx512(const float *src, int64_t ld, int32_t n, int32_t k, bf16_t *dst);
void bf16_gemm_avx512(int32_t m, int32_t n, int32_t k, const bf16_t *a, int64_t lda, const bf16_t *b, float *c,
                      int64_t ldc, int accumulate);
/// Pairs of k summed per pass over C (the products' blocking: a 48-column panel of B this deep stays in L1).
#define BF16_KC 128
#endif
