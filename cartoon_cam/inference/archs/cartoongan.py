"""CartoonGAN generator (Chen, Lai, Liu, CVPR 2018) in the layout of the published PyTorch port
(Yijunmaverick/CartoonGAN-Test-Pytorch-Torch ``*_net_G_float.pth``; same keys as the ``.npz``
files converted by mnicnc404/CartoonGan-tensorflow).

The network works in **BGR**: NCHW float32 BGR in [-1, 1] → BGR in [-1, 1]. H, W multiple of 4.
The RGB↔BGR swap belongs to the style's preprocessing contract (``color = "BGR"``).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..registry import register_arch


class InstanceNormalization(nn.Module):
    """Instance norm with learnable ``scale``/``shift``, biased variance, eps 1e-9."""

    def __init__(self, dim: int, eps: float = 1e-9) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(dim))
        self.shift = nn.Parameter(torch.zeros(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.instance_norm(x, eps=self.eps)
        return x * self.scale[None, :, None, None] + self.shift[None, :, None, None]


@register_arch(
    "cartoongan", size_multiple=4, color="BGR", description="CartoonGAN generator (11.1 M params, BGR)"
)
class CartoonGANGenerator(nn.Module):
    """CartoonGAN ResNet generator: 11.1 M parameters, 8 residual blocks at 1/4 resolution."""

    n_res = 8

    def __init__(self) -> None:
        super().__init__()
        self.refpad01_1 = nn.ReflectionPad2d(3)
        self.conv01_1 = nn.Conv2d(3, 64, 7)
        self.in01_1 = InstanceNormalization(64)
        self.conv02_1 = nn.Conv2d(64, 128, 3, 2, 1)
        self.conv02_2 = nn.Conv2d(128, 128, 3, 1, 1)
        self.in02_1 = InstanceNormalization(128)
        self.conv03_1 = nn.Conv2d(128, 256, 3, 2, 1)
        self.conv03_2 = nn.Conv2d(256, 256, 3, 1, 1)
        self.in03_1 = InstanceNormalization(256)
        for i in range(4, 4 + self.n_res):
            for j in (1, 2):
                setattr(self, f"refpad{i:02d}_{j}", nn.ReflectionPad2d(1))
                setattr(self, f"conv{i:02d}_{j}", nn.Conv2d(256, 256, 3))
                setattr(self, f"in{i:02d}_{j}", InstanceNormalization(256))
        self.deconv01_1 = nn.ConvTranspose2d(256, 128, 3, 2, 1, 1)
        self.deconv01_2 = nn.Conv2d(128, 128, 3, 1, 1)
        self.in12_1 = InstanceNormalization(128)
        self.deconv02_1 = nn.ConvTranspose2d(128, 64, 3, 2, 1, 1)
        self.deconv02_2 = nn.Conv2d(64, 64, 3, 1, 1)
        self.in13_1 = InstanceNormalization(64)
        self.refpad12_1 = nn.ReflectionPad2d(3)
        self.deconv03_1 = nn.Conv2d(64, 3, 7)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.in01_1(self.conv01_1(self.refpad01_1(x))))
        y = F.relu(self.in02_1(self.conv02_2(self.conv02_1(y))))
        t = F.relu(self.in03_1(self.conv03_2(self.conv03_1(y))))
        for i in range(4, 4 + self.n_res):
            r = getattr(self, f"conv{i:02d}_1")(getattr(self, f"refpad{i:02d}_1")(t))
            r = F.relu(getattr(self, f"in{i:02d}_1")(r))
            r = getattr(self, f"conv{i:02d}_2")(getattr(self, f"refpad{i:02d}_2")(r))
            t = getattr(self, f"in{i:02d}_2")(r) + t
        y = F.relu(self.in12_1(self.deconv01_2(self.deconv01_1(t))))
        y = F.relu(self.in13_1(self.deconv02_2(self.deconv02_1(y))))
        return torch.tanh(self.deconv03_1(self.refpad12_1(y)))
