"""AnimeGANv2 generator, state-dict compatible with the published PyTorch port
(bryandlee/animegan2-pytorch: ``face_paint_512_v1/v2.pt``, ``celeba_distill.pt``, ``paprika.pt``).

Input/output: NCHW float32 RGB in [-1, 1]; any H, W (the stride-2 convs pad right/bottom only, and
the decoder resizes back to the encoder sizes), recommended multiple of 4 for exact symmetry.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..registry import register_arch


class ConvNormLReLU(nn.Sequential):
    """pad → conv → GroupNorm(1, C) (layer norm) → LeakyReLU(0.2). Indices 0..3 match the port."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int | tuple[int, int, int, int] = 1,
        groups: int = 1,
        bias: bool = False,
    ) -> None:
        super().__init__(
            nn.ReflectionPad2d(padding),
            nn.Conv2d(in_ch, out_ch, kernel_size, stride=stride, padding=0, groups=groups, bias=bias),
            nn.GroupNorm(1, out_ch, affine=True),
            nn.LeakyReLU(0.2, inplace=True),
        )


class InvertedResBlock(nn.Module):
    """1x1 expand → 3x3 depthwise (bias) → 1x1 project → GroupNorm; residual when in == out."""

    def __init__(self, in_ch: int, out_ch: int, expansion_ratio: float = 2) -> None:
        super().__init__()
        self.use_res_connect = in_ch == out_ch
        bottleneck = int(round(in_ch * expansion_ratio))
        layers: list[nn.Module] = []
        if expansion_ratio != 1:
            layers.append(ConvNormLReLU(in_ch, bottleneck, kernel_size=1, padding=0))
        layers.append(ConvNormLReLU(bottleneck, bottleneck, groups=bottleneck, bias=True))
        layers.append(nn.Conv2d(bottleneck, out_ch, kernel_size=1, bias=False))
        layers.append(nn.GroupNorm(1, out_ch, affine=True))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(x)
        return x + out if self.use_res_connect else out


@register_arch("animeganv2", size_multiple=4, description="AnimeGANv2 generator (2.14 M params)")
class AnimeGANv2Generator(nn.Module):
    """AnimeGANv2 generator: 2.14 M parameters, ~53 GFLOP per 256x256 frame."""

    def __init__(self) -> None:
        super().__init__()
        self.block_a = nn.Sequential(
            ConvNormLReLU(3, 32, kernel_size=7, padding=3),
            ConvNormLReLU(32, 64, stride=2, padding=(0, 1, 0, 1)),
            ConvNormLReLU(64, 64),
        )
        self.block_b = nn.Sequential(
            ConvNormLReLU(64, 128, stride=2, padding=(0, 1, 0, 1)),
            ConvNormLReLU(128, 128),
        )
        self.block_c = nn.Sequential(
            ConvNormLReLU(128, 128),
            InvertedResBlock(128, 256, 2),
            InvertedResBlock(256, 256, 2),
            InvertedResBlock(256, 256, 2),
            InvertedResBlock(256, 256, 2),
            ConvNormLReLU(256, 128),
        )
        self.block_d = nn.Sequential(ConvNormLReLU(128, 128), ConvNormLReLU(128, 128))
        self.block_e = nn.Sequential(
            ConvNormLReLU(128, 64),
            ConvNormLReLU(64, 64),
            ConvNormLReLU(64, 32, kernel_size=7, padding=3),
        )
        self.out_layer = nn.Sequential(nn.Conv2d(32, 3, kernel_size=1, bias=False), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block_a(x)
        half_size = out.shape[-2:]
        out = self.block_c(self.block_b(out))
        out = F.interpolate(out, size=half_size, mode="bilinear", align_corners=True)
        out = self.block_d(out)
        out = F.interpolate(out, size=x.shape[-2:], mode="bilinear", align_corners=True)
        return self.out_layer(self.block_e(out))
