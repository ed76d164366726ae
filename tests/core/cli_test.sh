#!/usr/bin/env bash
# End-to-end checks of the deepvox command line: usage, errors, the error path across ranks, inspect.
# usage: cli_test.sh path/to/deepvox WORKDIR
set -u
exe=$1
work=$2
mpi_test_exe=$3
rm -rf "$work" && mkdir -p "$work"
fails=0
pass() { echo "ok   - $1"; }
fail() { echo "FAIL - $1"; fails=$((fails + 1)); }
mpi() { mpiexec --oversubscribe --allow-run-as-root --bind-to none "$@"; }

out=$("$exe" --help 2>&1); rc=$?
if [ $rc -eq 0 ] && for s in extract fit synth decode maximize reconstruct explain import inspect pipeline; do
     echo "$out" | grep -q "^  $s " || exit 1; done; then pass "--help lists every stage"; else fail "--help lists every stage"; fi

out=$("$exe" frobnicate 2>&1); rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q "unknown command 'frobnicate'" && echo "$out" | grep -q "^usage: deepvox"; then
  pass "unknown subcommand prints usage and fails"; else fail "unknown subcommand: rc=$rc $out"; fi

for s in extract fit synth decode maximize reconstruct explain import pipeline inspect; do
  "$exe" $s --help >/dev/null 2>&1 || { fail "$s --help"; continue; }
done
pass "--help works for every subcommand"

out=$("$exe" extract --set extract.bacth_size=4 2>&1); rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q "extract.bacth_size"; then pass "bad --set key is named"; else fail "bad key: $out"; fi

printf 'fit:\n  lamdbas: [1, 2]\n' > "$work/bad.yaml"
out=$(mpi -n 2 "$exe" fit --config "$work/bad.yaml" 2>&1); rc=$?
n=$(echo "$out" | grep -c "fit.lamdbas")
if [ $rc -ne 0 ] && [ "$n" -eq 1 ]; then pass "bad config key named once (rank 0) at 2 ranks"; else fail "bad config file key: rc=$rc $out"; fi

out=$("$exe" extract --no-such-flag 3 2>&1); rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q "no-such-flag"; then pass "unknown flag named"; else fail "unknown flag: $out"; fi

out=$("$exe" config --run-dir /tmp/zz --batch-size 5 2>&1 | grep -E "run_dir|batch_size")
if echo "$out" | grep -q "run_dir: /tmp/zz" && echo "$out" | grep -q "batch_size: 5"; then
  pass "flags are shorthand for --set"; else fail "shorthand: $out"; fi

# A failure on one rank ends the whole job quickly, with a message naming the rank.
start=$(date +%s)
out=$(timeout 60 bash -c "OMPI_MCA_orte_abort_print_stack=0 mpiexec --oversubscribe --allow-run-as-root --bind-to none -n 4 '$exe' import --set debug.fail_on_rank=2 --set run_dir=$work/run 2>&1"); rc=$?
took=$(( $(date +%s) - start ))
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && echo "$out" | grep -q "rank 2/4" && echo "$out" | grep -q "injected failure" && [ $took -lt 30 ]; then
  pass "a failing rank ends the job (rc=$rc, ${took}s)"; else fail "failing rank: rc=$rc took=${took}s $out"; fi

# inspect on a file written by the HDF5 layer (via a stage-independent writer: the test exe wrote one).
TEST_TMPDIR="$work/" "$mpi_test_exe" --gtest_filter=MpiIo.RunFileIsRenamedOnlyOnCommit >/dev/null 2>&1
h5="$work/runfile_np1/features.h5"
if [ -f "$h5" ]; then
  out=$("$exe" inspect "$h5" 2>&1); rc=$?
  if [ $rc -eq 0 ] && echo "$out" | grep -q "@mpi_ranks = 1" && echo "$out" | grep -q "x  int64 \[3\]"; then
    pass "inspect shows datasets and provenance"; else fail "inspect: $out"; fi
else
  fail "no HDF5 file from the HDF5 layer to inspect"
fi
out=$("$exe" inspect /nonexistent.h5 2>&1); rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q "/nonexistent.h5"; then pass "inspect names a missing file"; else fail "inspect missing: $out"; fi

echo "$((11 - fails)) passed, $fails failed"
[ $fails -eq 0 ]
