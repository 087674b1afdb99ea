"""AnimeGANv2 discriminator (official ``net/discriminator.py``, ``ch=64, n_dis=3, sn=True``).

Every conv is 3x3, bias-free, N(0, 0.02)-initialised *before* spectral normalisation is attached,
with zero padding (the stride-2 convs pad top/left by 1 and bottom/right by 0, as TF's ops did).
Layer norm = per-sample normalisation over (C, H, W) with per-channel affine = ``GroupNorm(1, C)``.

Input: NCHW float32 RGB in [-1, 1], H and W multiples of 4. Output: patch logits N x 1 x H/4 x W/4.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch.nn.utils.parametrizations import spectral_norm


def _conv(in_ch: int, out_ch: int, stride: int, sn: bool) -> list[nn.Module]:
    conv = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=0, bias=False)
    nn.init.normal_(conv.weight, 0.0, 0.02)
    pad = nn.ZeroPad2d((1, 0, 1, 0) if stride == 2 else 1)
    return [pad, spectral_norm(conv) if sn else conv]


class Discriminator(nn.Module):
    """AnimeGANv2 patch discriminator; default widths 32→64→128→128→256→256→1 (1.13 M weights)."""

    def __init__(self, ch: int = 64, n_dis: int = 3, sn: bool = True) -> None:
        super().__init__()
        c = ch // 2
        cin = c
        layers: list[nn.Module] = [*_conv(3, c, 1, sn), nn.LeakyReLU(0.2)]
        for _ in range(1, n_dis):
            layers += [*_conv(cin, c * 2, 2, sn), nn.LeakyReLU(0.2)]
            layers += [*_conv(c * 2, c * 4, 1, sn), nn.GroupNorm(1, c * 4), nn.LeakyReLU(0.2)]
            cin, c = c * 4, c * 2
        layers += [*_conv(cin, c * 2, 1, sn), nn.GroupNorm(1, c * 2), nn.LeakyReLU(0.2)]
        layers += _conv(c * 2, 1, 1, sn)
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
