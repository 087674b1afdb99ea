"""``lite``: a small real-time student for CPUs (our own design, trained by distillation).

Encoder to 1/8 resolution, inverted-residual body there, depthwise-separable decoder with skip
connections, a pixel-shuffle head at 1/2 resolution and a linear 1x1 path from the input that carries
full-resolution detail. Every conv is followed by at most one activation (ONNX Runtime fuses them);
the only normalisation is instance norm in the 1/8-resolution body. ~1.2 GFLOP per 640x360 frame
with the default widths (0.12 M parameters).

``context`` (default on) adds what a fully convolutional student otherwise cannot see: image-wide
statistics. Teachers such as CartoonGAN normalise every layer per image (instance norm), so their
colours depend on the whole picture; a per-image affine colour map alone brings the input to
23 dB of the CartoonGAN Hayao teacher, the local-only student reached 19.6 dB. The mean and standard
deviation of the 1/8-resolution features and of the input feed a small MLP that modulates the body
and the 1/2-resolution features (FiLM) and adds a per-image 3x3 colour matrix + offset to the
full-resolution skip path. ``ink = K`` (default 0) adds a full-resolution branch for drawn lines
that sees K upsampled feature maps, the input pixels and the input's black-hat (:func:`blackhat`),
so outlines can sit exactly on the photo's edges; ``ink_dog = σ`` adds the difference of Gaussians
of the input's luma (:func:`dog`), so it also sees edges that have no dark line in the photo. ``smooth_skip`` blurs the input of the linear
full-resolution path (3x3 binomial), so sensor noise is not copied to the output (the built-in
styles use it). ``norm = "body"`` (the default; ``"all"``: every stage but the head; ``"none"``: no
normalisation) is instance norm in the 1/8-resolution body, the teachers' own mechanism. ``toon_levels = n``
(default 0) ends the network with cel shading (:func:`toon_shade`): the smooth part of the output's
luma is mapped onto n flat plates with steep steps, decided on a blurred luma so sensor noise does
not move them; lines, texture and colour pass through. It has no weights: a student fine-tuned
through it learns colours and lines that suit the plates. ``toon_half`` decides the plates at half
resolution (the same plates, faster) and ``toon_soft`` makes the steps' slope follow the luma's
gradient (Winnemöller's adaptive sharpness: slow gradients keep a soft ramp instead of blotches).
Students with context or norm must be trained on whole images (``data.size = 0`` in
``distill``): statistics of a crop are not those of the frame.

Input/output: NCHW float32 RGB in [-1, 1]; H, W multiple of 8.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..registry import register_arch

# The 7x7 ellipse of cv2.getStructuringElement(MORPH_ELLIPSE, (7, 7)) is the union of these
# rectangles (height, width): a 7x1 column, a 5x5 square and a 3x7 band.
_ELLIPSE7_RECTS = ((7, 1), (5, 5), (3, 7))
_GRAY = (0.299, 0.587, 0.114)  # cv2.COLOR_RGB2GRAY weights (R, G, B)


def _grow(y: torch.Tensor, dim: int) -> torch.Tensor:
    """Running max over a window 2 wider along ``dim`` (-1 or -2); beyond the border counts as -inf."""
    n = y.shape[dim]
    pad = (1, 1, 0, 0) if dim == -1 else (0, 0, 1, 1)
    p = F.pad(y, pad, value=float("-inf"))
    return torch.maximum(torch.maximum(p.narrow(dim, 0, n), p.narrow(dim, 1, n)), p.narrow(dim, 2, n))


def _dilate7(y: torch.Tensor) -> torch.Tensor:
    """Grey dilation with the 7x7 ellipse, as the max of the dilations by its rectangles (7x1, 5x5,
    3x7; :data:`_ELLIPSE7_RECTS`), each separable into running maxes (much faster than max pooling
    a one-channel image on a CPU; exact, so gradients are those of a max)."""
    v3 = _grow(y, -2)  # rows i-1..i+1
    v5 = _grow(v3, -2)
    v7 = _grow(v5, -2)
    sq5 = _grow(_grow(v5, -1), -1)  # 5x5
    band = _grow(_grow(_grow(v3, -1), -1), -1)  # 3x7
    return torch.maximum(torch.maximum(v7, sq5), band)


def blackhat(x: torch.Tensor) -> torch.Tensor:
    """Black-hat (closing − image) of the luma of NCHW RGB in [-1, 1], 7x7 ellipse → N x 1 x H x W in
    levels 0..255. Matches ``cv2.morphologyEx(L, MORPH_BLACKHAT, ellipse 7x7)`` (beyond the border
    nothing counts, as with OpenCV's default border); dark thin lines give large values. Pads and
    element-wise maxima only: differentiable, and exports to ONNX (``Pad``, ``Max``)."""
    y = (x[:, 0:1] * _GRAY[0] + x[:, 1:2] * _GRAY[1] + x[:, 2:3] * _GRAY[2] + 1.0) * 127.5
    return -_dilate7(-_dilate7(y)) - y


def _blur_size(value: bool | int, name: str) -> int:
    """``False``/0 → 0 (off), ``True`` → 3, 3, 5, 7 or 9 → itself: the side of a binomial blur kernel."""
    k = 3 if value is True else int(value)
    if k not in (0, 3, 5, 7, 9):
        raise ValueError(f"lite: {name} must be false, true, 3, 5, 7 or 9, not {value!r}")
    return k


def _binomial_row(k: int) -> torch.Tensor:
    """The k-tap binomial low-pass (row k-1 of Pascal's triangle, sum 1), float32."""
    row = torch.tensor([float(math.comb(k - 1, j)) for j in range(k)])
    return row / row.sum()


def _binomial(k: int) -> torch.Tensor:
    """3 x 1 x 1 x k depthwise kernel: one pass of the separable k x k binomial low-pass
    (:func:`_lowpass` runs it along rows, then along columns)."""
    return _binomial_row(k).reshape(1, 1, 1, k).expand(3, 1, 1, k).clone()


def _lowpass(x: torch.Tensor, kernel: torch.Tensor, k: int) -> torch.Tensor:
    """k x k binomial blur of NCHW RGB ``x``, edges replicated (same size), as a row pass and a
    column pass of the 1 x k ``kernel``: exactly the 2-D kernel (the binomial and replicate padding
    are both separable), in 2k instead of k² multiply-adds a pixel (faster in OpenVINO and ONNX
    Runtime at 640x360, docs/PERFORMANCE.md)."""
    p = k // 2
    x = F.conv2d(F.pad(x, (p, p, 0, 0), mode="replicate"), kernel, groups=3)
    return F.conv2d(F.pad(x, (0, 0, p, p), mode="replicate"), kernel.transpose(-1, -2), groups=3)


def _gaussian(sigma: float) -> torch.Tensor:
    """1 x 1 x 1 x k kernel of the sampled, normalised Gaussian of standard deviation ``sigma``
    (k = 2·ceil(3σ) + 1), float32: one pass of a separable blur."""
    r = max(1, math.ceil(3.0 * sigma))
    g = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=torch.float32) / sigma) ** 2)
    return (g / g.sum()).reshape(1, 1, 1, 2 * r + 1)


