"""``lite``: a small real-time student for CPUs (our own design, trained by distillation).

Encoder to 1/8 resolution, inverted-residual body there, depthwise-separable decoder with skip
connections, a pixel-shuffle head at 1/2 resolution and a linear 1x1 path from the input that carries
full-resolution detail. No normalisation layers: every conv is followed by at most one activation,
so ONNX Runtime fuses them. ~1.2 GFLOP per 640x360 frame with the default widths.

Input/output: NCHW float32 RGB in [-1, 1]; H, W multiple of 8.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..registry import register_arch


def _act() -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=True)


class _IRBlock(nn.Module):
    """1x1 expand → act → 3x3 depthwise → act → 1x1 project, residual."""

    def __init__(self, ch: int, expansion: int = 2) -> None:
        super().__init__()
        hid = ch * expansion
        self.body = nn.Sequential(
            nn.Conv2d(ch, hid, 1), _act(),
            nn.Conv2d(hid, hid, 3, padding=1, groups=hid), _act(),
            nn.Conv2d(hid, ch, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class _Up(nn.Module):
    """×2 bilinear upsample → depthwise 3x3 → pointwise → act, plus a skip feature map."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.dw = nn.Conv2d(in_ch, in_ch, 3, padding=1, groups=in_ch)
        self.pw = nn.Conv2d(in_ch, out_ch, 1)
        self.act = _act()

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.act(self.pw(self.dw(x)) + skip)


@register_arch("lite", size_multiple=8, description="real-time CPU student (~1.2 GFLOP at 640x360)")
class LiteGenerator(nn.Module):
    """Real-time student generator (≈0.1 M params at the default widths)."""

    def __init__(self, widths: tuple[int, int, int] = (16, 32, 64), n_blocks: int = 4, refine: int = 0) -> None:
        super().__init__()
        c1, c2, c3 = widths
        self.stem = nn.Sequential(nn.Conv2d(3, c1, 3, 2, 1), _act())  # 1/2
        self.down1 = nn.Sequential(nn.Conv2d(c1, c2, 3, 2, 1), _act())  # 1/4
        self.down2 = nn.Sequential(nn.Conv2d(c2, c3, 3, 2, 1), _act())  # 1/8
        self.body = nn.Sequential(*[_IRBlock(c3) for _ in range(n_blocks)])
        self.up1 = _Up(c3, c2)  # 1/4
        self.up2 = _Up(c2, c1)  # 1/2
        # optional inverted-residual blocks at 1/2 resolution, where the lines are drawn
        self.refine = nn.Sequential(*[_IRBlock(c1) for _ in range(refine)])
        self.head = nn.Conv2d(c1, 12, 3, padding=1)  # 12 = 3 * 2 * 2 → pixel shuffle to full res
        self.skip = nn.Conv2d(3, 3, 1)  # linear full-resolution colour/detail path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s1 = self.stem(x)
        s2 = self.down1(s1)
        y = self.body(self.down2(s2))
        y = self.refine(self.up2(self.up1(y, s2), s1))
        y = F.pixel_shuffle(self.head(y), 2)
        return torch.tanh(y + self.skip(x))
