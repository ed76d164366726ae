#!/usr/bin/env bash
# Extract benchmark: deepvox vs the strongest plain-Python pipeline, side by side, same images, same model
# and weights (torchvision's, seeded; deepvox loads it as TorchScript), same taps, pooling and thread count.
# End to end: decode + resize + forward + pool + write, whole processes timed.
#   bench/extract/bench_extract.sh [MODEL=inception_v3|alexnet] [N_IMAGES=96]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
model=${1:-inception_v3}
n=${2:-96}
py=/usr/bin/python3
work=${BENCH_WORK:-/tmp/deepvox_bench_extract}
threads=${THREADS:-2}
batch=16
mkdir -p "$work"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
if [ "$model" = inception_v3 ]; then size=299 layers="Conv2d_4a_3x3,Mixed_5d,Mixed_6e,Mixed_7c"; else size=224 layers="features.2,features.5,features.12,classifier.2"; fi

# Real photographs (Debian's python3-skimage data and MATE wallpapers), seeded 500x375 JPEG crops.
"$py" - "$work/images" "$n" <<'PY'
import csv, glob, os, random, sys
from PIL import Image
out, n = sys.argv[1], int(sys.argv[2])
os.makedirs(out, exist_ok=True)
src = sorted(glob.glob("/usr/share/backgrounds/mate/nature/*.jpg")) + [
    f"/usr/lib/python3/dist-packages/skimage/data/{s}" for s in ("astronaut.png", "chelsea.png", "coffee.png")]
imgs = [Image.open(s).convert("RGB") for s in src]
imgs = [im.resize((1024, int(1024 * im.height / im.width))) if im.width > 1024 else im for im in imgs]
rng = random.Random(0)
with open(os.path.join(out, "manifest.csv"), "w", newline="") as f:
    w = csv.writer(f); w.writerow(["stimulus_id", "path"])
    for i in range(n):
        im = imgs[i % len(imgs)]
        cw, ch = min(im.width, 500), min(im.height, 375)
        x, y = rng.randrange(im.width - cw + 1), rng.randrange(im.height - ch + 1)
        im.crop((x, y, x + cw, y + ch)).save(os.path.join(out, f"{i:05d}.jpg"), quality=90)
        w.writerow([f"{i:05d}", f"{i:05d}.jpg"])
PY
"$py" "$repo/tools/export_torchscript.py" --model "$model" --random-seed 0 --layers "$layers" --output "$work/$model.pt" >/dev/null

timeit() { local s; s=$(date +%s.%N); "$@" > "$work/last.log" 2>&1 || { cat "$work/last.log"; exit 1; }; echo "$(date +%s.%N) - $s" | bc; }
dv() {
  local ranks=$1 t=$2
  rm -rf "$work/run"
  timeit mpirun -n "$ranks" --map-by "slot:PE=$t" "$repo/build/deepvox" extract --set run_dir="$work/run" \
    --set extract.images="$work/images/manifest.csv" --set extract.network=torchscript \
    --set extract.weights="$work/$model.pt" --set extract.input_size=$size --set extract.batch_size=$batch \
    --set "extract.layers=[${layers//,/, }]" --set threads="$t" --set progress=never
}
pyrun() { timeit "$py" "$repo/bench/extract/python_baseline.py" "$work/images/manifest.csv" "$model" "$layers" "$size" 10000 \
  "$batch" "$threads" "$work/py.h5" "$@"; }
dv 1 "$threads" >/dev/null  # warm the page cache and the model file
t_eager=$(pyrun eager)
t_cl=$(pyrun channels_last)
t_dv1=$(dv 1 "$threads")
t_dv2=$(dv 2 $((threads / 2 > 0 ? threads / 2 : 1)))
rate() { echo "scale=2; $n / $1" | bc; }
ratio() { echo "scale=2; $1 / $2" | bc; }
echo "extract benchmark: $model, $n images (500x375 JPEG), ${size}px, batch $batch, $threads threads, $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')"
printf '%-34s %8s s %8s img/s\n' "python eager (DataLoader)" "$t_eager" "$(rate "$t_eager")"
printf '%-34s %8s s %8s img/s\n' "python channels_last" "$t_cl" "$(rate "$t_cl")"
printf '%-34s %8s s %8s img/s\n' "deepvox 1 rank x $threads threads" "$t_dv1" "$(rate "$t_dv1")"
printf '%-34s %8s s %8s img/s\n' "deepvox 2 ranks" "$t_dv2" "$(rate "$t_dv2")"
best_dv=$(echo "if ($t_dv1 < $t_dv2) $t_dv1 else $t_dv2" | bc)
echo "ratio vs eager PyTorch:         $(ratio "$t_eager" "$best_dv")x (target >= 1.2)"
echo "ratio vs channels_last PyTorch: $(ratio "$t_cl" "$best_dv")x (aim >= 1.0)"
