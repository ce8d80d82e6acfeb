// The numeric kernels live in their own module (built without run-time checks); everything that
// uses STRDist sees them through it.
@_exported import STRDistKernels
