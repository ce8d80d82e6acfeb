// CAllocCounter: counts heap allocations (malloc, calloc, realloc,
// posix_memalign, aligned_alloc, memalign) from every thread while enabled.
// Linked into the test executable, whose definitions interpose glibc's.
#ifndef ALLOC_COUNTER_H
#define ALLOC_COUNTER_H
#include <stdint.h>
void alloc_counter_start(void);
uint64_t alloc_counter_stop(void);
#endif
