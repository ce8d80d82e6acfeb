// CStream: stores past the caches (non-temporal), for kernels whose output outgrows the last-level cache
// (MachineCaches.streams): whoever reads it next fetches it from memory anyway, and a store through the
// caches would first read every line it writes. Swift has no such store; `stream_store16` is inline, so
// Swift compiles it into the loop that calls it. Streamed stores are weakly ordered: a thread fences
// (`stream_fence`) before another may read what it streamed.
#ifndef CSTREAM_H
#define CSTREAM_H

/// Sixteen fp32 lanes (Swift's SIMD16<Float>).
typedef float stream_float16 __attribute__((ext_vector_type(16)));

/// p[0..<16] = v, past the caches; p 64-byte aligned.
static inline void stream_store16(float *p, stream_float16 v) {
    __builtin_nontemporal_store(v, (stream_float16 *)p);
}

/// Orders this thread's streamed stores before its later stores (the thread pool's "done").
void stream_fence(void);
#endif
