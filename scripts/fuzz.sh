#!/usr/bin/env bash
# Fuzzes the readers of outside files with libFuzzer: builds strdist-fuzz with -sanitize=fuzzer
# (its own build folder, Swift's checks on in every reader), then runs each target for SECONDS
# on its seed corpus (fuzz/corpus/<target>, committed) plus what earlier runs found
# (.build/fuzz/corpus/<target>). A crash leaves its input as .build/fuzz/crash-<target>-*;
# reproduce it with: .build/release/strdist-fuzz <target> <that file>.
#   bash scripts/fuzz.sh [SECONDS=60] [TARGET…]   (targets: safetensors state config idx jpeg tfrecord)
# Prints one line per target: executions, executions/s, corpus, crashes; exits 1 on any crash.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors state config idx jpeg tfrecord)
scratch=.build/fuzz
swift build -c release --product strdist-fuzz --scratch-path "$scratch" \
    -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING -Xcc -fsanitize=fuzzer-no-link -Xcc -DSTRDIST_FUZZING >"$scratch.log" 2>&1 \
    || { tail -20 "$scratch.log"; echo "fuzz: build failed (see $scratch.log)" >&2; exit 1; }
bin=$scratch/release/strdist-fuzz
failed=0
for t in "${targets[@]}"; do
    [ -d "fuzz/corpus/$t" ] || { echo "fuzz: no seed corpus fuzz/corpus/$t" >&2; exit 2; }
    mkdir -p "$scratch/corpus/$t"
    log="$scratch/$t.log"
    set +e
    # Swift's own backtracer would catch a trap before libFuzzer could save the input.
    SWIFT_BACKTRACE=enable=no STRDIST_FUZZ_TARGET=$t "$bin" -max_total_time="$seconds" -rss_limit_mb=3072 -timeout=20 -print_final_stats=1 \
        -artifact_prefix="$scratch/crash-$t-" "$scratch/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1
    status=$?
    set -e
    runs=$(grep -oE "stat::number_of_executed_units: *[0-9]+" "$log" | grep -oE "[0-9]+$" || echo 0)
    speed=$(grep -oE "stat::average_exec_per_sec: *[0-9]+" "$log" | grep -oE "[0-9]+$" || echo 0)
    corpus=$(ls "$scratch/corpus/$t" | wc -l)
    crashes=$(ls "$scratch" | grep -c "^crash-$t-" || true)
    echo "fuzz: $t: $runs executions in ${seconds} s ($speed/s), corpus $corpus, crashes $crashes$([ $status -ne 0 ] && echo " — see $log")"
    [ $status -eq 0 ] || failed=1
done
exit $failed
