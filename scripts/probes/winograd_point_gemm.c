// Would strdist's own fp32 product beat OpenBLAS on Winograd's 36 point GEMMs? M[ξ] = U[ξ]·V[ξ]
// (O×C · C×T, T contiguous and a multiple of 16), with U packed [o-block of 8][C][8] as the weight
// transform could write it and V read where the input transform wrote it (no packing at all), an
// 8×32 AVX-512 register tile, against cblas_sgemm on the same operands. One thread; never in CI:
//   clang -O3 scripts/probes/winograd_point_gemm.c -I/usr/include/x86_64-linux-gnu/openblas-pthread \
//         -lopenblas -lm -o /tmp/wgprobe && /tmp/wgprobe
// Seen on a Zen 4 (2026-12-04, OpenBLAS Cooperlake): 0.9–1.25× of sgemm on ResNet18 b32's shapes (chunks of
// 224 and 144 tiles, the point split's 512 and 128), equal results; the backward's two products
// (Uᵀ·∂M, ∂M·Vᵀ) are not probed.
#include <immintrin.h>
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <math.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

__attribute__((target("avx512f,fma")))
static void kernel_8x32(const float *up, const float *v, long ld, int c, float *m, long ldm) {
    __m512 a0=_mm512_setzero_ps(),a1=a0,a2=a0,a3=a0,a4=a0,a5=a0,a6=a0,a7=a0,b0=a0,b1=a0,b2=a0,b3=a0,b4=a0,b5=a0,b6=a0,b7=a0;
    for (int k = 0; k < c; k++) {
        __m512 x0 = _mm512_loadu_ps(v + k * ld), x1 = _mm512_loadu_ps(v + k * ld + 16);
        const float *u = up + 8 * k;
#define R(i, a, b) { __m512 s = _mm512_set1_ps(u[i]); a = _mm512_fmadd_ps(s, x0, a); b = _mm512_fmadd_ps(s, x1, b); }
        R(0,a0,b0) R(1,a1,b1) R(2,a2,b2) R(3,a3,b3) R(4,a4,b4) R(5,a5,b5) R(6,a6,b6) R(7,a7,b7)
#undef R
    }
#define S(i, a, b) _mm512_storeu_ps(m + i * ldm, a); _mm512_storeu_ps(m + i * ldm + 16, b);
    S(0,a0,b0) S(1,a1,b1) S(2,a2,b2) S(3,a3,b3) S(4,a4,b4) S(5,a5,b5) S(6,a6,b6) S(7,a7,b7)
#undef S
}

__attribute__((target("avx512f,fma")))
static void kernel_8x16(const float *up, const float *v, long ld, int c, float *m, long ldm) {
    __m512 a[8];
    for (int i = 0; i < 8; i++) a[i] = _mm512_setzero_ps();
    for (int k = 0; k < c; k++) {
        __m512 x0 = _mm512_loadu_ps(v + k * ld);
        for (int i = 0; i < 8; i++) a[i] = _mm512_fmadd_ps(_mm512_set1_ps(up[8 * k + i]), x0, a[i]);
    }
    for (int i = 0; i < 8; i++) _mm512_storeu_ps(m + i * ldm, a[i]);
}

static void ours(const float *up, const float *v, int o, int c, int t, float *m) {
    for (int ob = 0; ob < o / 8; ob++)
        for (int t0 = 0; t0 < t; t0 += 32) {
            if (t - t0 == 16) { kernel_8x16(up + (long)ob * c * 8, v + t0, t, c, m + (long)ob * 8 * t + t0, t); continue; }
            kernel_8x32(up + (long)ob * c * 8, v + t0, t, c, m + (long)ob * 8 * t + t0, t);
        }
}

int main(void) {
    int shapes[][3] = {{64, 64, 224}, {128, 128, 144}, {256, 256, 512}, {512, 512, 128}, {64, 64, 1024}};  // O, C, T (O a multiple of 8)
    openblas_set_num_threads(1);
    for (int s = 0; s < 5; s++) {
        int o = shapes[s][0], c = shapes[s][1], t = shapes[s][2], pts = 36;
        float *u = malloc(sizeof(float) * pts * o * c), *up = malloc(sizeof(float) * pts * o * c);
        float *v = malloc(sizeof(float) * pts * c * t), *m1 = malloc(sizeof(float) * pts * o * t), *m2 = malloc(sizeof(float) * pts * o * t);
        for (long i = 0; i < (long)pts * o * c; i++) u[i] = (float)rand() / (float)RAND_MAX - 0.5f;
        for (long i = 0; i < (long)pts * c * t; i++) v[i] = (float)rand() / (float)RAND_MAX - 0.5f;
        {
            const int mr = 8;
            for (int p = 0; p < pts; p++)
                for (int ob = 0; ob < o / mr; ob++) for (int k = 0; k < c; k++) for (int i = 0; i < mr; i++)
                    up[(long)p * o * c + ((long)ob * c + k) * mr + i] = u[(long)p * o * c + (long)(ob * mr + i) * c + k];
            double best1 = 1e9, best2 = 1e9;
            for (int r = 0; r < 7; r++) {
                double t0 = now();
                for (int p = 0; p < pts; p++)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, o, t, c, 1, u + (long)p * o * c, c, v + (long)p * c * t, t, 0, m1 + (long)p * o * t, t);
                double t1 = now();
                for (int p = 0; p < pts; p++) ours(up + (long)p * o * c, v + (long)p * c * t, o, c, t, m2 + (long)p * o * t);
                double t2 = now();
                if (t1 - t0 < best1) best1 = t1 - t0;
                if (t2 - t1 < best2) best2 = t2 - t1;
            }
            double err = 0;
            for (long i = 0; i < (long)pts * o * t; i++) err = fmax(err, fabs(m1[i] - m2[i]));
            double f = 2.0 * pts * o * c * t;
            printf("O=%d C=%d T=%d: sgemm %.1f GFLOP/s, ours %.1f GFLOP/s (%.2fx), max diff %.2g\n", o, c, t, f / best1 / 1e9, f / best2 / 1e9, best1 / best2, err);
        }
        free(u); free(up); free(v); free(m1); free(m2);
    }
}
