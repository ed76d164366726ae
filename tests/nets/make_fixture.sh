#!/usr/bin/env bash
# Builds one reference fixture of tests/nets into DIR (ctest runs each as a FIXTURES_SETUP test):
#   make_fixture.sh DIR inputs                 real photos -> inputs_299.f32, inputs_224.f32 (python)
#   make_fixture.sh DIR alexnet                torchvision AlexNet references (python)
#   make_fixture.sh DIR tfjs inception_v3|mobilenet_v2   TensorFlow.js references on the nsfwjs weights (node)
#   make_fixture.sh DIR keras_h5               the Inception V3 weights as a Keras .h5 file (python, h5py)
# A step is skipped when its outputs were made from the same scripts and weights (a stamp holds their hash).
# Without fetched models (tools/fetch_models.sh) the tfjs and keras_h5 steps write nothing and succeed:
# the C++ tests then skip with a message.
set -euo pipefail
dir=$1
step=$2
arg=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
models=${DEEPVOX_MODELS:-$repo/models}
python=${DEEPVOX_PYTHON:-/usr/bin/python3}
TFJS_VERSION=4.22.0
mkdir -p "$dir"

# stamp NAME FILES...: true (and skip) when NAME's outputs were made from these exact files.
fresh() {
  local name=$1
  shift
  local sum
  sum=$(cat "$@" | sha256sum | cut -c1-64)
  if [ -f "$dir/$name.stamp" ] && [ "$(cat "$dir/$name.stamp")" = "$sum" ]; then
    echo "[fixture] $name: up to date"
    return 0
  fi
  rm -f "$dir/$name.stamp"
  echo "$sum" >"$dir/$name.stamp.new"
  return 1
}
done_stamp() { mv "$dir/$1.stamp.new" "$dir/$1.stamp"; }

case "$step" in
  inputs)
    fresh inputs "$here/make_inputs.py" && exit 0
    "$python" "$here/make_inputs.py" "$dir" 299 224
    done_stamp inputs
    ;;
  alexnet)
    fresh alexnet "$here/alexnet_reference.py" "$repo/tools/export_torchscript.py" "$dir/inputs_224.f32" && exit 0
    "$python" "$here/alexnet_reference.py" "$dir"
    done_stamp alexnet
    ;;
  tfjs)
    net=$arg
    if [ ! -s "$models/$net/model.json" ]; then
      echo "[fixture] $models/$net/model.json missing (run tools/fetch_models.sh): no TF.js reference"
      exit 0
    fi
    size=299 count=2 layers="activation_3 mixed2 mixed5 mixed7 mixed10"
    if [ "$net" = mobilenet_v2 ]; then
      size=224 count=3
      layers="Conv1_relu block_2_add block_3_project_BN block_6_project_BN block_13_project_BN block_16_project_BN out_relu"
    fi
    fresh "tfjs_$net" "$here/tfjs_reference.js" "$models/$net/model.json" "$models/$net/weights.bin" \
      "$dir/inputs_$size.f32" && exit 0
    tfjs="$models/tfjs/node_modules/@tensorflow/tfjs"
    if [ ! -f "$tfjs/package.json" ] || ! grep -q "\"version\": \"$TFJS_VERSION\"" "$tfjs/package.json"; then
      # A cache outside git (models/ is ignored); shared by both TF.js fixtures, so install under a lock.
      mkdir -p "$models/tfjs"
      (
        flock 9
        [ -f "$tfjs/package.json" ] && grep -q "\"version\": \"$TFJS_VERSION\"" "$tfjs/package.json" ||
          npm install --prefix "$models/tfjs" --no-save --no-audit --no-fund --loglevel=error \
            "@tensorflow/tfjs@$TFJS_VERSION"
      ) 9>"$models/tfjs/.lock"
    fi
    node "$here/tfjs_reference.js" "$tfjs" "$models/$net" "$dir/inputs_$size.f32" $count $size "$dir/tfjs_${net}_" \
      $layers
    done_stamp "tfjs_$net"
    ;;
  keras_h5)
    if [ ! -s "$models/inception_v3/model.json" ]; then
      echo "[fixture] $models/inception_v3/model.json missing (run tools/fetch_models.sh): no Keras .h5 file"
      exit 0
    fi
    fresh keras_h5 "$here/write_keras_h5.py" "$models/inception_v3/model.json" "$models/inception_v3/weights.bin" &&
      exit 0
    "$python" "$here/write_keras_h5.py" "$models/inception_v3" "$dir/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
    done_stamp keras_h5
    ;;
  *)
    echo "make_fixture.sh: unknown step '$step'" >&2
    exit 2
    ;;
esac
