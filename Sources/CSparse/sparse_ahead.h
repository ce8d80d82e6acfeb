// Fetching the next 64-column tile of a dense operand while this tile's products run, shared by the
// vector bodies (sparse_body.inc, sparse_bf16_avx512.c). The operand's rows lie hundreds of kilobytes
// apart — more streams than the hardware prefetcher follows — so the next tile's rows are fetched into
// L2 by hand: a share with each row of the product (row i of `rows` fetches rows [i·n/rows, (i+1)·n/rows)),
// not all at once while the tile is packed, where the fetches had queued behind each other and the
// pack's own loads behind them (ResNet50 b16 inference at the STR budget: 0.173 → 0.164 s).
#ifndef SPARSE_AHEAD_H
#define SPARSE_AHEAD_H
#include <stdint.h>

/// The next tile of a dense operand: its first row's start, rows `stride` bytes apart, `n` rows of
/// `bytes` bytes each (64 columns: 256 in fp32, 128 in bf16). p == 0: nothing to fetch.
typedef struct {
    const char *p;
    int64_t stride;
    int32_t n, bytes;
} sp_ahead;

static inline sp_ahead sp_ahead_none(void) { return (sp_ahead){0, 0, 0, 0}; }

/// Tile q's successor in a row-major operand of `elem`-byte elements (none past column q1).
static inline sp_ahead sp_ahead_of(const void *b, int64_t stride, int32_t rows, int64_t q, int64_t q1, int elem) {
    if (q + 64 >= q1) return sp_ahead_none();
    return (sp_ahead){(const char *)b + (q + 64) * elem, stride * elem, rows, 64 * elem};
}

/// Row i's share of the fetches, for a product of `rows` rows.
static inline __attribute__((always_inline)) void sp_ahead_share(const sp_ahead *f, int32_t i, int32_t rows) {
    if (!f->p) return;
    const int32_t r0 = (int32_t)((int64_t)i * f->n / rows), r1 = (int32_t)((int64_t)(i + 1) * f->n / rows);
    for (int32_t r = r0; r < r1; r++)
        for (int32_t o = 0; o < f->bytes; o += 64) __builtin_prefetch(f->p + r * f->stride + o, 0, 2);
}
#endif
