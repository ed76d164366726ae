#!/usr/bin/env bash
# End-to-end tests of `deepvox extract` on real photographs:
#   1. a seeded torchvision AlexNet (TorchScript) matches torch's own features, pooling included, to 1e-4;
#   2. features.h5 is bit-identical at 1, 2 and 4 ranks;
#   3. bad inputs fail cleanly: clear message naming the input, non-zero exit, no features.h5;
#   4. the default Inception V3 (nsfwjs weights) runs at 2 ranks.
# usage: extract_test.sh DEEPVOX WORKDIR PYTHON REPO
set -u
exe=$1 work=$2 py=$3 repo=$4
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work" && mkdir -p "$work"
fails=0 passes=0
pass() { echo "ok   - $1"; passes=$((passes + 1)); }
fail() { echo "FAIL - $1"; fails=$((fails + 1)); }
mpi() { local n=$1; shift; mpiexec --oversubscribe --allow-run-as-root --bind-to none -n "$n" "$@"; }
layers="features.2 features.5 features.12 classifier.2 classifier.5"

"$py" "$repo/tools/export_torchscript.py" --model alexnet --random-seed 0 --layers "${layers// /,}" --output "$work/alexnet.pt" \
  || { echo "FAIL - export"; exit 1; }
"$py" "$here/make_fixture.py" "$work/fix" "$work/alexnet.pt" 5000 $layers || { echo "FAIL - fixture"; exit 1; }

common=(--set extract.network=torchscript --set extract.weights="$work/alexnet.pt" --set extract.input_size=224
        --set extract.max_features=5000 --set extract.batch_size=3 --set threads=1 --set progress=never
        --set "extract.layers=[${layers// /, }]")
for n in 1 2 4; do
  if mpi $n "$exe" extract "${common[@]}" --set run_dir="$work/np$n" --set extract.images="$work/fix/manifest.csv" \
      > "$work/np$n.log" 2>&1; then
    pass "extract at $n rank(s)"
  else
    fail "extract at $n rank(s)"; cat "$work/np$n.log"
  fi
done
if "$py" "$here/compare_features.py" reference "$work/fix/reference.h5" "$work/np1/features.h5" 1e-4; then
  pass "AlexNet features match torch to 1e-4 relative"; else fail "reference comparison"; fi
if "$py" "$here/compare_features.py" identical "$work/np1/features.h5" "$work/np2/features.h5" "$work/np4/features.h5"; then
  pass "bit-identical at 1, 2, 4 ranks"; else fail "rank-count independence"; fi

check_bad() {  # name, expected message fragment, extra args...
  local name=$1 frag=$2; shift 2
  local dir="$work/bad_$name"
  out=$(timeout 120 mpiexec --oversubscribe --allow-run-as-root --bind-to none -n 2 "$exe" extract "${common[@]}" \
        --set run_dir="$dir" "$@" 2>&1); rc=$?
  if [ $rc -ne 0 ] && [ $rc -ne 124 ] && echo "$out" | grep -q -- "$frag" && [ ! -e "$dir/features.h5" ]; then
    pass "bad input '$name' fails cleanly (rc=$rc)"
  else
    fail "bad input '$name': rc=$rc"; echo "$out" | tail -5
  fi
}
check_bad missing "does_not_exist.png" --set extract.images="$work/fix/bad_missing.csv"
check_bad zero "zero.jpg" --set extract.images="$work/fix/bad_zero.csv"
check_bad truncated "truncated.jpg" --set extract.images="$work/fix/bad_truncated.csv"
check_bad notimage "notimage.png" --set extract.images="$work/fix/bad_notimage.csv"
check_bad nomanifest "nothere.csv" --set extract.images="$work/fix/nothere.csv"
check_bad layer "features.99" --set extract.images="$work/fix/manifest.csv" --set "extract.layers=[features.99]"
check_bad weights "weights" --set extract.images="$work/fix/manifest.csv" --set extract.weights="$work/fix/manifest.csv"

# The default network: Inception V3 with the real nsfwjs weights, 2 ranks (skipped only without fetched models).
if [ -f "$repo/models/inception_v3/model.json" ] || [ -n "${DEEPVOX_MODELS:-}" ]; then
  if mpi 2 "$exe" extract --set run_dir="$work/inception" --set extract.images="$work/fix/manifest.csv" \
       --set extract.batch_size=4 --set threads=1 --set progress=never > "$work/inception.log" 2>&1 \
     && "$py" -c "import h5py,sys; f=h5py.File(sys.argv[1]); l=list(f['features']); assert len(l)>=3, l; \
assert all(f['features'][k].shape[0]==len(f['stimulus_ids']) for k in l); print('inception layers', l)" "$work/inception/features.h5"; then
    pass "default Inception V3 at 2 ranks"; else fail "default Inception V3"; tail -20 "$work/inception.log"; fi
else
  echo "skip - models/ not fetched (tools/fetch_models.sh)"
fi
echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
