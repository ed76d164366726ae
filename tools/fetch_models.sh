#!/usr/bin/env bash
# Fetches the pretrained weights deepvox uses by default into ${DEEPVOX_MODELS:-<repo>/models} (git-ignored).
#
#   tools/fetch_models.sh          idempotent: does nothing for models already there
#   tools/fetch_models.sh --force  fetch again
#
# 1. nsfwjs@4.4.0 from the npm registry (`npm pack`): its Keras Inception V3 and MobileNetV2 (TF.js
#    layers models, uint8-quantized). The tarball's sha512 must equal both the registry's integrity and the
#    value pinned below. tools/fetch_models.js turns the UMD .min.js files into model.json + weights.bin.
#    The stem through mixed5 (MobileNetV2: blocks 0-10) are the Keras ImageNet weights, frozen during that
#    package's fine-tuning; later blocks were fine-tuned for a 5-class image-content task.
# 2. AlexNet as TorchScript, only from weights the user already has (nothing is downloaded): a torchvision
#    state_dict named by $DEEPVOX_ALEXNET_WEIGHTS, or alexnet-owt-7be5be79.pth in the models folder or in
#    torch's hub cache. Skipped otherwise.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
models=${DEEPVOX_MODELS:-$here/models}
force=0
[ "${1:-}" = "--force" ] && force=1

NSFWJS_VERSION=4.4.0
NSFWJS_INTEGRITY="sha512-krC1fgeTLXtZwgdpKJ0jm7hqv0gTSRQQRL+FhOaxaJ9Wj92t42BO3csO2odwgTAgZgf2RvkwPtp0R8Aa7dc+MA=="
python=/usr/bin/python3
[ -x "$python" ] || python=python3

mkdir -p "$models"

have_model() { [ -s "$models/$1/model.json" ] && [ -s "$models/$1/weights.bin" ]; }

if [ $force -eq 1 ] || ! have_model inception_v3 || ! have_model mobilenet_v2; then
  if ! command -v npm >/dev/null 2>&1; then
    # Node and npm may come from nodesource, where Debian's npm conflicts: install only when missing.
    echo "[fetch_models] installing nodejs and npm (Debian)"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
  fi
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "[fetch_models] npm pack nsfwjs@$NSFWJS_VERSION"
  registry_integrity=$(npm view "nsfwjs@$NSFWJS_VERSION" dist.integrity 2>/dev/null)
  (cd "$tmp" && npm pack --silent "nsfwjs@$NSFWJS_VERSION" >/dev/null 2>&1)
  tarball="$tmp/nsfwjs-$NSFWJS_VERSION.tgz"
  [ -s "$tarball" ] || { echo "[fetch_models] error: npm pack nsfwjs@$NSFWJS_VERSION produced no tarball" >&2; exit 1; }
  actual=$(node -e 'const c=require("crypto"),fs=require("fs");
    process.stdout.write("sha512-"+c.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"))' "$tarball")
  if [ "$actual" != "$registry_integrity" ]; then
    echo "[fetch_models] error: $tarball has integrity $actual, the registry says '$registry_integrity'" >&2
    exit 1
  fi
  if [ "$actual" != "$NSFWJS_INTEGRITY" ]; then
    echo "[fetch_models] error: $tarball has integrity $actual, pinned value is $NSFWJS_INTEGRITY" >&2
    exit 1
  fi
  echo "[fetch_models] integrity ok ($actual)"
  tar -xzf "$tarball" -C "$tmp" package/dist/models package/LICENSE 2>/dev/null ||
    tar -xzf "$tarball" -C "$tmp" package/dist/models
  for net in inception_v3 mobilenet_v2; do
    node "$here/tools/fetch_models.js" "$tmp/package/dist/models/$net" "$models/$net"
    [ -f "$tmp/package/LICENSE" ] && cp "$tmp/package/LICENSE" "$models/$net/LICENSE.nsfwjs"
    printf 'nsfwjs@%s %s\n' "$NSFWJS_VERSION" "$NSFWJS_INTEGRITY" >"$models/$net/SOURCE"
  done
else
  echo "[fetch_models] nsfwjs models already in $models (--force to fetch again)"
fi

# AlexNet: only from a state_dict the user has; never downloaded.
alexnet_pt="$models/alexnet/alexnet.pt"
if [ $force -eq 1 ] || [ ! -s "$alexnet_pt" ]; then
  state=""
  for cand in "${DEEPVOX_ALEXNET_WEIGHTS:-}" "$models/alexnet/alexnet-owt-7be5be79.pth" \
    "${TORCH_HOME:-$HOME/.cache/torch}/hub/checkpoints/alexnet-owt-7be5be79.pth"; do
    if [ -n "$cand" ] && [ -s "$cand" ]; then state=$cand; break; fi
  done
  if [ -n "$state" ]; then
    mkdir -p "$models/alexnet"
    "$python" "$here/tools/export_torchscript.py" --model alexnet --weights "$state" --plain --output "$alexnet_pt"
  else
    echo "[fetch_models] no AlexNet weights given (set DEEPVOX_ALEXNET_WEIGHTS to a torchvision state_dict): skipped"
  fi
fi
