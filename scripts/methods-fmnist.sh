#!/usr/bin/env bash
# The methods at equal sparsity on Fashion-MNIST (the shipped ResNet18 configs, 10 epochs each):
# STR with target_sparsity, GMP, DNW, and GMP with the STR run's learned budget (--use-budget), at
# 90% and 95%; two seeds for STR and GMP at 95%. One run at a time (each takes the machine's cores),
# its wall time recorded; then the README's table and a report page over all of them.
#   bash scripts/methods-fmnist.sh [OUT_DIR]      (default /tmp/strdist-methods; about 2 hours on 2 cores)
#   bash scripts/methods-fmnist.sh --table OUT_DIR   (only the table, from finished runs)
set -euo pipefail
cd "$(dirname "$0")/.."
table_only=false
if [ "${1:-}" = "--table" ]; then table_only=true; shift; fi
out=${1:-/tmp/strdist-methods}
runs=$out/runs
mkdir -p "$out"

if ! $table_only; then
    scripts/setup.sh >/dev/null
    bin=$(swift build -c release --show-bin-path)/strdist
    unset OPENBLAS_CORETYPE   # OpenBLAS picks the machine's own core
    run() {  # label, strdist args…
        local label=$1; shift
        local start end
        start=$(date +%s.%N)
        "$bin" "$@" --name "$label" --log_dir "$runs" --print_freq 1000 > "$out/$label.log" 2>&1
        end=$(date +%s.%N)
        printf '%s\t%.0f\t%s\n' "$label" "$(echo "$end - $start" | bc)" "strdist $*" >> "$out/times.tsv"
    }
    : > "$out/times.tsv"
    str="--config configs/fmnist-resnet18-str.yaml --init_prune_epoch 1 --final_prune_epoch 6"
    gmp="--config configs/fmnist-resnet18-gmp.yaml"
    dnw="--config configs/fmnist-resnet18-dnw.yaml"
    run str95-s1 $str --target_sparsity 0.95 --seed 1
    run str90-s1 $str --target_sparsity 0.90 --seed 1
    run str95-s2 $str --target_sparsity 0.95 --seed 2
    run gmp95-s1 $gmp --prune_rate 0.95 --seed 1
    run gmp95-s2 $gmp --prune_rate 0.95 --seed 2
    run gmp90-s1 $gmp --prune_rate 0.90 --seed 1
    run dnw95-s1 $dnw --prune_rate 0.95 --seed 1
    run dnw90-s1 $dnw --prune_rate 0.90 --seed 1
    for p in 95 90; do
        model=$(ls "$runs"/fmnist-resnet18-str/str$p-s1/prune_rate=*/width_mult=0.25/checkpoints/latest.safetensors)
        run gmp-budget$p-s1 $gmp --pretrained "$model" --use-budget --ignore-pretrained-weights --seed 1
    done
    "$bin" report $(dirname $(find "$runs" -name summary.json | sort)) --out "$out/report.html"
fi

python3 - "$out" <<'EOF'
import json, glob, os, sys, statistics
out = sys.argv[1]
times = {}
for line in open(os.path.join(out, "times.tsv")):
    label, seconds, command = line.rstrip("\n").split("\t")
    times[label] = (int(seconds), command)
rows = {}
for path in glob.glob(os.path.join(out, "runs", "*", "*", "*", "*", "summary.json")):
    s = json.load(open(path))
    layers = s["layers"]
    params = sum(l["params"] for l in layers)
    overall = 100 * sum(l["params"] * l["sparsity"] / 100 for l in layers) / params
    rows[s["name"]] = (s, overall)
groups = [("STR, target_sparsity", "str"), ("GMP", "gmp"), ("DNW", "dnw"), ("GMP, STR's budget (--use-budget)", "gmp-budget")]
print("| method | target | runs | test top-1 (mean ± half the range) | sparsity as reported (over all weights) | inference MACs per image (% of dense) | wall time |")
print("|---|---|---|---|---|---|---|")
for p in ("90", "95"):
    for title, prefix in groups:
        names = sorted(n for n in rows if n.startswith(f"{prefix}{p}-s"))
        if not names: continue
        top1 = [rows[n][0]["val_top1"] for n in names]
        spread = f" ± {(max(top1) - min(top1)) / 2:.2f}" if len(top1) > 1 else ""
        sp = ", ".join(f"{rows[n][0]['sparsity']:.2f}% ({rows[n][1]:.2f}%)" for n in names)
        macs = ", ".join(f"{rows[n][0]['flops'] / 1e6:.2f} M ({100 * rows[n][0]['flops'] / rows[n][0]['dense_flops']:.1f}%)" for n in names)
        wall = ", ".join(f"{times[n][0] // 60} min {times[n][0] % 60:02d} s" for n in names if n in times)
        print(f"| {title} | {p}% | {len(names)} | {statistics.mean(top1):.2f}%{spread} | {sp} | {macs} | {wall} |")
print()
for label, (seconds, command) in times.items():
    print(f"- `{label}`: `{command}`")
EOF
