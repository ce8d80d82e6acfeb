// CVector: what Swift's SIMD types cannot say, or say slowly; inline, so Swift compiles each into the loop
// that calls it.
// - Stores past the caches (non-temporal), for kernels whose output outgrows the last-level cache
//   (MachineCaches.streams): whoever reads it next fetches it from memory anyway, and a store through the
//   caches would first read every line it writes. Streamed stores are weakly ordered: a thread fences
//   (`stream_fence`) before another may read what it streamed.
// - A 16-lane mask as 16 bits and back (a residual join's ReLU mask kept for the backward: BatchNormKernels),
//   where Swift builds an integer vector comparison's mask lane by lane through memory.
#ifndef CVECTOR_H
#define CVECTOR_H

#include <stdint.h>

/// Sixteen fp32 lanes (Swift's SIMD16<Float>).
typedef float vec_float16 __attribute__((ext_vector_type(16)));

/// p[0..<16] = v, past the caches; p 64-byte aligned.
static inline void stream_store16(float *p, vec_float16 v) {
    __builtin_nontemporal_store(v, (vec_float16 *)p);
}

/// Orders this thread's streamed stores before its later stores (the thread pool's "done").
void stream_fence(void);

typedef int vec_int16 __attribute__((ext_vector_type(16)));
typedef _Bool vec_bool16 __attribute__((ext_vector_type(16)));

/// Bit t set where lane t of v is not ≤ 0: where a ReLU whose output v is keeps the gradient (NaN included).
static inline uint16_t relu_kept_lanes(vec_float16 v) {
    const vec_bool16 b = __builtin_convertvector(!(v <= 0.0f), vec_bool16);
    uint16_t bits;
    __builtin_memcpy(&bits, &b, sizeof bits);
    return bits;
}

/// d where bit t of `bits` is set, 0 elsewhere.
static inline vec_float16 keep_lanes(vec_float16 d, uint16_t bits) {
    const vec_int16 lane = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768};
    const vec_int16 keep = ((vec_int16)(int)bits & lane) != 0;
    return (vec_float16)((vec_int16)d & keep);
}
#endif
