// CSparse: kernels over a compressed sparse operand (blocked CSR), with
// AVX-512 and AVX2 bodies chosen at run time (sp_isa), and the build of the
// compressed form from a dense weight. Shapes and conventions:
//
// A sparse operand has `rows` rows whose entries are grouped in column
// blocks: the entries of (block b, row i) are start[b·(rows+1) + i] ...
// start[b·(rows+1) + i + 1] − 1, blocks stored one after another, so a
// product can keep one block's dense rows in cache while it walks all rows.
// Entry e multiplies the dense operand's row at `b + offset[e]·stride`
// (stride: the dense operand's row length for im2col columns; 1 when the
// offsets are precomputed flat positions, as for shifted planes).
#ifndef CSPARSE_H
#define CSPARSE_H
#include <stdint.h>
#include "CBFloat16.h"

typedef struct {
    int32_t rows;
    int32_t blocks;
    const int32_t *start;
    const int32_t *offset;
    const float *value;
} sp_matrix;

/// 2 when AVX-512 (F, VL, DQ, BW) kernels run, 1 for AVX2+FMA, 0 for the portable C bodies.
int sp_isa(void);
/// Forces a body (tests: 0, 1 or 2, never above what the CPU has); returns the one in use.
int sp_force_isa(int isa);

/// Bits of a product's `flags`: add to C instead of overwriting it; max(·, 0) after the epilogue; store
/// full 64-column tiles past the caches (non-temporal stores, then a store fence) — for outputs larger
/// than the last-level cache, whose reader finds them in memory anyway: the store then neither reads
/// the line first nor evicts the operands still in use. Only the last column block's stores stream (the
/// sums of the blocks before it are reloaded by the next one).
#define SP_ACCUMULATE 1
#define SP_RELU 2
#define SP_STREAM 4
/// sp_backward_bf16: D already holds bf16 (its rows ldd bf16 apart, as rounded by bf16_round), read in place —
/// nothing rounded or packed for it; the same bits as passing the fp32 values it was rounded from.
#define SP_D_BF16 8
/// sp_spmm_bf16, sp_spmm_bf16_to_bf16, sp_backward_bf16: B already holds bf16 (its rows `stride` / `ldb` bf16 apart,
/// as rounded by bf16_round): its tiles are copied into the pack, not rounded — the same bits as passing the fp32
/// values it was rounded from, half the bytes read.
#define SP_B_BF16 16

/// C[i·ldc + q] = (SP_ACCUMULATE ? C[i·ldc + q] : 0) + Σ_e value[e] · B[offset[e]·stride + q]
/// for every row i and q in [q0, q1). With `pack` (brows × 64 floats of scratch), each 64-column tile
/// of B's rows [0, brows) is first copied together (offsets must then be row numbers, stride their
/// spacing): rows 4 KiB apart would otherwise share one cache set. The epilogue, when `bias` or
/// `residual` is non-null or SP_RELU set: C[i·ldc + q] = max(C + bias[i] + residual[i·ldc + q], 0) (each
/// term only when given, the max only with SP_RELU) — a folded BatchNorm, the residual it joins and the
/// ReLU after them, at inference. `flags`: SP_ACCUMULATE, SP_RELU, SP_STREAM.
void sp_spmm(const sp_matrix *a, const float *b, int64_t stride, int32_t brows, float *pack, int64_t q0, int64_t q1,
             float *c, int64_t ldc, int flags, const float *bias, const float *residual);

/// The padded positions a product over shifted (or phase) planes computes, and the output they are cropped
/// to: position q = (n·hp + h)·wp + w of the planes is output element (n·oh + h)·ow + w when h < oh and
/// w < ow; the others are junk.
typedef struct {
    int64_t hp, wp, oh, ow;
} sp_crop;

/// sp_spmm over planes (`b`'s offsets flat, stride 1) for positions [q0, q1), stored straight into the cropped
/// output — C's rows (and the residual's) ldc apart in output elements — instead of into padded rows that a pass
/// then crops: the same sums and epilogue, the same bits. `flags`: SP_ACCUMULATE, SP_RELU (nothing streams).
void sp_spmm_cropped(const sp_matrix *a, const float *b, int64_t q0, int64_t q1, const sp_crop *crop, float *c,
                     int64_t ldc, int flags, const float *bias, const float *residual);

