// The per-instruction-set entry points sparse.c dispatches to.
#ifndef CSPARSE_ISA_H
#define CSPARSE_ISA_H
#include "CSparse.h"
void sp_spmm_avx512(const sp_matrix *a, const float *b, int64_t stride, int32_t brows, float *pack, int64_t q0,
                  int64_t q1, float *c, int64_t ldc, int flags, const float *bias, const float *residual);
void sp_spmm_cropped_avx512(const sp_matrix *a, const float *b, int64_t q0, int64_t q1, const sp_crop *crop, float *c,
                            int64_t ldc, int flags, const float *bias, const float *residual);
void sp_spmm_cropped_avx2(const sp_matrix *a, const float *b, int64_t q0, int64_t q1, const sp_crop *crop, float *c,
                          int64_t ldc, int flags, const float *bias, const float *residual);
void sp_spmm_subsampled_avx512(const sp_matrix *a, const float *x, int64_t chan, int32_t rows, const sp_subsample *g,
                               float *pack, int64_t q0, int64_t q1, float *c, int64_t ldc, int flags, const float *bias,
                               const float *residual);
void sp_spmm_subsampled_avx2(const sp_matrix *a, const float *x, int64_t chan, int32_t rows, const sp_subsample *g,
                             float *pack, int64_t q0, int64_t q1, float *c, int64_t ldc, int flags, const float *bias,
                             const float *residual);
void sp_subsampled_backward_avx512(const sp_matrix *a, const sp_matrix *at, const float *d, int64_t ldd, int32_t drows,
                                   const float *x, int64_t chan, int32_t brows, const sp_subsample *g, float *pack,
                                   float *tile, int64_t q0, int64_t q1, float *dx, float *out);
void sp_subsampled_backward_avx2(const sp_matrix *a, const sp_matrix *at, const float *d, int64_t ldd, int32_t drows,
                                 const float *x, int64_t chan, int32_t brows, const sp_subsample *g, float *pack,
                                 float *tile, int64_t q0, int64_t q1, float *dx, float *out);
void sp_sddmm_avx512(const sp_matrix *a, const float *d, int64_t ldd, const float *b, int64_t stride, int32_t brows,
                   float *pack, int64_t q0, int64_t q1, int32_t r0, int32_t r1, float *out);
void sp_spmm_avx2(const sp_matrix *a, const float *b, int64_t stride, int32_t brows, float *pack, int64_t q0,
                  int64_t q1, float *c, int64_t ldc, int flags, const float *bias, const float *residual);
void sp_sddmm_avx2(const sp_matrix *a, const float *d, int64_t ldd, const float *b, int64_t stride, int32_t brows,
                   float *pack, int64_t q0, int64_t q1, int32_t r0, int32_t r1, float *out);
void sp_pointwise_backward_avx512(const sp_matrix *a, const sp_matrix *at, const float *d, int64_t ldd, int32_t drows,
                             const float *b, int64_t ldb, int32_t brows, float *pack, int64_t q0, int64_t q1,
                             float *c, int64_t ldc, int flags, float *out);
void sp_pointwise_backward_avx2(const sp_matrix *a, const sp_matrix *at, const float *d, int64_t ldd, int32_t drows,
                             const float *b, int64_t ldb, int32_t brows, float *pack, int64_t q0, int64_t q1,
                             float *c, int64_t ldc, int flags, float *out);
void sp_shifted_backward_avx512(const sp_matrix *a, const sp_matrix *at, const float *d, int64_t ldd, const float *b,
                           const float *dt, int64_t q0, int64_t q1, float *c, int64_t ldc, float *out);
void sp_shifted_backward_avx2(const sp_matrix *a, const sp_matrix *at, const float *d, int64_t ldd, const float *b,
                           const float *dt, int64_t q0, int64_t q1, float *c, int64_t ldc, float *out);
void sp_count_avx512(const float *w, const float *mask, float threshold, int32_t rows, int32_t cols, int32_t block_cols,
                     int32_t r0, int32_t r1, int32_t *start);
void sp_fill_avx512(const float *w, const float *mask, float threshold, int32_t rows, int32_t cols, int32_t block_cols,
                    const int32_t *col_offset, int32_t r0, int32_t r1, const int32_t *start,
                    int32_t *offset, int32_t *index, float *value);
void sp_spmm_narrow_avx512(const sp_matrix *a, const float *b, int64_t stride, int32_t width, float *c, int64_t ldc,
                           int flags);
void sp_spmm_narrow_avx2(const sp_matrix *a, const float *b, int64_t stride, int32_t width, float *c, int64_t ldc,
                         int flags);
void sp_spmm_bf16_avx512bf16(const sp_matrix *a, const void *b, int64_t stride, int32_t brows, bf16_t *pack, int64_t q0,
                             int64_t q1, float *c, int64_t ldc, int flags, const float *bias, const float *residual);
void sp_spmm_bf16_subsampled_avx512bf16(const sp_matrix *a, const float *x, int64_t chan, int32_t rows,
                                        const sp_subsample *g, bf16_t *pack, float *tile, int64_t q0, int64_t q1, float *c,
                                        bf16_t *c16, int64_t ldc, int flags, const float *bias, const float *residual);
void sp_spmm_bf16_to_bf16_avx512bf16(const sp_matrix *a, const void *b, int64_t stride, int32_t brows, bf16_t *pack,
                                     float *tile, int64_t q0, int64_t q1, bf16_t *c, int64_t ldc, int flags,
                                     const float *bias);
void sp_spmm_bf16_planes_avx512bf16(const sp_matrix *a, const bf16_t *b, int64_t q0, int64_t q1, float *c, int64_t ldc,
                                    int flags, const float *bias, const float *residual);
void sp_spmm_bf16_cropped_avx512bf16(const sp_matrix *a, const bf16_t *b, int64_t q0, int64_t q1, const sp_crop *g,
                                     float *tile, float *c, bf16_t *c16, int64_t ldc, int flags, const float *bias,
                                     const float *residual);
void sp_backward_bf16_avx512bf16(const sp_matrix *a, const sp_matrix *at, const void *d, int64_t ldd, int32_t drows,
                                 const void *b, int64_t ldb, int32_t brows, bf16_t *pack, int64_t q0, int64_t q1,
                                 float *c, int64_t ldc, int flags, float *out);
void sp_backward_bf16_planes_avx512bf16(const sp_matrix *a, const sp_matrix *at, const bf16_t *d, int64_t ldd,
                                        const bf16_t *b, const bf16_t *dt, int64_t q0, int64_t q1, float *c, int64_t ldc,
                                        float *out);
/// The portable bodies' epilogue over row cr's columns [q0, q1): + shift, + rr[q] (when rr), then with
/// `relu` max(·, 0) as the vector bodies take it (maxps: NaN and −0 become +0).
void sp_epilogue_c(float *cr, int64_t q0, int64_t q1, float shift, const float *rr, int relu);
#endif
