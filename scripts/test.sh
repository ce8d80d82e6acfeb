#!/usr/bin/env bash
# Sets up, then runs every test. Arithmetic-heavy tests run in release mode
# (with -enable-testing for @testable imports) so the suite stays fast.
#
#   bash scripts/test.sh                      every test, with the environment as it is
#   bash scripts/test.sh --kernel-dependent   only the tests whose outcome depends on which kernels run
#                                             (.ci/run repeats them under OpenBLAS's other core)
set -euo pipefail
cd "$(dirname "$0")/.."

# Tests that a different GEMM kernel (OpenBLAS's AVX-512 core or Haswell's) or instruction set can
# change: no allocation in a step, the sparsity controller landing on its target, the goldens against
# PyTorch, sparse against dense, and resuming bit for bit.
kernel_dependent='GemmTests|ConvKernelTests|SparseKernelTests|SparseConvKernelTests|SparseConvTests|SparsePlanTests'
kernel_dependent+='|TrainingStepTests|GoldenTests|SparsityControllerTests|TrainingJobTests|FifthKindTests|MixedPrecisionTests|FastGRNNTests|SampleGroupsTests'
kernel_dependent+='|CheckpointTests/testDenseConversionGivesIdenticalLogits|RunOutputTests/testResumedRunIsBitIdentical'
kernel_dependent+='|MultiRankTests/(testResumeOnTwoRanksIsBitIdentical|testKeptOnlyAllreduceIsBitIdenticalToTheDenseOne|testFastGRNN'
kernel_dependent+='|testPreemption|testSyncBatchNormGivesTheSameSteps)'
filter=()
case "${1:-}" in
    "") ;;
    --kernel-dependent) filter=(--filter "$kernel_dependent") ;;
    *) echo "usage: scripts/test.sh [--kernel-dependent]" >&2; exit 2 ;;
esac

scripts/setup.sh --packages-only
# The release strdist the multi-rank tests run is built here too (with the tests' flags).
swift build --build-tests -c release -Xswiftc -enable-testing
# As root with network namespaces (CI) the multi-host and SLURM tests must run: they make namespace
# hosts and a local SLURM. Root in an unprivileged container has no namespaces: they are skipped.
if [ "$(id -u)" -eq 0 ]; then
    if unshare --net true 2>/dev/null; then
        export STRDIST_REQUIRE_CLUSTER=1
    else
        echo "tests: root without network namespaces (unshare --net fails): the multi-host and SLURM tests are skipped"
    fi
fi
# The suite starts its own ranks and injects its own faults: a launcher's or a fault's variables
# left in this shell (the suite run inside srun or mpirun, a STRDIST_FAULT from a manual try) must
# not reach the in-process jobs.
unset STRDIST_FAULT OMPI_COMM_WORLD_SIZE OMPI_COMM_WORLD_RANK PMI_SIZE PMI_RANK PMIX_RANK MPI_LOCALNRANKS
# Which kernels these results come from.
echo "tests run on: $(.build/release/strdist version)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
# Line-buffered, so a log cut short shows the test that was running; a bound, so a hang fails
# within CI's budget instead of eating it.
timeout --kill-after=30 2700 stdbuf -oL -eL \
    swift test --skip-build -c release -Xswiftc -enable-testing --disable-swift-testing ${filter[@]+"${filter[@]}"} \
    2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One plain summary line from XCTest's own totals.
summary=$(grep -E "^[[:space:]]*Executed [0-9]+ tests?, with [0-9]+ failures?" "$log" | tail -1)
total=$(sed -E 's/.*Executed ([0-9]+) tests?.*/\1/' <<<"$summary")
failed=$(sed -E 's/.*with ([0-9]+) failures?.*/\1/' <<<"$summary")
echo "tests: $((total - failed)) passed, $failed failed"
[ "$status" -eq 124 ] && echo "tests: stopped after 2700 s (a hang; the last test started above is the one)"
exit "$status"
