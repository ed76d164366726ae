#!/usr/bin/env python3
"""torchvision references for the AlexNet and TorchScript tests of tests/nets.

  alexnet_reference.py OUT_DIR   (after make_inputs.py OUT_DIR 224)

Writes, from torchvision's AlexNet with seeded random weights (torch.manual_seed(0)):
  alexnet.pt            plain TorchScript of the model (the built-in `alexnet` network loads it by name)
  alexnet_dict.pt       wrapped by tools/export_torchscript.py: forward returns {features.0, features.5, classifier.4}
  alexnet_wrong.pt      a TorchScript module whose features.0 has 32 filters, not 64 (a wrong weights file)
  probe_dict.pt         a small TorchScript module returning a dict, without a layer_names() method
  alexnet_<layer>.f32 + alexnet.json   activations at every tap on inputs_224.f32 (float32; NCHW or [N,D])
  alexnet_grad_features.5.f32   d sum(features.5) / d input for the first input image ([1,3,224,224])
"""
import json
import os
import sys
from typing import Dict

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import export_torchscript  # noqa: E402

TAPS = [f"features.{i}" for i in range(13)] + ["avgpool"] + [f"classifier.{i}" for i in (1, 2, 4, 5, 6)]


class WrongAlexNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(torch.nn.Conv2d(3, 32, 11, stride=4, padding=2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


class Probe(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        c = self.conv(x)
        return {"conv": c, "pool": torch.nn.functional.adaptive_avg_pool2d(c, 1)}


def main():
    out = sys.argv[1]
    torch.set_num_threads(1)
    for args in (["--plain", "--output", f"{out}/alexnet.pt"],
                 ["--layers", "features.0,features.5,classifier.4", "--output", f"{out}/alexnet_dict.pt"]):
        export_torchscript.main(["--model", "alexnet", "--random-seed", "0"] + args)
    torch.manual_seed(1)
    torch.jit.script(Probe().eval()).save(f"{out}/probe_dict.pt")
    torch.jit.script(WrongAlexNet().eval()).save(f"{out}/alexnet_wrong.pt")

    # The reference: torchvision's own modules, run one by one (seed 0, as exported above).
    model = export_torchscript.build("alexnet", None, 0, 1000)
    x = np.fromfile(f"{out}/inputs_224.f32", dtype="<f4").reshape(-1, 224, 224, 3)
    x = x0 = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    acts = {}
    with torch.no_grad():
        for i, layer in enumerate(model.features):
            x = layer(x)
            acts[f"features.{i}"] = x.clone()
        x = model.avgpool(x)
        acts["avgpool"] = x.clone()
        x = torch.flatten(x, 1)
        for i, layer in enumerate(model.classifier):
            x = layer(x)
            acts[f"classifier.{i}"] = x.clone()
    # The input gradient of sum(features.5) for the first image (maximize and explain backpropagate).
    first = x0[:1].clone().requires_grad_(True)
    y = first
    for layer in model.features[:6]:
        y = layer(y)
    y.sum().backward()
    first.grad.numpy().astype("<f4").tofile(f"{out}/alexnet_grad_features.5.f32")
    shapes = {}
    for name in TAPS:
        acts[name].numpy().astype("<f4").tofile(f"{out}/alexnet_{name}.f32")
        shapes[name] = list(acts[name].shape)
    with open(f"{out}/alexnet.json", "w") as f:
        json.dump(shapes, f)
    print(f"alexnet references: {len(shapes)} taps")


if __name__ == "__main__":
    main()
