// What bounds the fp32 SpMM's inner loop (CSparse's spmm_tile: per kept weight, a broadcast and four 16-lane
// FMAs over one 64-column row of the packed tile) — one thread, in cache, random masks of the given density:
//   base       the kernel's loop, rows of the tile 64 floats apart (aligned: packed tiles)
//   dual       two accumulator sets (even and odd entries), added at the row's end
//   rows2      two output rows at a time, their entries interleaved
//   wide       128-column rows, eight accumulators
//   mis        the same loop reading each entry's row at a random float offset, as shifted planes do (tap b
//              of a 3×3 conv, and the row shifts a·Wp)
//   mis-ymm    mis with 8-lane loads
//   mis-perm   mis from 64-byte-aligned loads realigned by vpermt2ps (an index table per shift)
// Needs AVX-512; never in CI:
//   clang -O3 scripts/probes/spmm_f32_loop.c -o /tmp/spmm_loop && /tmp/spmm_loop 256 512 0.05
// Seen on a Zen 4 (2026-12-05; rows 64–512, K 128–576, density 5–40%): base 63–86 GFLOP/s; dual and rows2
// within 6% of it (the loop is not latency-bound); wide 3–22% slower (a wider tile outgrows L1); mis 33–36%
// slower: a 64-byte load that straddles two cache lines costs two; mis-ymm and mis-perm win back 0–10%.
// In the model (ResNet50 b16 inference at the STR budget), rounding each shifted-plane read down to its
// cache line (wrong values, timing only) took the step from 0.172 to 0.160 s; aligning for real with
// shifted copies of each plane (one per column tap, rows padded to whole lines) made it 0.201–0.216 s:
// three copies are three times the lines a tile fetches from memory, where one misaligned copy shares them
// between taps.
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
#define T __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma"), noinline))
#define FMA4(x, b) a0 = _mm512_fmadd_ps(x, _mm512_loadu_ps(b), a0); a1 = _mm512_fmadd_ps(x, _mm512_loadu_ps((b) + 16), a1); \
    a2 = _mm512_fmadd_ps(x, _mm512_loadu_ps((b) + 32), a2); a3 = _mm512_fmadd_ps(x, _mm512_loadu_ps((b) + 48), a3)
#define STORE4(c) _mm512_storeu_ps(c, a0); _mm512_storeu_ps((c) + 16, a1); _mm512_storeu_ps((c) + 32, a2); _mm512_storeu_ps((c) + 48, a3)

