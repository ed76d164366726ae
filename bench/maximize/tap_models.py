"""torchvision networks wrapped so forward(x) returns Dict[str, Tensor] of named taps (the TorchScript contract
of deepvox's `torchscript` network), scriptable and usable eagerly with the same weights.

torchvision ships no pretrained weights in Debian and none can be downloaded here, so the benchmark uses
seeded random weights: the cost of a forward/backward pass does not depend on the values.
"""
from typing import Dict

import torch
import torchvision
from torch import Tensor, nn


class InceptionTaps(nn.Module):
    """torchvision Inception V3 (299 px), taps after Conv2d_4a_3x3, Mixed_5d, Mixed_6e and Mixed_7c."""

    architecture: str

    def __init__(self):
        super().__init__()
        net = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=True)
        self.architecture = "inception_v3"
        for name in ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
                     "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
                     "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"]:
            setattr(self, name, getattr(net, name))

    def forward(self, x: Tensor) -> Dict[str, Tensor]:
        out: Dict[str, Tensor] = {}
        x = self.maxpool1(self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x))))
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        out["Conv2d_4a_3x3"] = x
        x = self.Mixed_5d(self.Mixed_5c(self.Mixed_5b(self.maxpool2(x))))
        out["Mixed_5d"] = x
        x = self.Mixed_6e(self.Mixed_6d(self.Mixed_6c(self.Mixed_6b(self.Mixed_6a(x)))))
        out["Mixed_6e"] = x
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))
        out["Mixed_7c"] = x
        return out


class AlexNetTaps(nn.Module):
    """torchvision AlexNet (224 px), taps after each ReLU of the convolutional stack."""

    architecture: str

    def __init__(self):
        super().__init__()
        self.architecture = "alexnet"
        self.features = torchvision.models.alexnet(weights=None).features

    def forward(self, x: Tensor) -> Dict[str, Tensor]:
        out: Dict[str, Tensor] = {}
        f = self.features
        x = f[2](f[1](f[0](x)))
        out["relu1"] = x
        x = f[5](f[4](f[3](x)))
        out["relu2"] = x
        x = f[7](f[6](x))
        out["relu3"] = x
        x = f[9](f[8](x))
        out["relu4"] = x
        x = f[11](f[10](x))
        out["relu5"] = x
        return out


ARCHITECTURES = {"inception_v3": InceptionTaps, "alexnet": AlexNetTaps}
INPUT_SIZE = {"inception_v3": 299, "alexnet": 224}


def eager_from_scripted(scripted):
    """The eager module of a TorchScript file written by export_tap_model.py, with its weights."""
    arch = scripted.architecture
    model = ARCHITECTURES[arch]()
    model.load_state_dict(scripted.state_dict())
    return model
