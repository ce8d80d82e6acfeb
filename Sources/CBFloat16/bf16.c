// The portable bodies, the CPU's bf16 features, and the dispatch between the two bodies.
#include "CBFloat16.h"
#include "bf16_isa.h"
#include <cpuid.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

/// Whether the OS saves the AVX-512 state (XCR0 bits 1, 2, 5, 6, 7) so that its registers may be used.
static int os_saves_avx512(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0;   // OSXSAVE
    return (xgetbv0() & 0xE6) == 0xE6;
}

int bf16_cpu_has_avx512bf16(void) {
    static int known = -1;
    if (known >= 0) return known;
    unsigned a, b, c, d;
    int has = 0;
    if (__get_cpuid_max(0, 0) >= 7 && os_saves_avx512()) {
        __cpuid_count(7, 0, a, b, c, d);
        int f = (b >> 16) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
        __cpuid_count(7, 1, a, b, c, d);
        has = f && bw && vl && ((a >> 5) & 1);
    }
    known = has;
    return has;
}

int bf16_cpu_has_amx_bf16(void) {
    static int known = -1;
    if (known >= 0) return known;
    unsigned a, b, c, d;
    int has = 0;
    if (__get_cpuid_max(0, 0) >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        int tile = (d >> 24) & 1, amxbf16 = (d >> 22) & 1;
        // XCR0 bits 17, 18: the OS supports tile state; Linux also wants a permission request.
        if (tile && amxbf16 && (xgetbv0() & 0x60000) == 0x60000) {
#ifdef SYS_arch_prctl
            has = syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) == 0;
#endif
        }
    }
    known = has;
    return has;
}

static int current_isa = -1;

int bf16_isa(void) {
    if (current_isa < 0) current_isa = bf16_cpu_has_avx512bf16() ? 1 : 0;
    return current_isa;
}

int bf16_force_isa(int isa) {
    int best = bf16_cpu_has_avx512bf16() ? 1 : 0;
    current_isa = isa < 0 ? best : (isa > best ? best : isa);
    return current_isa;
}

static inline bf16_t round_one(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7F800000u) == 0) return (bf16_t)((u >> 16) & 0x8000u);          // zero or denormal
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (bf16_t)((u >> 16) | 0x40u);    // NaN, made quiet
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (bf16_t)(u >> 16);
}

bf16_t bf16_from_float(float x) { return round_one(x); }

float bf16_to_float(bf16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, 4);
    return x;
}

void bf16_round(const float *src, bf16_t *dst, int64_t n) {
    if (bf16_isa() == 1) { bf16_round_avx512(src, dst, n); return; }
    for (int64_t i = 0; i < n; i++) dst[i] = round_one(src[i]);
}

void bf16_pack_rows(const float *src, int64_t ld, int32_t rows, int32_t cols, bf16_t *dst, int64_t ldd) {
    if (bf16_isa() == 1) { bf16_pack_rows_avx512(src, ld, rows, cols, dst, ldd); return; }
    for (int32_t r = 0; r < rows; r++) {
        for (int32_t c = 0; c < cols; c++) dst[r * ldd + c] = round_one(src[r * ld + c]);
        for (int64_t c = cols; c < ldd; c++) dst[r * ldd + c] = 0;
    }
}

void bf16_pack_block_transposed(const float *src, int64_t ld, int32_t rows, int32_t cols, bf16_t *dst, int64_t ldd) {
    // Eight rows of src at a time: each column's eight values land side by side in dst.
    int32_t r0 = 0;
    for (; r0 + 8 <= rows; r0 += 8) {
        const float *s = src + r0 * ld;
        for (int32_t c = 0; c < cols; c++) {
            bf16_t *d = dst + c * ldd + r0;
            for (int q = 0; q < 8; q++) d[q] = round_one(s[q * ld + c]);
        }
    }
    for (int32_t c = 0; c < cols; c++)
        for (int32_t r = r0; r < rows; r++) dst[c * ldd + r] = round_one(src[r * ld + c]);
}

void bf16_pack_rows_transposed(const float *src, int64_t ld, int32_t rows, int32_t cols, bf16_t *dst, int64_t ldd) {
    bf16_pack_block_transposed(src, ld, rows, cols, dst, ldd);
    for (int32_t c = 0; c < cols; c++)
        for (int64_t r = rows; r < ldd; r++) dst[c * ldd + r] = 0;
}

/// The pairs layout of a k × n operand whose element (r, j) is src[r·rowStride + j·colStride].
static void pack_pairs_portable(const float *src, int64_t rowStride, int64_t colStride, int32_t k, int32_t n, bf16_t *dst) {
    int64_t np = bf16_packed_columns(n);
    for (int32_t r = 0; r < (k + 1) / 2 * 2; r++)
        for (int64_t j = 0; j < np; j++)
            dst[((r / 2) * np + j) * 2 + r % 2] = r < k && j < n ? round_one(src[r * rowStride + j * colStride]) : 0;
}

void bf16_pack_pairs(const float *src, int64_t ld, int32_t k, int32_t n, bf16_t *dst) {
    if (bf16_isa() == 1) { bf16_pack_pairs_avx512(src, ld, k, n, dst); return; }
    pack_pairs_portable(src, ld, 1, k, n, dst);
}

void bf16_pack_pairs_transposed(const float *src, int64_t ld, int32_t n, int32_t k, bf16_t *dst) {
    if (bf16_isa() == 1) { bf16_pack_pairs_transposed_avx512(src, ld, n, k, dst); return; }
    pack_pairs_portable(src, 1, ld, k, n, dst);
}

/// The portable product: per element of C, pairs of k in order, each pair's two exact products added one
/// after the other (the fast body's order; its blocks of BF16_KC pairs only store and reload the fp32 sum).
static void gemm_portable(int32_t m, int32_t n, int32_t k, const bf16_t *a, int64_t lda, const bf16_t *b,
                          float *c, int64_t ldc, int accumulate) {
    int64_t np = bf16_packed_columns(n), pairs = (k + 1) / 2;
    for (int32_t i = 0; i < m; i++) {
        for (int32_t j = 0; j < n; j++) {
            float acc = accumulate ? c[i * ldc + j] : 0.0f;
            for (int64_t p = 0; p < pairs; p++) {
                const bf16_t *bp = b + (p * np + j) * 2;
                acc += bf16_to_float(a[i * lda + 2 * p + 1]) * bf16_to_float(bp[1]);
                acc += bf16_to_float(a[i * lda + 2 * p]) * bf16_to_float(bp[0]);
            }
            c[i * ldc + j] = acc;
        }
    }
}

void bf16_gemm(int32_t m, int32_t n, int32_t k, const bf16_t *a, int64_t lda, const bf16_t *b, float *c,
               int64_t ldc, int accumulate) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        if (!accumulate) for (int32_t i = 0; i < m; i++) memset(c + i * ldc, 0, (size_t)n * sizeof(float));
        return;
    }
    if (bf16_isa() == 1) { bf16_gemm_avx512(m, n, k, a, lda, b, c, ldc, accumulate); return; }
    gemm_portable(m, n, k, a, lda, b, c, ldc, accumulate);
}