/// rows × 64 outputs; entry e of row i reads the 64 floats at pack + off[e]·ld.
T static void base(int rows, const int *st, const int *off, const float *val, const float *pack, int ld, float *c) {
    for (int i = 0; i < rows; i++) {
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int e = st[i]; e < st[i + 1]; e++) { __m512 x = _mm512_set1_ps(val[e]); FMA4(x, pack + (int64_t)off[e] * ld); }
        STORE4(c + i * 64);
    }
}
T static void dual(int rows, const int *st, const int *off, const float *val, const float *pack, int ld, float *c) {
    for (int i = 0; i < rows; i++) {
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        int e = st[i];
        for (; e + 2 <= st[i + 1]; e += 2) {
            __m512 x = _mm512_set1_ps(val[e]), y = _mm512_set1_ps(val[e + 1]);
            const float *b = pack + (int64_t)off[e] * ld, *d = pack + (int64_t)off[e + 1] * ld;
            FMA4(x, b);
            b0 = _mm512_fmadd_ps(y, _mm512_loadu_ps(d), b0); b1 = _mm512_fmadd_ps(y, _mm512_loadu_ps(d + 16), b1);
            b2 = _mm512_fmadd_ps(y, _mm512_loadu_ps(d + 32), b2); b3 = _mm512_fmadd_ps(y, _mm512_loadu_ps(d + 48), b3);
        }
        if (e < st[i + 1]) { __m512 x = _mm512_set1_ps(val[e]); FMA4(x, pack + (int64_t)off[e] * ld); }
        a0 += b0; a1 += b1; a2 += b2; a3 += b3;
        STORE4(c + i * 64);
    }
}
T static void rows2(int rows, const int *st, const int *off, const float *val, const float *pack, int ld, float *c) {
    for (int i = 0; i + 2 <= rows; i += 2) {
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        int e = st[i], f = st[i + 1];
        for (; e < st[i + 1] && f < st[i + 2]; e++, f++) {
            __m512 x = _mm512_set1_ps(val[e]), y = _mm512_set1_ps(val[f]);
            const float *d = pack + (int64_t)off[f] * ld;
            FMA4(x, pack + (int64_t)off[e] * ld);
            b0 = _mm512_fmadd_ps(y, _mm512_loadu_ps(d), b0); b1 = _mm512_fmadd_ps(y, _mm512_loadu_ps(d + 16), b1);
            b2 = _mm512_fmadd_ps(y, _mm512_loadu_ps(d + 32), b2); b3 = _mm512_fmadd_ps(y, _mm512_loadu_ps(d + 48), b3);
        }
        for (; e < st[i + 1]; e++) { __m512 x = _mm512_set1_ps(val[e]); FMA4(x, pack + (int64_t)off[e] * ld); }
        for (; f < st[i + 2]; f++) {
            __m512 y = _mm512_set1_ps(val[f]); const float *d = pack + (int64_t)off[f] * ld;
            b0 = _mm512_fmadd_ps(y, _mm512_loadu_ps(d), b0); b1 = _mm512_fmadd_ps(y, _mm512_loadu_ps(d + 16), b1);
            b2 = _mm512_fmadd_ps(y, _mm512_loadu_ps(d + 32), b2); b3 = _mm512_fmadd_ps(y, _mm512_loadu_ps(d + 48), b3);
        }
        STORE4(c + i * 64);
        a0 = b0; a1 = b1; a2 = b2; a3 = b3;
        STORE4(c + i * 64 + 64);
    }
    if (rows % 2) base(1, st + rows - 1, off, val, pack, ld, c + (rows - 1) * 64);   // an odd last row alone
}
T static void wide(int rows, const int *st, const int *off, const float *val, const float *pack, int ld, float *c) {
    for (int i = 0; i < rows; i++) {
        __m512 a[8];
        for (int v = 0; v < 8; v++) a[v] = _mm512_setzero_ps();
        for (int e = st[i]; e < st[i + 1]; e++) {
            __m512 x = _mm512_set1_ps(val[e]); const float *b = pack + (int64_t)off[e] * ld;
            for (int v = 0; v < 8; v++) a[v] = _mm512_fmadd_ps(x, _mm512_loadu_ps(b + 16 * v), a[v]);
        }
        for (int v = 0; v < 8; v++) _mm512_storeu_ps(c + i * 128 + 16 * v, a[v]);
    }
}
T static void ymm(int rows, const int *st, const int *off, const float *val, const float *pack, int ld, float *c) {
    for (int i = 0; i < rows; i++) {
        __m256 a[8];
        for (int v = 0; v < 8; v++) a[v] = _mm256_setzero_ps();
        for (int e = st[i]; e < st[i + 1]; e++) {
            __m256 x = _mm256_set1_ps(val[e]); const float *b = pack + (int64_t)off[e] * ld;
            for (int v = 0; v < 8; v++) a[v] = _mm256_fmadd_ps(x, _mm256_loadu_ps(b + 8 * v), a[v]);
        }
        for (int v = 0; v < 8; v++) _mm256_storeu_ps(c + i * 64 + 8 * v, a[v]);
    }
}
T static void perm(int rows, const int *st, const int *off, const float *val, const float *pack, int ld, float *c) {
    __m512i idx[16];
    for (int s = 0; s < 16; s++) { int t[16]; for (int j = 0; j < 16; j++) t[j] = j + s; idx[s] = _mm512_loadu_si512(t); }
    (void)ld;
    for (int i = 0; i < rows; i++) {
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int e = st[i]; e < st[i + 1]; e++) {
            __m512 x = _mm512_set1_ps(val[e]); int o = off[e]; const float *b = pack + (o & ~15); __m512i ix = idx[o & 15];
            __m512 l0 = _mm512_load_ps(b), l1 = _mm512_load_ps(b + 16), l2 = _mm512_load_ps(b + 32), l3 = _mm512_load_ps(b + 48),
                   l4 = _mm512_load_ps(b + 64);
            a0 = _mm512_fmadd_ps(x, _mm512_permutex2var_ps(l0, ix, l1), a0); a1 = _mm512_fmadd_ps(x, _mm512_permutex2var_ps(l1, ix, l2), a1);
            a2 = _mm512_fmadd_ps(x, _mm512_permutex2var_ps(l2, ix, l3), a2); a3 = _mm512_fmadd_ps(x, _mm512_permutex2var_ps(l3, ix, l4), a3);
        }
        STORE4(c + i * 64);
    }
}
typedef void (*kernel)(int, const int *, const int *, const float *, const float *, int, float *);
int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s rows K density\n", argv[0]); return 2; }
    const int rows = atoi(argv[1]), K = atoi(argv[2]);
    const double dens = atof(argv[3]);
    int *st = malloc(4 * (rows + 1)), *off = malloc(4L * rows * K), *offm = malloc(4L * rows * K);
    float *val = malloc(4L * rows * K);
    int n = 0;
    st[0] = 0;
    for (int i = 0; i < rows; i++) {
        for (int k = 0; k < K; k++)
            if (rand() < dens * RAND_MAX) { off[n] = k; offm[n] = k * 80 + rand() % 16; val[n] = (rand() % 200 - 100) / 64.0f; n++; }
        st[i + 1] = n;
    }
    float *pf = aligned_alloc(64, 4L * K * 128), *pm = aligned_alloc(64, 4L * K * 80 + 128), *c = aligned_alloc(64, 4L * rows * 128);
    for (long i = 0; i < K * 128L; i++) pf[i] = (rand() % 64 - 32) / 16.0f;
    for (long i = 0; i < K * 80L + 32; i++) pm[i] = (rand() % 64 - 32) / 16.0f;
    struct { const char *name; kernel k; const int *off; const float *pack; int ld; double per; } runs[] = {
        {"base", base, off, pf, 64, 1}, {"dual", dual, off, pf, 64, 1}, {"rows2", rows2, off, pf, 64, 1},
        {"wide", wide, off, pf, 128, 2}, {"mis", base, offm, pm, 1, 1}, {"mis-ymm", ymm, offm, pm, 1, 1},
        {"mis-perm", perm, offm, pm, 1, 1}};
    const int kinds = sizeof runs / sizeof runs[0], reps = 2000;
    double best[16];
    for (int r = 0; r < kinds; r++) best[r] = 1e9;
    for (int round = 0; round < 5; round++)
        for (int r = 0; r < kinds; r++) {
            double t0 = now();
            for (int q = 0; q < reps; q++) runs[r].k(rows, st, runs[r].off, val, runs[r].pack, runs[r].ld, c);
            double t = (now() - t0) / reps / runs[r].per;
            if (t < best[r]) best[r] = t;
        }
    printf("rows %4d K %4d density %.2f (%.1f per row):", rows, K, dens, (double)n / rows);
    for (int r = 0; r < kinds; r++) printf("  %s %.1f", runs[r].name, 2.0 * n * 64 / best[r] / 1e9);
    printf(" GFLOP/s\n");
    return 0;
}
