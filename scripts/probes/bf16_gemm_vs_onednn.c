// One thread, f32 output, the bf16 product strdist runs (CBFloat16's bf16_gemm, AVX512_BF16) against
// oneDNN 2.6's matmul (bf16 and f32; brgemm kernels) and OpenBLAS's sgemm, on GEMM shapes of ResNet50
// at batch 16; and how many heap allocations one oneDNN execute makes (a training step of strdist
// makes none). Built and run by scripts/bench-bf16-gemm.sh; never in CI.
#include "CBFloat16.h"
#include <cblas.h>
#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long mallocs = 0;
static int counting = 0;
extern void *__libc_malloc(size_t);
void *malloc(size_t n) {
    if (counting) mallocs++;
    return __libc_malloc(n);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#define CHECK(x) do { dnnl_status_t s_ = (x); if (s_) { fprintf(stderr, "%s failed: %d\n", #x, s_); exit(1); } } while (0)

/// GFLOP/s of oneDNN's matmul C = A·B in `type` (f32 output), and the mallocs of one execute.
static double onednn(int m, int n, int k, dnnl_data_type_t type, const void *a, const void *b, float *c, int reps,
                     long *allocations, const char **impl) {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    dnnl_memory_desc_t ad, bd, cd;
    dnnl_dims_t adims = {m, k}, bdims = {k, n}, cdims = {m, n}, as = {k, 1}, bs = {n, 1}, cs = {n, 1};
    CHECK(dnnl_memory_desc_init_by_strides(&ad, 2, adims, type, as));
    CHECK(dnnl_memory_desc_init_by_strides(&bd, 2, bdims, type, bs));
    CHECK(dnnl_memory_desc_init_by_strides(&cd, 2, cdims, dnnl_f32, cs));
    dnnl_matmul_desc_t md;
    CHECK(dnnl_matmul_desc_init(&md, &ad, &bd, NULL, &cd));
    dnnl_primitive_attr_t attr;
    CHECK(dnnl_primitive_attr_create(&attr));
    CHECK(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
    dnnl_primitive_desc_t pd;
    CHECK(dnnl_primitive_desc_create(&pd, &md, attr, engine, NULL));
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, impl);
    const dnnl_memory_desc_t *sd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    void *scratch = aligned_alloc(64, dnnl_memory_desc_get_size(sd) + 64);
    dnnl_primitive_t p;
    CHECK(dnnl_primitive_create(&p, pd));
    dnnl_memory_t am, bm, cm, sm;
    CHECK(dnnl_memory_create(&am, &ad, engine, (void *)a));
    CHECK(dnnl_memory_create(&bm, &bd, engine, (void *)b));
    CHECK(dnnl_memory_create(&cm, &cd, engine, c));
    CHECK(dnnl_memory_create(&sm, sd, engine, scratch));
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}, {DNNL_ARG_SCRATCHPAD, sm}};
    CHECK(dnnl_primitive_execute(p, stream, 4, args));
    counting = 1; mallocs = 0;
    CHECK(dnnl_primitive_execute(p, stream, 4, args));
    counting = 0; *allocations = mallocs;
    double t0 = now();
    for (int r = 0; r < reps; r++) dnnl_primitive_execute(p, stream, 4, args);
    return 2.0 * m * n * k * reps / (now() - t0) / 1e9;
}

int main(void) {
    // One thread: oneDNN's OpenMP reads OMP_NUM_THREADS=1 (the script sets it); OpenBLAS is told here.
    openblas_set_num_threads(1);
    // (M, N, K): forward of 1×1 and 3×3 convs (O × positions × C·k²) and their weight gradients.
    int shapes[][3] = {{256, 3136, 64}, {64, 3136, 576}, {128, 784, 1152}, {256, 784, 2304}, {512, 196, 4608},
                       {64, 576, 3136}, {1024, 196, 256}};
    int count = sizeof shapes / sizeof shapes[0], reps = 20;
    printf("%-16s %10s %12s %13s %13s   (GFLOP/s, one thread; oneDNN mallocs per execute)\n", "M×N×K", "sgemm",
           "oneDNN f32", "oneDNN bf16", "strdist bf16");
    for (int s = 0; s < count; s++) {
        int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        float *a = aligned_alloc(64, 4L * m * k + 64), *b = aligned_alloc(64, 4L * k * n + 64), *c = aligned_alloc(64, 4L * m * n + 64);
        for (long i = 0; i < (long)m * k; i++) a[i] = rand() / (float)RAND_MAX - 0.5f;
        for (long i = 0; i < (long)k * n; i++) b[i] = rand() / (float)RAND_MAX - 0.5f;
        bf16_t *ab = aligned_alloc(64, 2L * m * k + 64), *bb = aligned_alloc(64, 2L * k * n + 64);
        bf16_round(a, ab, (int64_t)m * k);
        bf16_round(b, bb, (int64_t)k * n);
        double t0 = now();
        for (int r = 0; r < reps; r++) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1, a, k, b, n, 0, c, n);
        double sgemm = 2.0 * m * n * k * reps / (now() - t0) / 1e9;
        long allocF, allocB;
        const char *implF, *implB;
        double f32 = onednn(m, n, k, dnnl_f32, a, b, c, reps, &allocF, &implF);
        double b16 = onednn(m, n, k, dnnl_bf16, ab, bb, c, reps, &allocB, &implB);
        int64_t lda = (k + 1) & ~1;
        bf16_t *ap = aligned_alloc(64, 2L * m * lda + 64), *bp = aligned_alloc(64, 2 * bf16_packed_size(k, n) + 64);
        bf16_pack_rows(a, k, m, k, ap, lda);
        bf16_pack_pairs(b, n, k, n, bp);
        bf16_gemm(m, n, k, ap, lda, bp, c, n, 0);
        t0 = now();
        for (int r = 0; r < reps; r++) bf16_gemm(m, n, k, ap, lda, bp, c, n, 0);
        double ours = 2.0 * m * n * k * reps / (now() - t0) / 1e9;
        char name[32];
        snprintf(name, sizeof name, "%d×%d×%d", m, n, k);
        printf("%-18s %8.1f %8.1f (%ld) %9.1f (%ld) %12.1f   %s\n", name, sgemm, f32, allocF, b16, allocB, ours, implB);
    }
    return 0;
}
