"""The strongest plain-Python extract a user would write: Debian's python3-torch + torchvision + h5py.

Batched DataLoader with a decoding worker (overlaps decoding with the forward pass), inference mode,
optional channels_last, forward hooks for the taps, the same adaptive pooling rule, h5py output.
usage: python_baseline.py MANIFEST MODEL LAYERS(comma) SIZE MAX_FEATURES BATCH THREADS OUT.h5 [channels_last]
"""
import csv
import os
import sys
import time

import h5py
import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms

manifest, model_name, layers, size, max_features, batch, threads, out = sys.argv[1:9]
layers, size, max_features, batch, threads = layers.split(","), int(size), int(max_features), int(batch), int(threads)
channels_last = len(sys.argv) > 9 and sys.argv[9] == "channels_last"
t0 = time.time()
torch.set_num_threads(threads)
root = os.path.dirname(os.path.abspath(manifest))
rows = list(csv.DictReader(open(manifest)))
tf = transforms.Compose([transforms.Resize(size), transforms.CenterCrop(size), transforms.ToTensor(),
                         transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])


class Images(torch.utils.data.Dataset):
    def __len__(self):
        return len(rows)

    def __getitem__(self, i):
        return tf(Image.open(os.path.join(root, rows[i]["path"])).convert("RGB"))


torch.manual_seed(0)
model = getattr(torchvision.models, model_name)(**({"aux_logits": False, "init_weights": False}
                                                   if model_name == "inception_v3" else {})).eval()
taps = {}
modules = dict(model.named_modules())
for name in layers:
    modules[name].register_forward_hook(lambda m, i, o, name=name: taps.__setitem__(name, o))
if channels_last:
    model = model.to(memory_format=torch.channels_last)


def plan(shape):
    if len(shape) == 1 or np.prod(shape) <= max_features:
        return None
    c, h, w = shape
    for hh in range(h, 0, -1):
        ww = min(w, max(1, int(round(hh * w / h))))
        if c * hh * ww <= max_features:
            return hh, ww
    return 1, 1


loader = torch.utils.data.DataLoader(Images(), batch_size=batch, num_workers=1, prefetch_factor=2)
with h5py.File(out, "w") as f, torch.inference_mode():
    row = 0
    for x in loader:
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        model(x)
        for name in layers:
            a = taps[name]
            p = plan(tuple(a.shape[1:]))
            if p is not None:
                a = torch.nn.functional.adaptive_avg_pool2d(a, p)
            a = a.flatten(1).numpy()
            if name not in f:
                f.create_dataset(name, (len(rows), a.shape[1]), dtype="f4")
            f[name][row:row + len(a)] = a
        row += len(x)
print(f"python {'channels_last' if channels_last else 'eager'}: {len(rows)} images in {time.time() - t0:.2f}s")
