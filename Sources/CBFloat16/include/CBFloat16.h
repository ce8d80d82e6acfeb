// bfloat16 arithmetic for mixed precision: rounding fp32 to bf16, packing operands into the layouts
// the bf16 product reads, and that product (bf16 operands, fp32 accumulation and output). One portable
// body that runs on any CPU (the reference the tests hold the fast one to) and an AVX512_BF16 body
// (vcvtneps2bf16, vdpbf16ps), chosen at run time: nothing here executes an instruction the CPU lacks.
#ifndef CBFLOAT16_H
#define CBFLOAT16_H
#include <stdint.h>

/// A bfloat16's bits: fp32's sign, its 8 exponent bits and the top 7 of its mantissa.
typedef uint16_t bf16_t;

/// What the CPU can do in bf16: its arithmetic (AVX512_BF16) and Intel's AMX tiles (AMX-BF16, with the
/// OS's consent to use them). Read once, by CPUID and XGETBV.
int bf16_cpu_has_avx512bf16(void);
int bf16_cpu_has_amx_bf16(void);

/// The body in use: 0 portable C, 1 AVX512_BF16. `bf16_force_isa` (tests) picks one, capped at the best
/// the CPU has (negative: the best); it returns the one now in use.
int bf16_isa(void);
int bf16_force_isa(int isa);

/// fp32 → bf16, rounding to nearest even as vcvtneps2bf16 does: a denormal input becomes a zero of its
/// sign, NaN stays a (quiet) NaN. The portable and the AVX512_BF16 bodies give the same bits.
bf16_t bf16_from_float(float x);
float bf16_to_float(bf16_t h);

/// Sixteen fp32 lanes (Swift's SIMD16<Float>).
typedef float bf16_float16 __attribute__((ext_vector_type(16)));
/// p[0..<16] widened to fp32 (exact: the bits shifted up), inline where it is called (Swift inlines it too).
static inline bf16_float16 bf16_load16(const bf16_t *p) {
    typedef uint16_t u16x16 __attribute__((ext_vector_type(16), aligned(2)));
    typedef uint32_t u32x16 __attribute__((ext_vector_type(16)));
    const u32x16 w = __builtin_convertvector(*(const u16x16 *)p, u32x16) << 16;
    return (bf16_float16)w;
}
void bf16_round(const float *src, bf16_t *dst, int64_t n);

/// Row-major bf16 copy of rows × cols fp32 (row stride `ld`): dst row r at r·ldd, ldd even and ≥ cols;
/// the columns from cols to ldd are zero. The left operand of bf16_gemm.
void bf16_pack_rows(const float *src, int64_t ld, int32_t rows, int32_t cols, bf16_t *dst, int64_t ldd);
/// The same of the transpose: dst (cols × rows) row c holds src's column c; rows padded to ldd with zeros.
void bf16_pack_rows_transposed(const float *src, int64_t ld, int32_t rows, int32_t cols, bf16_t *dst, int64_t ldd);
/// A block of that transpose: src's rows become dst's columns 0..<rows (no padding written), so that
/// threads can fill disjoint column blocks of one transposed matrix.
void bf16_pack_block_transposed(const float *src, int64_t ld, int32_t rows, int32_t cols, bf16_t *dst, int64_t ldd);

/// Columns of a packed right operand: n rounded up to 16.
static inline int64_t bf16_packed_columns(int64_t n) { return (n + 15) & ~(int64_t)15; }
/// bf16 elements of a packed right operand of k × n.
static inline int64_t bf16_packed_size(int64_t k, int64_t n) { return ((k + 1) / 2) * bf16_packed_columns(n) * 2; }
/// The right operand B (k × n, fp32, row stride ld) in pairs of rows: element (r, j) at
/// ((r/2)·np + j)·2 + r%2 with np = bf16_packed_columns(n); the pad (an odd k's last row, columns past n) is zero.
void bf16_pack_pairs(const float *src, int64_t ld, int32_t k, int32_t n, bf16_t *dst);
/// The same for B = Sᵀ where S is n × k (row stride ld): element (r, j) of B is S[j, r].
void bf16_pack_pairs_transposed(const float *src, int64_t ld, int32_t n, int32_t k, bf16_t *dst);

/// C[m×n] = A·B, or C += A·B when `accumulate`: A m × k bf16 from bf16_pack_rows (lda even ≥ k, zero
/// pad), B packed by bf16_pack_pairs, C fp32 with row stride ldc. Products of bf16 are exact in fp32 and
/// summed in fp32, in a fixed order (the same result on every run and thread count).
void bf16_gemm(int32_t m, int32_t n, int32_t k, const bf16_t *a, int64_t lda, const bf16_t *b, float *c,
               int64_t ldc, int accumulate);
#endif