/// A 1×1 stride-2 conv's input (h × wd images) and output (oh × ow, oh = ⌈h/2⌉, ow = ⌈wd/2⌉).
typedef struct {
    int64_t h, wd, oh, ow;
} sp_subsample;

/// sp_spmm for a 1×1 stride-2 conv without padding, its operand read from the input x itself: B's row k at output
/// column (n·oh + i)·ow + j is x[k·chan + (n·h + 2i)·wd + 2j], gathered into `pack` (rows × 64 floats) tile by tile
/// instead of into im2col columns first. The same sums and epilogue as sp_spmm over those columns, the same bits.
void sp_spmm_subsampled(const sp_matrix *a, const float *x, int64_t chan, int32_t rows, const sp_subsample *g, float *pack,
                        int64_t q0, int64_t q1, float *c, int64_t ldc, int flags, const float *bias, const float *residual);

/// Both gradients of a 1×1 stride-2 conv without padding over columns [q0, q1), its operand gathered from x as for
/// sp_spmm_subsampled: with `out`, the SDDMM of ∂Y (rows ldd apart, drows of them) with the gathered columns added
/// into out[e] (a's entries); with `at`, ∂X = Aᵀ·∂Y added into dx (x's layout, channels `chan` apart) at the elements
/// those columns read — the odd positions untouched (zero them first for a written ∂X). `pack`: (drows + brows) × 64
/// floats, `tile`: brows × 64. The same bits as sp_pointwise_backward over the gathered columns (∂X into a zeroed
/// buffer) followed by adding that into dx.
void sp_subsampled_backward(const sp_matrix *a, const sp_matrix *at, const float *d, int64_t ldd, int32_t drows,
                            const float *x, int64_t chan, int32_t brows, const sp_subsample *g, float *pack, float *tile,
                            int64_t q0, int64_t q1, float *dx, float *out);

/// Mixed precision (bf16 operands, fp32 sums), the same product and epilogue as sp_spmm: the dense
/// operand's tile rounded to bf16 into `pack` (brows × 64 bf16), each weight rounded as it is read, and a
/// row's entries multiplied two at a time — per column, acc + bf(w[e+1])·bf(B[e+1]) then + bf(w[e])·bf(B[e])
/// (vdpbf16ps's order; a lone last entry adds 0·0 first), each sum rounded to fp32. AVX512_BF16 when the
/// CPU has it (bf16_isa), else a portable body with the same bits (subnormal sums aside: the instruction
/// flushes them to zero). `flags` as sp_spmm's, and SP_B_BF16 when `b` is bf16 (else fp32).
void sp_spmm_bf16(const sp_matrix *a, const void *b, int64_t stride, int32_t brows, bf16_t *pack, int64_t q0, int64_t q1,
                  float *c, int64_t ldc, int flags, const float *bias, const float *residual);

/// The same product (bias and ReLU, no residual) with C written in bf16 — each value after the epilogue rounded
/// as bf16_round does, rows ldc bf16 apart: a conv output that a bf16-reading BatchNorm alone takes. The sums of
/// every block but the last stay fp32 in `tile` (rows × 64 floats). `flags`: SP_RELU, SP_STREAM, SP_B_BF16 (no SP_ACCUMULATE).
void sp_spmm_bf16_to_bf16(const sp_matrix *a, const void *b, int64_t stride, int32_t brows, bf16_t *pack, float *tile,
                          int64_t q0, int64_t q1, bf16_t *c, int64_t ldc, int flags, const float *bias);
/// The same over a dense operand already in bf16 and addressed by flat offsets (row stride 1: shifted or phase planes).
void sp_spmm_bf16_planes(const sp_matrix *a, const bf16_t *b, int64_t q0, int64_t q1, float *c, int64_t ldc, int flags,
                         const float *bias, const float *residual);

