#!/usr/bin/env bash
# Installs what strdist needs (when missing) and builds it in release mode.
# Idempotent: a second run installs nothing and rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libopenmpi-dev openmpi-bin libopenblas-dev libjpeg-dev dataset-fashion-mnist pkg-config zlib1g-dev
          iproute2 slurm-wlm munge chromium python3)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

command -v swift >/dev/null || { echo "setup: swift is not on PATH (Swift 6 toolchain needed)" >&2; exit 1; }
# scripts/test.sh builds with -enable-testing itself (one build, not two).
[ "${1:-}" = "--packages-only" ] && exit 0
swift build -c release
echo "setup: built $(swift build -c release --show-bin-path)/strdist"
