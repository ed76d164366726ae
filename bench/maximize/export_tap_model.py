#!/usr/bin/python3
"""Writes a TorchScript tap model (tap_models.py) with seeded random weights for the maximize benchmark.

  /usr/bin/python3 bench/maximize/export_tap_model.py --model inception_v3 --output runs/bench/inception.pt
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap_models  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=sorted(tap_models.ARCHITECTURES), default="inception_v3")
    ap.add_argument("--output", required=True)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    model = tap_models.ARCHITECTURES[a.model]().eval()
    scripted = torch.jit.script(model)
    scripted.save(a.output)
    print(f"wrote {a.output} ({a.model}, {sum(p.numel() for p in model.parameters())} parameters)")


if __name__ == "__main__":
    main()
