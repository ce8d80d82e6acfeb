// Where a 64-column tile of padded positions lands in a cropped output (sp_crop: shifted or phase planes'
// positions, of which the junk ones are dropped), shared by the vector bodies (sparse_body.inc,
// sparse_bf16_avx512.c). Output positions keep their order and junk takes no index, so the tile's valid
// lanes go to consecutive output elements from its first: a lane's is `first` plus the valid lanes before it.
#ifndef SPARSE_CROP_H
#define SPARSE_CROP_H
#include "CSparse.h"

/// Bit j of `mask`: column q + j is an output position; `first`: the output element of the first (−1: none).
typedef struct {
    uint64_t mask;
    int64_t first;
} sp_crop_tile;

static inline sp_crop_tile sp_crop_tile_of(const sp_crop *g, int64_t q, int w) {
    const int64_t plane = g->hp * g->wp;
    int64_t n = q / plane, r = q - n * plane, h = r / g->wp, x = r - h * g->wp;
    sp_crop_tile t = {0, -1};
    for (int j = 0; j < w; j++) {
        if (h < g->oh && x < g->ow) {
            if (t.first < 0) t.first = (n * g->oh + h) * g->ow + x;
            t.mask |= 1ull << j;
        }
        if (++x == g->wp) {
            x = 0;
            if (++h == g->hp) h = 0, n++;
        }
    }
    return t;
}

/// The valid lanes of the tile's vector v of `vw` lanes, and the output element of its first.
static inline uint32_t sp_crop_lanes(const sp_crop_tile *t, int v, int vw) {
    return (uint32_t)((t->mask >> (v * vw)) & ((1ull << vw) - 1));
}
static inline int64_t sp_crop_at(const sp_crop_tile *t, int v, int vw) {
    return t->first + __builtin_popcountll(t->mask & ((1ull << (v * vw)) - 1));
}
#endif
