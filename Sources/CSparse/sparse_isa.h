// The per-instruction-set entry points sparse.c dispatches to.
#ifndef CSPARSE_ISA_H
#define CSPARSE_ISA_H
#include "CSparse.h"
void sp_spmm_avx512(const sp_matrix *a, const float *b, int64_t stride, int32_t brows, float *pack, int64_t q0,
                  int64_t q1, float *c, int64_t ldc, int accumulate, const float *bias, int relu);
void sp_sddmm_avx512(const sp_matrix *a, const float *d, int64_t ldd, const float *b, int64_t stride, int32_t brows,
                   float *pack, int64_t q0, int64_t q1, int32_t r0, int32_t r1, float *out);
void sp_spmm_avx2(const sp_matrix *a, const float *b, int64_t stride, int32_t brows, float *pack, int64_t q0,
                  int64_t q1, float *c, int64_t ldc, int accumulate, const float *bias, int relu);
void sp_sddmm_avx2(const sp_matrix *a, const float *d, int64_t ldd, const float *b, int64_t stride, int32_t brows,
                   float *pack, int64_t q0, int64_t q1, int32_t r0, int32_t r1, float *out);
#endif
