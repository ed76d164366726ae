#!/usr/bin/env python3
"""Exports a torchvision model as TorchScript for deepvox's `torchscript` (or built-in `alexnet`) network.

  # a model you have weights for, returning the layers you name (torchvision module paths):
  export_torchscript.py --model resnet50 --weights resnet50-0676ba61.pth --layers layer2,layer4,avgpool \
      --output models/resnet50.pt
  # torchvision's AlexNet itself, for `extract.network: alexnet` (weights are read by parameter name):
  export_torchscript.py --model alexnet --weights alexnet-owt-7be5be79.pth --plain --output models/alexnet/alexnet.pt
  # tests: seeded random weights instead of a state_dict
  export_torchscript.py --model alexnet --random-seed 0 --output /tmp/alexnet.pt

The wrapped module's forward(x) takes a float [N,3,H,W] batch, already normalized (torchvision: ImageNet
mean/std), and returns Dict[str, Tensor] with one entry per layer, in forward order; its layer_names() method
lists them. Layers are node names of torchvision's feature extraction (module paths such as features.5,
layer3, Mixed_6e, avgpool, fc). Nothing is downloaded: weights are a state_dict file you already have.
Run with Debian's /usr/bin/python3 (python3-torch, python3-torchvision).
"""
import argparse
import sys
from typing import Dict, List

import torch
import torchvision
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

MODELS = ("alexnet", "vgg16", "resnet50", "inception_v3")
# Layers returned when --layers is not given: each stage's output, then the fully connected layers.
DEFAULT_LAYERS = {
    "alexnet": ["features.1", "features.4", "features.7", "features.9", "features.11", "classifier.2",
                "classifier.5", "classifier.6"],
    "vgg16": ["features.3", "features.8", "features.15", "features.22", "features.29", "classifier.1",
              "classifier.4", "classifier.6"],
    "resnet50": ["relu", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"],
    "inception_v3": ["Conv2d_4a_3x3", "Mixed_5d", "Mixed_6e", "Mixed_7c", "avgpool", "fc"],
}


class LayerDict(torch.nn.Module):
    """Runs the feature extractor and keeps the layer order for layer_names()."""

    def __init__(self, extractor: torch.nn.Module, layers: List[str]):
        super().__init__()
        self.extractor = extractor
        self.layers = layers

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        out = self.extractor(x)
        return {name: out[name] for name in self.layers}

    @torch.jit.export
    def layer_names(self) -> List[str]:
        return self.layers


def build(name: str, weights: str, random_seed: int, num_classes: int) -> torch.nn.Module:
    kwargs = {"weights": None, "num_classes": num_classes}
    if name == "inception_v3":
        # torchvision's pretrained Inception V3 expects transform_input (it was trained on [-1,1] inputs).
        kwargs.update(aux_logits=True, init_weights=False, transform_input=weights is not None)
    torch.manual_seed(random_seed)
    model = getattr(torchvision.models, name)(**kwargs)
    if weights is not None:
        state = torch.load(weights, map_location="cpu")
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        model.load_state_dict(state)
    # In-place ReLUs would overwrite a tapped convolution's output.
    for module in model.modules():
        if isinstance(module, torch.nn.ReLU):
            module.inplace = False
    return model.eval()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, choices=MODELS)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--weights", help="torchvision state_dict (.pth) you have")
    src.add_argument("--random-seed", type=int, help="seeded random weights (tests)")
    p.add_argument("--layers", help="comma-separated layer names (default: each stage and the FC layers)")
    p.add_argument("--plain", action="store_true",
                   help="export the model itself (forward returns logits), for the built-in alexnet network")
    p.add_argument("--list-layers", action="store_true", help="print the valid layer names and exit")
    p.add_argument("--num-classes", type=int, default=1000, help="classifier outputs of the state_dict (1000)")
    p.add_argument("--output", help="output .pt file")
    a = p.parse_args(argv)

    model = build(a.model, a.weights, a.random_seed if a.random_seed is not None else 0, a.num_classes)
    if a.list_layers:
        print("\n".join(get_graph_node_names(model)[1]))
        return 0
    if not a.output:
        p.error("--output is required")
    if a.plain:
        scripted = torch.jit.script(model)
    else:
        layers = a.layers.split(",") if a.layers else DEFAULT_LAYERS[a.model]
        valid = get_graph_node_names(model)[1]
        # A module path (layer3, Mixed_6e) names the output of the module's last node.
        unknown = [l for l in layers if l not in valid and not any(v.startswith(l + ".") for v in valid)]
        if unknown:
            p.error(f"unknown layer(s) {unknown} for {a.model}; valid: {', '.join(valid)}")
        extractor = create_feature_extractor(model, return_nodes=layers)
        scripted = torch.jit.script(LayerDict(extractor.eval(), layers))
    scripted.eval()
    scripted.save(a.output)
    print(f"wrote {a.output} ({a.model}, {'plain' if a.plain else ','.join(layers)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