/// sp_spmm_bf16_planes stored straight into the cropped output as sp_spmm_cropped stores it — C in fp32, or with
/// `c16` (then c is unused, no accumulation, no residual) in bf16 through `tile` (64 × a's rows floats), as
/// sp_spmm_bf16_to_bf16 rounds its output. The same bits as the product into padded rows cropped (and rounded) after.
void sp_spmm_bf16_cropped(const sp_matrix *a, const bf16_t *b, int64_t q0, int64_t q1, const sp_crop *crop, float *tile,
                          float *c, bf16_t *c16, int64_t ldc, int flags, const float *bias, const float *residual);

/// sp_spmm_bf16 for a 1×1 stride-2 conv without padding, its fp32 operand gathered from the input x and rounded into
/// `pack` tile by tile, as sp_spmm_subsampled gathers it; the same bits as sp_spmm_bf16 over the gathered columns —
/// or, with `c16` (then c is unused and there is no residual), as sp_spmm_bf16_to_bf16 over them, C's rows in bf16
/// through `tile` (64 × rows of a floats).
void sp_spmm_bf16_subsampled(const sp_matrix *a, const float *x, int64_t chan, int32_t rows, const sp_subsample *g,
                             bf16_t *pack, float *tile, int64_t q0, int64_t q1, float *c, bf16_t *c16, int64_t ldc, int flags,
                             const float *bias, const float *residual);

/// A backward with bf16 operands over columns [q0, q1), one pass per 64-column tile (a pointwise conv's, or
/// an im2col chunk's): D's tile (drows × 64) rounded into `pack` (or, SP_D_BF16, read in place) and, with
/// `out`, B's tile (brows × 64) after it; then out[e] += Σ_q bf(D[i, q])·bf(B[offset[e], q]) for a's entries (the SDDMM; each tile's sums in
/// the order sparse_bf16.c gives), and with `at` C = (SP_ACCUMULATE ? C : 0) + atᵀ's product as sp_spmm_bf16
/// (∂X). Either part may be null. `pack` holds (drows + brows) × 64 bf16. `flags`: SP_ACCUMULATE, SP_STREAM, and
/// SP_D_BF16 when `d` is bf16 (else fp32), SP_B_BF16 when `b` is.
void sp_backward_bf16(const sp_matrix *a, const sp_matrix *at, const void *d, int64_t ldd, int32_t drows, const void *b,
                      int64_t ldb, int32_t brows, bf16_t *pack, int64_t q0, int64_t q1, float *c, int64_t ldc, int flags,
                      float *out);
/// The same over bf16 planes at flat offsets (shifted or phase planes, row stride 1, nothing packed): the SDDMM of D's
/// rows (ldd apart) and B, and C = Σ_e at.value[e]·Dt[at.offset[e] + q] (C overwritten). Either may be null.
void sp_backward_bf16_planes(const sp_matrix *a, const sp_matrix *at, const bf16_t *d, int64_t ldd, const bf16_t *b,
                             const bf16_t *dt, int64_t q0, int64_t q1, float *c, int64_t ldc, float *out);

/// The same for a narrow C (width ≤ 16 columns, from column 0; a recurrent cell's step over a few samples):
/// one vector per output row, each block's entries dealt round-robin (from the first) to four partial sums
/// added (s0 + s1) + (s2 + s3) at the row's end, each a chain of fused multiply-adds — the same bits on every
/// body. Needs no pack. `flags`: SP_ACCUMULATE.
void sp_spmm_narrow(const sp_matrix *a, const float *b, int64_t stride, int32_t width, float *c, int64_t ldc, int flags);

/// out[e] += Σ_q D[i·ldd + q] · B[offset[e]·stride + q] for the entries e of rows [r0, r1), q in [q0, q1):
/// the product D·Bᵀ sampled where the operand has entries (SDDMM). `pack` as for sp_spmm.
void sp_sddmm(const sp_matrix *a, const float *d, int64_t ldd, const float *b, int64_t stride, int32_t brows,
              float *pack, int64_t q0, int64_t q1, int32_t r0, int32_t r1, float *out);

