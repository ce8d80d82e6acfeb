// A whole stride-1 3×3 conv's product, one thread: each kept weight reading its shifted run of the padded planes
// (the kernels' way, most loads straddling two cache lines) against packing each 64-column tile as im2col rows from
// the planes first (aligned reads, 9·C rows copied per tile). Needs AVX-512; never in CI:
//   clang -O3 scripts/probes/shifted_vs_tile_im2col.c -o /tmp/tp && /tmp/tp 256 14 8 0.045   (C, H, images, density)
// Seen on a Zen 4 (2026-12-05, ResNet50's 3×3 shapes at the STR budget's densities, 8 images): packed 1.08–1.10×
// faster at 28×28, 14×14 and 7×7 (42–46 → 45–48 GFLOP/s), 0.92× at 56×56 (64 channels: the copy outweighs the gain).
// Not built: a few percent of the 3×3 convs at best.
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
#define T __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma"), noinline))
#define FMA4(x, b) a0 = _mm512_fmadd_ps(x, _mm512_loadu_ps(b), a0); a1 = _mm512_fmadd_ps(x, _mm512_loadu_ps((b) + 16), a1); \
    a2 = _mm512_fmadd_ps(x, _mm512_loadu_ps((b) + 32), a2); a3 = _mm512_fmadd_ps(x, _mm512_loadu_ps((b) + 48), a3)
#define STORE4(c) _mm512_storeu_ps(c, a0); _mm512_storeu_ps((c) + 16, a1); _mm512_storeu_ps((c) + 32, a2); _mm512_storeu_ps((c) + 48, a3)
T static void tile(int rows, const int *st, const int *off, const float *val, const float *b, int64_t ld, float *c, int64_t ldc) {
    for (int i = 0; i < rows; i++) {
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int e = st[i]; e < st[i + 1]; e++) { __m512 x = _mm512_set1_ps(val[e]); FMA4(x, b + (int64_t)off[e] * ld); }
        STORE4(c + i * ldc);
    }
}
T static void mis(int rows, const int *st, const int *foff, const float *val, const float *planes, int64_t P, float *c) {
    for (int64_t q = 0; q + 64 <= P; q += 64) tile(rows, st, foff, val, planes + q, 1, c + q, P);
}
T static void packed(int rows, int K, const int *rowoff, const int *st, const int *koff, const float *val, const float *planes, int64_t P, float *pack, float *c) {
    for (int64_t q = 0; q + 64 <= P; q += 64) {
        for (int k = 0; k < K; k++) {
            const float *s = planes + rowoff[k] + q; float *d = pack + k * 64;
            _mm512_store_ps(d, _mm512_loadu_ps(s)); _mm512_store_ps(d + 16, _mm512_loadu_ps(s + 16));
            _mm512_store_ps(d + 32, _mm512_loadu_ps(s + 32)); _mm512_store_ps(d + 48, _mm512_loadu_ps(s + 48));
        }
        tile(rows, st, koff, val, pack, 64, c + q, P);
    }
}
int main(int argc, char **argv) {
    const int C = atoi(argv[1]), H = atoi(argv[2]), N = atoi(argv[3]); const double dens = atof(argv[4]);
    const int rows = C, K = 9 * C, Wp = H + 1, Hp = H + 1; const int64_t P = (int64_t)N * Hp * Wp;
    int *rowoff = malloc(4 * K); for (int c = 0; c < C; c++) for (int a = 0; a < 3; a++) for (int b = 0; b < 3; b++) rowoff[c * 9 + a * 3 + b] = c * (int)(P + 64) + a * Wp + b;
    int *st = malloc(4 * (rows + 1)), *koff = malloc(4L * rows * K), *foff = malloc(4L * rows * K); float *val = malloc(4L * rows * K);
    int n = 0; st[0] = 0;
    for (int i = 0; i < rows; i++) { for (int k = 0; k < K; k++) if (rand() < dens * RAND_MAX) { koff[n] = k; foff[n] = rowoff[k]; val[n] = (rand() % 200 - 100) / 64.0f; n++; } st[i + 1] = n; }
    float *planes = aligned_alloc(64, 4L * C * (P + 64) + 4096), *c = aligned_alloc(64, 4L * rows * P + 256), *pack = aligned_alloc(64, 4L * K * 64);
    for (int64_t i = 0; i < (int64_t)C * (P + 64); i++) planes[i] = (rand() % 64 - 32) / 16.0f;
    memset(c, 0, 4L * rows * P);
    double bm = 1e9, bp = 1e9;
    for (int r = 0; r < 5; r++) {
        double t = now(); mis(rows, st, foff, val, planes, P, c); t = now() - t; if (t < bm) bm = t;
        t = now(); packed(rows, K, rowoff, st, koff, val, planes, P, pack, c); t = now() - t; if (t < bp) bp = t;
    }
    double fl = 2.0 * n * (P / 64 * 64);
    printf("C %d H %d N %d dens %.3f: mis %.2f ms (%.1f GF/s)  packed %.2f ms (%.1f GF/s)  ratio %.2f\n", C, H, N, dens, bm * 1e3, fl / bm / 1e9, bp * 1e3, fl / bp / 1e9, bm / bp);
}
