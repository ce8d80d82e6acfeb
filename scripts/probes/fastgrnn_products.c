// Would the sparse kernels pay for FastGRNN's products? U (hidden 128) at a given density against
// OpenBLAS's sgemm on the shapes the cell runs: a step's product for one sample group (8 columns at
// batch 128, 16 at 256) and a group's products over all 28 steps (224 columns). Two sparse bodies:
// CSparse's sp_spmm (64-column tiles) and a one-vector-per-row kernel for narrow outputs (b ≤ 16).
// One thread; never in CI. After `swift build -c release`:
//   gcc -O2 -mavx512f -I/usr/include/x86_64-linux-gnu/openblas-pthread -ISources/CSparse/include \
//       scripts/probes/fastgrnn_products.c .build/release/CSparse.build/*.o -lopenblas -lm -o /tmp/fgp && /tmp/fgp
// Seen on a Zen 4 (2026-12-04, two runs), density 0.15 (STR's 85%): sgemm 2.7–3.1 µs at 8 columns,
// 4.6 at 16, 74 at 224; sp_spmm 6.0–6.1 / 5.6–5.7 / 28 µs; the narrow kernel 1.6–2.0 / 1.7–2.1 µs.
#include <cblas.h>
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "CSparse.h"
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static float rnd(void) { return (float)rand() / RAND_MAX * 2 - 1; }

/// C[i][0, b) = Σ_e value[e] · B[offset[e]·ldb + (0, b)]: one masked vector per output row, two chains.
__attribute__((target("avx512f")))
static void narrow(int rows, const int32_t *start, const int32_t *off, const float *val, const float *b, long ldb,
                   int width, float *c, long ldc) {
    __mmask16 m = (__mmask16)((1u << width) - 1);
    for (int i = 0; i < rows; i++) {
        __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
        int e = start[i], end = start[i + 1];
        for (; e + 1 < end; e += 2) {
            s0 = _mm512_fmadd_ps(_mm512_set1_ps(val[e]), _mm512_maskz_loadu_ps(m, b + (long)off[e] * ldb), s0);
            s1 = _mm512_fmadd_ps(_mm512_set1_ps(val[e + 1]), _mm512_maskz_loadu_ps(m, b + (long)off[e + 1] * ldb), s1);
        }
        if (e < end) s0 = _mm512_fmadd_ps(_mm512_set1_ps(val[e]), _mm512_maskz_loadu_ps(m, b + (long)off[e] * ldb), s0);
        _mm512_mask_storeu_ps(c + i * ldc, m, _mm512_add_ps(s0, s1));
    }
}

int main(void) {
    openblas_set_num_threads(1);
    const int h = 128, widths[] = {8, 16, 224};
    const double densities[] = {0.05, 0.10, 0.15, 0.25, 0.40};
    float *u = malloc(4 * h * h), *x = malloc(4 * h * 256), *y = malloc(4 * h * 256);
    int32_t *start = malloc(4 * (h + 1)), *off = malloc(4 * h * h);
    float *val = malloc(4 * h * h);
    for (int i = 0; i < h * 256; i++) x[i] = rnd();
    printf("columns density   sgemm   sp_spmm   narrow (µs)\n");
    for (int wi = 0; wi < 3; wi++) for (int di = 0; di < 5; di++) {
        int p = widths[wi], n = 0;
        start[0] = 0;   // Uᵀ's rows (outputs), entries at the inputs they read
        for (int o = 0; o < h; o++) {
            for (int c = 0; c < h; c++) {
                float v = rnd(); int keep = (float)rand() / RAND_MAX < densities[di];
                u[c * h + o] = keep ? v : 0;
                if (keep) { off[n] = c; val[n] = v; n++; }
            }
            start[o + 1] = n;
        }
        sp_matrix a = {h, 1, start, off, val};
        int reps = p > 16 ? 2000 : 20000;
        double t0 = now();
        for (int r = 0; r < reps; r++) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, h, p, h, 1, u, h, x, p, 0, y, p);
        double g = (now() - t0) / reps;
        t0 = now();
        for (int r = 0; r < reps; r++) sp_spmm(&a, x, p, h, NULL, 0, p, y, p, 0, NULL, NULL);
        double s = (now() - t0) / reps, nw = 0;
        if (p <= 16) {
            t0 = now();
            for (int r = 0; r < reps; r++) narrow(h, start, off, val, x, p, p, y, p);
            nw = (now() - t0) / reps;
        }
        printf("%7d %7.2f %7.2f %9.2f %8.2f\n", p, densities[di], g * 1e6, s * 1e6, nw * 1e6);
    }
    return 0;
}
