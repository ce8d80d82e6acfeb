#!/usr/bin/env bash
# Sets up (installs packages when missing, release build), then trains:
#   bash scripts/train.sh --config configs/fmnist-resnet18-str.yaml [--key value ...]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
exec "$(swift build -c release --show-bin-path)/strdist" "$@"