def _smooth_luma(lum: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Separable blur of N x 1 x H x W ``lum`` by the 1 x 1 x 1 x k ``kernel``, edges replicated."""
    p = kernel.shape[-1] // 2
    s = F.conv2d(F.pad(lum, (p, p, 0, 0), mode="replicate"), kernel)
    return F.conv2d(F.pad(s, (0, 0, p, p), mode="replicate"), kernel.transpose(-1, -2))


def _gradient(s: torch.Tensor) -> torch.Tensor:
    """Magnitude of the central-difference gradient of N x 1 x H x W ``s`` (edges replicated), per
    pixel of ``s``: one 3x3 convolution to (∂x, ∂y), then the root of their sum of squares."""
    dx = [[0.0, 0.0, 0.0], [-0.5, 0.0, 0.5], [0.0, 0.0, 0.0]]
    k = torch.tensor([[dx], [[list(r) for r in zip(*dx, strict=True)]]], dtype=s.dtype, device=s.device)
    g = F.conv2d(F.pad(s, (1, 1, 1, 1), mode="replicate"), k)
    return torch.sqrt((g * g).sum(dim=1, keepdim=True) + 1e-12)


def _upsample2(d: torch.Tensor) -> torch.Tensor:
    """×2 bilinear upsampling of N x 1 x h x w ``d`` (half-pixel centres, edges clamped: exactly
    ``F.interpolate(d, scale_factor=2, mode="bilinear", align_corners=False)``) as a 3x3
    convolution to the four output phases and a pixel shuffle. One channel at full resolution is a
    slow case of ``Resize`` in OpenVINO (2.7 ms at 640x360 on a 2-core AVX2 box); this is not."""
    t = ((0.25, 0.75, 0.0), (0.0, 0.75, 0.25))  # row (or column) taps of the even and odd phases
    k = torch.tensor([[[[t[a][i] * t[b][j] for j in range(3)] for i in range(3)]] for a in (0, 1) for b in (0, 1)],
                     dtype=d.dtype, device=d.device)
    return F.pixel_shuffle(F.conv2d(F.pad(d, (1, 1, 1, 1), mode="replicate"), k), 2)


def toon_shade(y: torch.Tensor, kernel: torch.Tensor, levels: int, sharpness: float, *, half: bool = False,
               soft: float | None = None, gradient: float = 0.01) -> torch.Tensor:
    """Cel shading: the soft luminance quantisation of Winnemöller, Olsen and Gooch ("Real-time
    video abstraction", SIGGRAPH 2006), on the smooth part of the luma only.

    ``y``: N x 3 x H x W RGB in [-1, 1]; ``kernel``: a 1 x 1 x 1 x k Gaussian (:func:`_gaussian`);
    returns the same shape and range. The luma (``cv2.COLOR_RGB2GRAY`` weights) is blurred with
    ``kernel`` (edges replicated) into its smooth part ``s`` in [0, 1]; ``s`` is mapped onto a
    staircase of ``levels`` flat plates whose steps are tanh ramps of slope ``sharpness``·Δ/2 (Δ =
    1/levels), continuous everywhere; the difference (staircase(s) − s) is added to all three
    channels. So shading becomes flat plates with crisp borders, while lines, texture and colour
    (``y`` minus its smooth luma) pass unchanged, and the plates' borders, decided on a blurred
    luma, do not follow sensor noise. Differentiable (``Floor`` has zero gradient) and exports to
    ONNX (``MatMul``, ``Pad``, ``Conv``, ``Floor``, ``Tanh``; with ``half`` also ``AveragePool``
    and ``DepthToSpace``).

    ``half``: the plates are decided at half resolution. The luma's 2x2 mean is blurred by
    ``kernel`` (which should then be the Gaussian of half the σ), the staircase offset is computed
    there and brought back to H x W bilinearly (H, W even): the same plates within a few levels at
    their borders, in a quarter of the work (a one-channel convolution and a per-pixel tail at full
    resolution are slow in ONNX Runtime and OpenVINO). ``soft``: Winnemöller's gradient-adaptive
    sharpness. The slope runs from ``soft`` where ``s`` is flat to ``sharpness`` where its gradient
    reaches ``gradient`` (luma per full-resolution pixel), so a slow gradient, such as a lit table
    top, keeps a soft ramp instead of breaking into blotches where it hovers at a plate border, and
    shading on faces and walls still gets crisp borders. ``None``: the same slope everywhere."""
    n, _, h, w = y.shape
    # the luma as one MatMul: channel slices compile to a slow reference split in OpenVINO
    gray = torch.tensor(_GRAY, dtype=y.dtype, device=y.device).reshape(1, 3)
    lum = (torch.matmul(gray, y.reshape(n, 3, h * w)).reshape(n, 1, h, w) + 1.0) * 0.5
    s = _smooth_luma(F.avg_pool2d(lum, 2) if half else lum, kernel)
    step = 1.0 / levels
    centre = (torch.floor(s * levels) + 0.5) * step
    # ramp: the tanh's half-height, so the staircase stays continuous at the plate borders
    if soft is None:
        sh: torch.Tensor | float = sharpness
        ramp: torch.Tensor | float = 0.5 * step / math.tanh(0.5 * sharpness * step)
    else:
        g = _gradient(s) * (0.5 if half else 1.0)
        sh = soft + (sharpness - soft) * torch.clamp(g * (1.0 / gradient), 0.0, 1.0)
        ramp = 0.5 * step / torch.tanh(sh * (0.5 * step))
    d = centre + ramp * torch.tanh(sh * (s - centre)) - s
    if half:
        d = _upsample2(d)
    return torch.clamp(y + 2.0 * d, -1.0, 1.0)


def _dog_kernel(sigma: float, gain: float = 4.0) -> torch.Tensor:
    """1 x 3 x k x k kernel (k = 2·ceil(4.8σ) + 1, float32): ``gain`` times the luma
    (``cv2.COLOR_RGB2GRAY`` weights) of the difference of the normalised 2-D Gaussians of σ and
    1.6σ (:func:`dog`), both sampled over the same k x k support, as ``cv2.GaussianBlur`` with one
    ksize does (:func:`_gaussian` would cut the narrower one at 3σ: a different filter)."""
    r = max(1, math.ceil(3.0 * 1.6 * sigma))
    t = torch.arange(-r, r + 1, dtype=torch.float64)

    def g2(s: float) -> torch.Tensor:
        g = torch.exp(-0.5 * (t / s) ** 2)
        g = g / g.sum()
        return g[:, None] * g[None, :]

    d = (g2(sigma) - g2(1.6 * sigma)) * gain
    return torch.stack([d * w for w in _GRAY]).unsqueeze(0).float()


def dog(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Difference of Gaussians of the luma of N x 3 x H x W RGB ``x`` (any scale; [-1, 1] here) by
    the :func:`_dog_kernel` ``kernel``, edges replicated → N x 1 x H x W, in ``x``'s scale times the
    kernel's gain. Zero on flat regions and ramps, positive on the bright side of an edge and
    negative on its dark side (Winnemöller's DoG edges). One ``Conv`` in ONNX."""
    p = kernel.shape[-1] // 2
    return F.conv2d(F.pad(x, (p, p, p, p), mode="replicate"), kernel)


def _act() -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=True)


class _IRBlock(nn.Module):
    """1x1 expand [→ instance norm] → act → 3x3 depthwise → act → 1x1 project, residual."""

    def __init__(self, ch: int, expansion: int = 2, norm: bool = False) -> None:
        super().__init__()
        hid = ch * expansion
        self.body = nn.Sequential(
            nn.Conv2d(ch, hid, 1), *([nn.InstanceNorm2d(hid, affine=True)] if norm else []), _act(),
            nn.Conv2d(hid, hid, 3, padding=1, groups=hid), _act(),
            nn.Conv2d(hid, ch, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)

    def reset_identity(self) -> None:
        """Zero the projection: the block becomes the identity (a grown student starts as its parent)."""
        nn.init.zeros_(self.body[-1].weight)
        nn.init.zeros_(self.body[-1].bias)


class _Up(nn.Module):
    """×2 bilinear upsample → depthwise 3x3 → pointwise (+ skip feature map) [→ instance norm] → act."""

    def __init__(self, in_ch: int, out_ch: int, norm: bool = False) -> None:
        super().__init__()
        self.dw = nn.Conv2d(in_ch, in_ch, 3, padding=1, groups=in_ch)
        self.pw = nn.Conv2d(in_ch, out_ch, 1)
        self.norm = nn.InstanceNorm2d(out_ch, affine=True) if norm else nn.Identity()
        self.act = _act()

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.act(self.norm(self.pw(self.dw(x)) + skip))


def _down(cin: int, cout: int, norm: bool) -> nn.Sequential:
    """3x3 stride-2 conv [→ instance norm] → act."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 2, 1), *([nn.InstanceNorm2d(cout, affine=True)] if norm else []), _act())


class _Context(nn.Module):
    """Image-wide statistics → per-image modulation parameters.

    ``f``: N x C x h x w features, ``x``: N x 3 x H x W input → N x out (float32). The last layer
    starts at zero, so an untrained context is the identity modulation.
    """

    def __init__(self, ch: int, out: int, hidden: int = 64) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2 * ch + 6, hidden), _act(), nn.Linear(hidden, out))
        nn.init.zeros_(self.mlp[2].weight)
        nn.init.zeros_(self.mlp[2].bias)

    @staticmethod
    def _stats(z: torch.Tensor) -> torch.Tensor:
        mean = z.mean(dim=(2, 3))
        var = (z * z).mean(dim=(2, 3)) - mean * mean
        return torch.cat([mean, torch.sqrt(var.clamp(min=0.0) + 1e-5)], dim=1)

    def forward(self, f: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(torch.cat([self._stats(f), self._stats(x)], dim=1))


def _film(z: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """``z * (1 + γ) + β`` with ``p`` = N x 2C = [γ, β]."""
    g, b = p.unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
    return z * (1.0 + g) + b


@register_arch("lite", size_multiple=8, description="real-time CPU student (~1.2 GFLOP at 640x360)")
class LiteGenerator(nn.Module):
    """Real-time student generator (≈0.1 M params at the default widths)."""

    def __init__(self, widths: tuple[int, int, int] = (16, 32, 64), n_blocks: int = 4, refine: int = 0,
                 context: bool = True, norm: str = "body", ink: int = 0, smooth_skip: bool | int = False,
                 smooth_input: int = 0, toon_levels: int = 0, toon_sharpness: float = 40.0,
                 toon_sigma: float = 3.0, toon_half: bool = False, toon_soft: float | None = None,
                 toon_gradient: float = 0.01, ink_dog: float = 0.0) -> None:
        super().__init__()
        if norm not in ("none", "body", "all"):
            raise ValueError(f"lite: norm must be none | body | all, not {norm!r}")
        c1, c2, c3 = widths
        self.c1, self.c3 = c1, c3
        # norm: instance norm (image-wide statistics, as the CartoonGAN teachers use) in the body
        # at 1/8 resolution ("body") or after every conv stage but the head ("all")
        n_all, n_body = norm == "all", norm != "none"
        self.stem = _down(3, c1, n_all)  # 1/2
        self.down1 = _down(c1, c2, n_all)  # 1/4
        self.down2 = _down(c2, c3, n_all)  # 1/8
        self.body = nn.Sequential(*[_IRBlock(c3, norm=n_body) for _ in range(n_blocks)])
        self.up1 = _Up(c3, c2, n_all)  # 1/4
        self.up2 = _Up(c2, c1, n_all)  # 1/2
        # optional inverted-residual blocks at 1/2 resolution, where the lines are drawn
        self.refine = nn.Sequential(*[_IRBlock(c1) for _ in range(refine)])
        self.head = nn.Conv2d(c1, 12, 3, padding=1)  # 12 = 3 * 2 * 2 → pixel shuffle to full res
        # ink = K: a full-resolution branch for drawn lines. K feature maps (1x1 conv at 1/2 res →
        # pixel shuffle) meet the input pixels and the input's own black-hat (thin dark structures:
        # where outlines can go) in a 3x3 conv → act → 1x1 to an RGB residual. The last conv starts
        # at zero, so a colour student fine-tuned with it starts from its own output.
        # ink_dog = σ (with ink): the branch also sees the difference of Gaussians (σ, 1.6σ) of the
        # input's luma, the edge detector of Winnemöller's real-time abstraction: negative on the
        # dark side of every edge, where a drawn outline goes even when the photo has no dark line
        # there (the rim of a white plate on a white cloth).
        if ink_dog < 0 or (ink_dog and not ink):
            raise ValueError("lite: ink_dog must be 0 (off) or > 0, and needs ink > 0")
        self.ink_dog = float(ink_dog)
        if self.ink_dog:
            self.register_buffer("dog_kernel", _dog_kernel(self.ink_dog), persistent=False)
        self.ink_head = nn.Conv2d(c1, 4 * ink, 1) if ink else None
        self.ink_body = (nn.Sequential(nn.Conv2d(ink + 4 + (1 if self.ink_dog else 0), ink, 3, padding=1), _act())
                         if ink else None)
        self.ink_out = nn.Conv2d(ink, 3, 1) if ink else None
        if self.ink_out is not None:
            nn.init.zeros_(self.ink_out.weight)
            nn.init.zeros_(self.ink_out.bias)
        self.skip = nn.Conv2d(3, 3, 1)  # linear full-resolution colour/detail path
        # smooth_skip: that path (and the per-image colour matrix) sees the input through a fixed
        # 3x3 binomial blur, which passes 37.5 % of independent pixel noise instead of all of it:
        # camera noise no longer goes straight to the output (steadier on a still scene).
        # smooth_skip = 5: a 5x5 binomial instead (27 % of the noise; 7: 23 %, 9: 20 %, each run as
        # a row and a column pass); smooth_input = 3 or 5: the
        # network itself (stem and context) sees the input through such a blur too. Both are fixed
        # low-pass filters, which also make the output move less when the camera moves by a pixel.
        self.skip_k = _blur_size(smooth_skip, "smooth_skip")
        self.input_k = _blur_size(smooth_input, "smooth_input")
        self.smooth_skip = bool(self.skip_k)
        if self.skip_k:
            self.register_buffer("blur", _binomial(self.skip_k), persistent=False)
        if self.input_k:
            self.register_buffer("blur_in", _binomial(self.input_k), persistent=False)
        # toon_levels = n: cel shading of the output (:func:`toon_shade`), a fixed layer after the
        # network: n flat luminance plates with tanh steps of slope toon_sharpness, decided on the
        # luma blurred by a Gaussian of σ toon_sigma (pixels). The network is trained through it.
        # toon_half: that blur at half resolution (faster, same plates); toon_soft: the slope where
        # the smooth luma is flat, rising to toon_sharpness at a gradient of toon_gradient a pixel
        if toon_levels < 0 or toon_levels == 1 or toon_sharpness <= 0 or toon_sigma <= 0:
            raise ValueError("lite: toon_levels must be 0 (off) or ≥ 2, toon_sharpness and toon_sigma > 0")
        if toon_soft is not None and not (0 < toon_soft <= toon_sharpness and toon_gradient > 0):
            raise ValueError("lite: toon_soft must be in (0, toon_sharpness] and toon_gradient > 0")
        self.toon_levels, self.toon_sharpness = int(toon_levels), float(toon_sharpness)
        self.toon_half = bool(toon_half)
        self.toon_soft = None if toon_soft is None else float(toon_soft)
        self.toon_gradient = float(toon_gradient)
        if self.toon_levels:
            sigma = float(toon_sigma) / (2.0 if self.toon_half else 1.0)
            self.register_buffer("toon_kernel", _gaussian(sigma), persistent=False)
        # per image: FiLM of the body (2 c3) and of the 1/2-res features (2 c1), colour matrix (9 + 3)
        self.context = _Context(c3, 2 * c3 + 2 * c1 + 12) if context else None

    def widen_state_dict(self, sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A narrower ``lite``'s weights ``sd`` laid out for this (wider) student, so that it computes
        exactly what the narrower one did (Net2Net-style growth: a grown student starts as its parent).

        Every channel the parent has keeps its index (the context's parameter vector is re-laid out
        to this student's ``[γ, β]`` halves); the new channels keep this student's fresh initialisation
        for what flows *into* them, and every weight from a new channel into an old one is zero, so
        they add nothing until training moves those weights. Tensors whose shapes already match are
        returned as they are; keys this student lacks are passed through (the caller's non-strict load
        reports them). Raises ``ValueError`` if ``sd`` is wider than this student anywhere.
        """
        stages = ("stem.0.weight", "down1.0.weight", "down2.0.weight")
        if not all(k in sd for k in stages):
            return dict(sd)
        o1, o2, o3 = (int(sd[k].shape[0]) for k in stages)
        n1, n2, n3 = self.c1, int(self.down1[0].weight.shape[0]), self.c3
        if (o1, o2, o3) == (n1, n2, n3):
            return dict(sd)
        if o1 > n1 or o2 > n2 or o3 > n3:
            raise ValueError(f"lite: cannot widen widths {(o1, o2, o3)} into narrower {(n1, n2, n3)}")
        own = self.state_dict()
        out: dict[str, torch.Tensor] = {}
        ident = torch.arange
        # context input: [mean(c3), std(c3), input stats (6)]; output: [γ_body, β_body, γ_half, β_half, colour (12)]
        ctx_in = torch.cat([ident(o3), n3 + ident(o3), 2 * n3 + ident(6)])
        ctx_out = torch.cat([ident(o3), n3 + ident(o3), 2 * n3 + ident(o1), 2 * n3 + n1 + ident(o1),
                             2 * n3 + 2 * n1 + ident(12)])
        for k, old in sd.items():
            new = own.get(k)
            if new is None or new.shape == old.shape:
                out[k] = old
                continue
            if old.dim() != new.dim() or any(a > b for a, b in zip(old.shape, new.shape)):
                raise ValueError(f"lite: cannot widen {k} from {tuple(old.shape)} to {tuple(new.shape)}")
            rows = ctx_out if k.startswith("context.mlp.2") else ident(old.shape[0])
            w = new.clone()
            if old.dim() == 1:
                w[rows] = old
            else:
                cols = ctx_in if k.startswith("context.mlp.0") else ident(old.shape[1])
                w[rows] = 0  # old outputs see nothing of the new inputs
                w[rows.unsqueeze(1), cols.unsqueeze(0)] = old
            out[k] = w
        return out

    def _skip_input(self, x: torch.Tensor) -> torch.Tensor:
        return _lowpass(x, self.blur, self.skip_k) if self.skip_k else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s1 = self.stem(_lowpass(x, self.blur_in, self.input_k) if self.input_k else x)
        s2 = self.down1(s1)
        f = self.down2(s2)
        if self.context is None:
            y = self.refine(self.up2(self.up1(self.body(f), s2), s1))
            return self._toon(torch.tanh(self._residual(y, x) + self.skip(self._skip_input(x))))
        c1, c3 = self.c1, self.c3
        p = self.context(f, x)
        y = self.body(_film(f, p[:, : 2 * c3]))
        y = self.refine(_film(self.up2(self.up1(y, s2), s1), p[:, 2 * c3 : 2 * c3 + 2 * c1]))
        return self._toon(torch.tanh(self._residual(y, x) + self._linear(self._skip_input(x), p[:, 2 * c3 + 2 * c1 :])))

    def _toon(self, y: torch.Tensor) -> torch.Tensor:
        if not self.toon_levels:
            return y
        return toon_shade(y, self.toon_kernel, self.toon_levels, self.toon_sharpness, half=self.toon_half,
                          soft=self.toon_soft, gradient=self.toon_gradient)

    def _linear(self, xs: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """The linear full-resolution path: the skip 1x1 conv plus the per-image colour map, as one
        per-image 3x3 matrix and offset applied with a batched MatMul.

        ``xs``: N x 3 x H x W (the input, low-passed when ``smooth_skip``); ``m``: N x 12 from the
        context, the colour matrix (entry 3·j + i maps input channel j to output i) then the
        offset. Returns N x 3 x H x W = (W_skip + M)·xs + (b_skip + offset). One op over the frame
        instead of a 1x1 conv, three channel slices and a dozen element-wise ops: the same
        numbers, about 5 ms less a 640x360 frame in OpenVINO on a 2-core AVX2 box.
        """
        n, _, h, w = xs.shape
        # skip.weight (3 x 3 x 1 x 1) and skip.bias (3) enter as they are, broadcast against the
        # per-image terms: an op on a weight alone would be constant-folded into an unnamed ONNX
        # initializer, and --init-from an ONNX style finds the weights by their names
        a = (m[:, :9].reshape(n, 3, 3).transpose(1, 2).reshape(n, 3, 3, 1, 1) + self.skip.weight).reshape(n, 3, 3)
        c = (m[:, 9:12] + self.skip.bias).unsqueeze(-1)
        return (torch.matmul(a, xs.reshape(n, 3, h * w)) + c).reshape(n, 3, h, w)

    def _residual(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """1/2-resolution features ``y`` (+ the input ``x``) → full-resolution RGB residual (N x 3 x H x W)."""
        r = F.pixel_shuffle(self.head(y), 2)
        if self.ink_head is None or self.ink_body is None or self.ink_out is None:
            return r
        f = F.pixel_shuffle(self.ink_head(y), 2)
        bh = blackhat(x) * (2.0 / 255.0)  # levels → the [-1, 1] scale of the input
        extra = [dog(x, self.dog_kernel)] if self.ink_dog else []
        return r + self.ink_out(self.ink_body(torch.cat([f, x, bh, *extra], dim=1)))