/// A pointwise conv's backward over columns [q0, q1), one pass per 64-column tile: out[e] += Σ_q D[i·ldd + q] ·
/// B[offset[e]·ldb + q] for every entry of `a` (rows i = D's rows, offsets = B's rows) and, when `at` is
/// non-null, C[r·ldc + q] = (SP_ACCUMULATE ? C : 0) + Σ_e at.value[e] · D[at.offset[e]·ldd + q]. `pack` holds
/// (drows + brows) × 64 floats. Columns split among threads give each its own `out` (partial sums).
/// `flags`: SP_ACCUMULATE, SP_STREAM (C's stores).
void sp_pointwise_backward(const sp_matrix *a, const sp_matrix *at, const float *d, int64_t ldd, int32_t drows,
                           const float *b, int64_t ldb, int32_t brows, float *pack, int64_t q0, int64_t q1,
                           float *c, int64_t ldc, int flags, float *out);

/// The same over operands addressed by flat offsets (row stride 1, no packing; shifted or phase planes): out[e] +=
/// Σ_q D[i·ldd + q] · B[offset[e] + q] and C[r·ldc + q] = Σ_e at.value[e] · Dt[at.offset[e] + q], q in [q0, q1).
void sp_shifted_backward(const sp_matrix *a, const sp_matrix *at, const float *d, int64_t ldd, const float *b,
                         const float *dt, int64_t q0, int64_t q1, float *c, int64_t ldc, float *out);

/// Build, step 1 (rows [r0, r1) of a dense [rows × cols] weight): the number of kept entries of each
/// (block, row) goes to start[b·(rows+1) + i + 1]. Kept: mask[i·cols + k] ≠ 0, or without a mask
/// |w| > threshold (threshold 0: w ≠ 0). With a threshold the entry's value is STR's soft threshold
/// sign(w)·(|w| − threshold), so an STR weight compresses straight from the stored one.
void sp_count(const float *w, const float *mask, float threshold, int32_t rows, int32_t cols, int32_t block_cols,
              int32_t r0, int32_t r1, int32_t *start);
/// The entries counted by sp_count over `blocks` blocks (before sp_prefix).
int64_t sp_counted(int32_t rows, int32_t blocks, const int32_t *start);
/// Counts of `blocks` blocks into blocks of `factor` of them (in place, before sp_prefix); returns their number.
int32_t sp_merge_blocks(int32_t rows, int32_t blocks, int32_t factor, int32_t *start);
/// Build, step 2 (one thread): counts to starts, block-major; returns the entry count.
int64_t sp_prefix(int32_t rows, int32_t blocks, int32_t *start);
/// Build, step 3 (rows [r0, r1)): entries in place — offset = col_offset[k], index = i·cols + k,
/// value = w − copysign(threshold, w).
void sp_fill(const float *w, const float *mask, float threshold, int32_t rows, int32_t cols, int32_t block_cols,
             const int32_t *col_offset, int32_t r0, int32_t r1, const int32_t *start,
             int32_t *offset, int32_t *index, float *value);

/// The transpose of a built operand (one thread): entry (i, k) goes to row trow[k] with offset
/// i·tstride + tshift[k] and the same value, in blocks of `tblock_rows` values of i. `tcount` is
/// scratch of tblocks·(trows+1) ints; returns the entry count (the source's).
int64_t sp_transpose(const sp_matrix *a, const int32_t *index, int32_t cols, const int32_t *trow,
                     const int32_t *tshift, int32_t tstride, int32_t trows, int32_t tblock_rows,
                     int32_t *tstart, int32_t *toffset, float *tvalue);

/// dense[index[e]] = value[e] for entries [e0, e1) (dense zeroed by the caller).
void sp_scatter(const int32_t *index, const float *value, int64_t e0, int64_t e1, float *dense);
/// Σ_e sign(w[index[e]])·g[e] over entries [e0, e1), in Double: STR's threshold gradient (before its −σ′ factor)
/// from the kept positions' weight gradients alone.
double sp_signed_sum(const float *w, const int32_t *index, const float *g, int64_t e0, int64_t e1);
/// STR's backward over a dense gradient (n weights): grad[i] = 0 where |w[i]| ≤ threshold, and the
/// return value Σ sign(w)·grad over the kept ones, in Double (the threshold gradient before −σ′).
double sp_threshold_backward(const float *w, float threshold, float *grad, int64_t n);
#endif
