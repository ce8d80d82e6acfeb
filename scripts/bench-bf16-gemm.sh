#!/usr/bin/env bash
# The bf16 product strdist runs against oneDNN 2.6's matmul (Debian's libdnnl-dev: the library with a bf16
# GEMM here; OpenBLAS 0.3.21 has none) and OpenBLAS's sgemm, one thread, ResNet50 GEMM shapes — why
# strdist keeps its own bf16 product (scripts/probes/bf16_gemm_vs_onednn.c says what it measures).
# Needs AVX512_BF16 and clang (the AVX-512 body is compiled under clang's target pragma, as SwiftPM does);
# installs libdnnl-dev when missing; never in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! dpkg-query -W -f='${Status}' libdnnl-dev 2>/dev/null | grep -q "install ok installed"; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libdnnl-dev >/dev/null
fi
grep -q avx512_bf16 /proc/cpuinfo || { echo "bench-bf16-gemm: this CPU has no AVX512_BF16" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"${CC:-clang}" -O3 -I Sources/CBFloat16/include Sources/CBFloat16/*.c scripts/probes/bf16_gemm_vs_onednn.c \
    -o "$out/probe" -ldnnl -lopenblas
lscpu | sed -n 's/^Model name: */CPU: /p'
OMP_NUM_THREADS=1 "$out/probe"
