// The shared test support (naive reference kernels, assertClose, randomArray) for every file here.
@_exported import STRDistTestSupport
