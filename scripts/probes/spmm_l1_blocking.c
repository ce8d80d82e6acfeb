// Whether blocking the SpMM's K (the packed tile's rows) so that each block's rows stay in L1 pays, and which tile
// width: in-cache tile loop, one thread, random masks; tiles 64 (W64), 32 (W32) or 16 (W16, and W16r2: two rows at a
// time) columns wide; blocks of all K (Ball), 24 KiB or 12 KiB of rows. Needs AVX-512; never in CI:
//   clang -O3 scripts/probes/spmm_l1_blocking.c -o /tmp/blk && /tmp/blk 256 2304 0.045
// Seen on a Zen 4 (2026-12-05; rows 64–2048, K 256–4608, density 4.5–10%): W64 unblocked 49–72 GFLOP/s, W32 51–72,
// W16 36–52; blocked 43–70 — no better: each block reloads and re-stores every row's sums, and 16-column tiles pay a
// broadcast and an offset per 16 products. (The FMA peak is 117 GFLOP/s per core; with K ≤ 128 rows, all in L1, the
// kernel's loop reaches 75–86.)
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
#define T __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma"), noinline))
typedef struct { int blocks; int *start; int *off; float *val; } mat;  // start[b*(rows+1)+i]
#define KERN(NV) \
T static void k##NV(int rows, const mat *m, const float *b, float *c) { \
  for (int bl = 0; bl < m->blocks; bl++) { const int *st = m->start + bl * (rows + 1); \
    for (int i = 0; i < rows; i++) { __m512 a[NV]; float *cr = c + i * 16 * NV; \
      if (bl == 0) for (int v = 0; v < NV; v++) a[v] = _mm512_setzero_ps(); else for (int v = 0; v < NV; v++) a[v] = _mm512_loadu_ps(cr + 16 * v); \
      for (int e = st[i]; e < st[i + 1]; e++) { __m512 x = _mm512_set1_ps(m->val[e]); const float *br = b + (int64_t)m->off[e] * (16 * NV); \
        for (int v = 0; v < NV; v++) a[v] = _mm512_fmadd_ps(x, _mm512_loadu_ps(br + 16 * v), a[v]); } \
      for (int v = 0; v < NV; v++) _mm512_storeu_ps(cr + 16 * v, a[v]); } } }
KERN(1) KERN(2) KERN(4)
// two rows of C at once for W=16: independent chains
T static void k1r2(int rows, const mat *m, const float *b, float *c) {
  for (int bl = 0; bl < m->blocks; bl++) { const int *st = m->start + bl * (rows + 1);
    for (int i = 0; i + 1 < rows; i += 2) { float *cr = c + i * 16;
      __m512 a0 = bl ? _mm512_loadu_ps(cr) : _mm512_setzero_ps(), a1 = bl ? _mm512_loadu_ps(cr + 16) : _mm512_setzero_ps();
      __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
      int e = st[i], e1 = st[i + 1], f = st[i + 1], f1 = st[i + 2];
      for (; e + 2 <= e1; e += 2) { a0 = _mm512_fmadd_ps(_mm512_set1_ps(m->val[e]), _mm512_loadu_ps(b + m->off[e] * 16), a0); b0 = _mm512_fmadd_ps(_mm512_set1_ps(m->val[e+1]), _mm512_loadu_ps(b + m->off[e+1] * 16), b0); }
      if (e < e1) a0 = _mm512_fmadd_ps(_mm512_set1_ps(m->val[e]), _mm512_loadu_ps(b + m->off[e] * 16), a0);
      for (; f + 2 <= f1; f += 2) { a1 = _mm512_fmadd_ps(_mm512_set1_ps(m->val[f]), _mm512_loadu_ps(b + m->off[f] * 16), a1); b1 = _mm512_fmadd_ps(_mm512_set1_ps(m->val[f+1]), _mm512_loadu_ps(b + m->off[f+1] * 16), b1); }
      if (f < f1) a1 = _mm512_fmadd_ps(_mm512_set1_ps(m->val[f]), _mm512_loadu_ps(b + m->off[f] * 16), a1);
      _mm512_storeu_ps(cr, a0 + b0); _mm512_storeu_ps(cr + 16, a1 + b1); } } }
static mat build(int rows, int K, double d, int kb, unsigned seed) {
  srand(seed); char *mask = malloc((size_t)rows * K); float *w = malloc(4L * rows * K);
  for (long i = 0; i < (long)rows * K; i++) { mask[i] = rand() < d * RAND_MAX; w[i] = (rand() % 200 - 100) / 64.0f; }
  mat m; m.blocks = (K + kb - 1) / kb; m.start = malloc(4L * m.blocks * (rows + 1)); m.off = malloc(4L * rows * K); m.val = malloc(4L * rows * K);
  int n = 0;
  for (int bl = 0; bl < m.blocks; bl++) { int *st = m.start + bl * (rows + 1); st[0] = n;
    for (int i = 0; i < rows; i++) { for (int k = bl * kb; k < K && k < (bl + 1) * kb; k++) if (mask[(long)i * K + k]) { m.off[n] = k; m.val[n] = w[(long)i * K + k]; n++; } st[i + 1] = n; } }
  free(mask); free(w); return m;
}
int main(int argc, char **argv) {
  const int rows = atoi(argv[1]), K = atoi(argv[2]); const double d = atof(argv[3]);
  float *b = aligned_alloc(64, 4L * K * 64), *c = aligned_alloc(64, 4L * rows * 64);
  for (long i = 0; i < K * 64L; i++) b[i] = (rand() % 64 - 32) / 16.0f;
  printf("rows %d K %d d %.3f:", rows, K, d);
  int nv[] = {4, 2, 1, 1}; const char *nm[] = {"W64", "W32", "W16", "W16r2"};
  int budgets[] = {1 << 30, 24576, 12288};  // bytes of B per block
  for (int bi = 0; bi < 3; bi++) {
    printf(" |B%s", bi == 0 ? "all" : bi == 1 ? "24K" : "12K");
    for (int v = 0; v < 4; v++) {
      int W = 16 * nv[v]; long kb = budgets[bi] / (W * 4); if (kb > K) kb = K;
      mat m = build(rows, K, d, (int)kb, 7); long n = m.start[m.blocks * (rows + 1) - 1];
      double best = 1e9; int reps = 300;
      for (int r = 0; r < 5; r++) { double t = now(); for (int q = 0; q < reps; q++) { if (v == 0) k4(rows, &m, b, c); else if (v == 1) k2(rows, &m, b, c); else if (v == 2) k1(rows, &m, b, c); else k1r2(rows, &m, b, c); } t = (now() - t) / reps; if (t < best) best = t; }
      printf(" %s %.0f", nm[v], 2.0 * n * W / best / 1e9);
      free(m.start); free(m.off); free(m.val);
    }
  }
  printf(" GF/s\n");
}
