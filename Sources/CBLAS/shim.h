// CBLAS: OpenBLAS's <cblas.h> (sgemm, thread count, core name) for Swift.
#ifndef CBLAS_SHIM_H
#define CBLAS_SHIM_H
#include <cblas.h>
#endif
