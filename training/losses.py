"""Losses of AnimeGANv2 (official ``tools/ops.py``) and of teacher distillation.

All images are float NCHW **RGB** in [-1, 1]; features are VGG19 conv4_4 pre-ReLU maps. Every loss
computes in float32 (inputs are upcast), so it is safe under autocast, and returns a 0-dim tensor.

Adding a loss: its function goes here (with a hand-computed test in
``tests/test_training_losses.py``); its weight is a new ``LossCfg`` field in ``training/config.py``
(``loss.NAME``, default 0.0 = off, so older runs still resume); the step that uses it
(``distill_step`` in ``distill.py``, ``gan_step`` / ``init_step`` in ``trainer.py``) adds
``weight * term`` to its loss and returns the term, which makes it a ``metrics.jsonl`` field.
See docs/TRAINING.md, "Adding a loss".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cartoon_cam.inference.archs.lite import _binomial, _lowpass
from cartoon_cam.inference.archs.lite import blackhat as _blackhat

# tf.image.rgb_to_yuv kernel: yuv = rgb @ K (rows R, G, B; columns Y, U, V).
YUV_KERNEL = torch.tensor(
    [[0.299, -0.14714119, 0.61497538],
     [0.587, -0.28886916, -0.51496512],
     [0.114, 0.43601035, -0.10001026]],
    dtype=torch.float32,
)
GRAY_WEIGHTS = (0.299, 0.587, 0.114)  # R, G, B


def gram(features: torch.Tensor) -> torch.Tensor:
    """Per-sample Gram matrix: N x C x H x W → N x C x C, ``F Fᵀ / (C·H·W)`` (no mixing of samples)."""
    n, c, h, w = features.shape
    f = features.float().reshape(n, c, h * w)
    return torch.bmm(f, f.transpose(1, 2)) / (c * h * w)


def content_loss(feat_photo: torch.Tensor, feat_fake: torch.Tensor) -> torch.Tensor:
    """L1 mean between VGG features of the photo and of the generated image."""
    return F.l1_loss(feat_fake.float(), feat_photo.float())


def style_loss(feat_anime_gray: torch.Tensor, feat_fake: torch.Tensor) -> torch.Tensor:
    """L1 mean between per-sample Gram matrices of grayscale-anime and generated features."""
    return F.l1_loss(gram(feat_fake), gram(feat_anime_gray))


def rgb_to_yuv(x: torch.Tensor) -> torch.Tensor:
    """NCHW RGB in [-1, 1] → NCHW YUV (channels Y, U, V) of the [0, 1] image (TF kernel)."""
    x = (x.float() + 1.0) / 2.0
    return torch.einsum("nchw,cd->ndhw", x, YUV_KERNEL.to(x.device))


def color_loss(photo: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """``L1(Y) + Huber(U) + Huber(V)`` (Huber δ = 1, mean) between photo and generated image."""
    p, g = rgb_to_yuv(photo), rgb_to_yuv(fake)
    return (
        F.l1_loss(g[:, 0], p[:, 0])
        + F.smooth_l1_loss(g[:, 1], p[:, 1], beta=1.0)
        + F.smooth_l1_loss(g[:, 2], p[:, 2], beta=1.0)
    )


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    """Total variation, official form: ``mean(dh²)/2 + mean(dw²)/2`` over height and width only."""
    x = x.float()
    dh = x[:, :, 1:, :] - x[:, :, :-1, :]
    dw = x[:, :, :, 1:] - x[:, :, :, :-1]
    return dh.pow(2).mean() / 2 + dw.pow(2).mean() / 2


def lsgan_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator LSGAN term ``mean((D(G(p)) - 1)²)``."""
    return (fake_logits.float() - 1.0).pow(2).mean()


def lsgan_d_loss(
    real: torch.Tensor, fake: torch.Tensor, gray: torch.Tensor, smooth: torch.Tensor,
    weights: tuple[float, float, float, float] = (1.7, 1.7, 1.7, 1.0),
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """AnimeGANv2 D loss (before ``d_adv``) from D logits of: colour anime (``real``), generated
    images (``fake``), grayscale anime (``gray``) and grayscale smoothed anime (``smooth``)::

        w_r·mean((real-1)²) + w_f·mean(fake²) + w_g·mean(gray²) + w_b·mean(smooth²)

    ``weights`` = (w_real, w_fake, w_gray, w_smooth). Returns (total, unweighted terms).
    """
    terms = {
        "d_real": (real.float() - 1.0).pow(2).mean(),
        "d_fake": fake.float().pow(2).mean(),
        "d_gray": gray.float().pow(2).mean(),
        "d_smooth": smooth.float().pow(2).mean(),
    }
    w_r, w_f, w_g, w_b = weights
    total = w_r * terms["d_real"] + w_f * terms["d_fake"] + w_g * terms["d_gray"] + w_b * terms["d_smooth"]
    return total, terms


def rgb_to_gray(x: torch.Tensor) -> torch.Tensor:
    """NCHW RGB → NCHW 3-channel grayscale ``0.299 R + 0.587 G + 0.114 B`` (replicated)."""
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    y = GRAY_WEIGHTS[0] * r + GRAY_WEIGHTS[1] * g + GRAY_WEIGHTS[2] * b
    return y.expand(-1, 3, -1, -1)


# --------------------------------------------------------------------------- distillation


def pixel_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """L1 mean between student and teacher images."""
    return F.l1_loss(student.float(), teacher.float())


def image_gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward differences per channel: (d/dy: N x C x H-1 x W, d/dx: N x C x H x W-1)."""
    return x[:, :, 1:, :] - x[:, :, :-1, :], x[:, :, :, 1:] - x[:, :, :, :-1]


def edge_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Gradient term: ``mean|∂y S - ∂y T| + mean|∂x S - ∂x T|`` (keeps lines and flat regions)."""
    sy, sx = image_gradients(student.float())
    ty, tx = image_gradients(teacher.float())
    return (sy - ty).abs().mean() + (sx - tx).abs().mean()


def feature_loss(feat_student: torch.Tensor, feat_teacher: torch.Tensor) -> torch.Tensor:
    """Feature matching: L1 mean between VGG features of student and teacher outputs."""
    return F.l1_loss(feat_student.float(), feat_teacher.float())


def lsgan_pair_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Plain LSGAN D loss ``mean((real-1)²) + mean(fake²)`` (distillation patch-GAN)."""
    return (real.float() - 1.0).pow(2).mean() + fake.float().pow(2).mean()


# --------------------------------------------------------------------------- drawn lines (issue 11)
# The look metrics (training/evaluate.py) find ink with a black-hat of the luma: closing(L) - L with
# a 7x7 ellipse, > 28 levels. The same operator in torch, differentiable (max pooling), lets a loss
# ask for the teacher's lines directly instead of hoping an L1 on pixels keeps them.

def luma_levels(x: torch.Tensor) -> torch.Tensor:
    """NCHW RGB in [-1, 1] → N x 1 x H x W luma in levels 0..255 (``cv2.COLOR_RGB2GRAY`` weights)."""
    x = (x.float() + 1.0) * 127.5
    return GRAY_WEIGHTS[0] * x[:, 0:1] + GRAY_WEIGHTS[1] * x[:, 1:2] + GRAY_WEIGHTS[2] * x[:, 2:3]


def blackhat(x: torch.Tensor) -> torch.Tensor:
    """:func:`cartoon_cam.inference.archs.lite.blackhat` in float32 (levels, N x 1 x H x W)."""
    return _blackhat(x.float())


def ink_loss(
    student: torch.Tensor, teacher: torch.Tensor, quantile: float = 0.5, *,
    student_bh: torch.Tensor | None = None, teacher_bh: torch.Tensor | None = None,
) -> torch.Tensor:
    """Quantile (pinball) loss between the black-hat maps of student and teacher, in units of 255
    levels. ``quantile`` > 0.5 charges a missing line more than an extra one: an L1-trained student
    unsure where a thin line goes leaves it out (the median of "line or not" is "not"), and the
    asymmetry moves that decision towards drawing it. ``student_bh`` / ``teacher_bh``: their
    :func:`blackhat` maps when the caller has them already (the same result, computed once for the
    step's ink terms)."""
    # The student's black-hat must stay differentiable through its closing: holding the closing fixed
    # (cheaper) breaks the invariance to a uniform darkening, and a run drifted to black in 50 steps.
    bs = blackhat(student) if student_bh is None else student_bh
    bt = blackhat(teacher) if teacher_bh is None else teacher_bh
    d = (bt - bs) / 255.0  # > 0: the teacher's line is missing
    return torch.maximum(quantile * d, (quantile - 1.0) * d).mean() * 2.0


def ink_f1_loss(
    student: torch.Tensor, teacher: torch.Tensor, threshold: float = 28.0, softness: float = 4.0, *,
    student_bh: torch.Tensor | None = None, teacher_bh: torch.Tensor | None = None,
) -> torch.Tensor:
    """``1 − soft ink F1`` of NCHW RGB in [-1, 1] student against teacher, the mean over the batch.

    The eval's ink F1 (training/evaluate.py) with the student's mask made soft: the teacher's mask is
    ``blackhat > threshold`` (levels), the student's ``sigmoid((blackhat − threshold) / softness)``;
    the 1-pixel tolerance is a 3x3 max pool of the other mask, as the metric dilates it. The pinball
    :func:`ink_loss` charges every level of a line alike; this term charges what the metric counts —
    whether a stroke crosses the threshold, in the teacher's pixel — so its gradient sits on strokes
    near the threshold and on their placement. An image without teacher ink adds 0 (no recall to
    score; its precision is the pinball term's job). ``student_bh`` / ``teacher_bh``: as in
    :func:`ink_loss`."""
    bs = blackhat(student) if student_bh is None else student_bh
    with torch.no_grad():
        mt = ((blackhat(teacher) if teacher_bh is None else teacher_bh) > threshold).float()
        mt_near = F.max_pool2d(mt, 3, 1, 1)
    ms = torch.sigmoid((bs - threshold) / softness)
    ms_near = F.max_pool2d(ms, 3, 1, 1)
    dims = (1, 2, 3)
    n_t = mt.sum(dims)
    precision = (ms * mt_near).sum(dims) / ms.sum(dims).clamp_min(1.0)
    recall = (mt * ms_near).sum(dims) / n_t.clamp_min(1.0)
    f1 = 2.0 * precision * recall / (precision + recall).clamp_min(1e-6)
    has_ink = (n_t > 0).float()
    return ((1.0 - f1) * has_ink).mean()


def ink_weighted_pixel_loss(
    student: torch.Tensor, teacher: torch.Tensor, weight: float, *, teacher_bh: torch.Tensor | None = None
) -> torch.Tensor:
    """Pixel L1 where the teacher's ink (black-hat > 28 levels, dilated 3x3) counts ``1 + weight``
    times; normalised by the total weight, so ``weight = 0`` is :func:`pixel_loss`. ``teacher_bh``:
    as in :func:`ink_loss`."""
    with torch.no_grad():
        ink = ((blackhat(teacher) if teacher_bh is None else teacher_bh) > 28.0).float()
        ink = F.max_pool2d(ink, 3, 1, 1)
        w = 1.0 + weight * ink
    d = (student.float() - teacher.float()).abs() * w
    return d.sum() / (w.sum() * student.shape[1])


def edge_smoothed(teacher: torch.Tensor, threshold: float = 40.0) -> torch.Tensor:
    """CartoonGAN's edge-promoting fake: the teacher's output with its edges blurred and nothing else
    changed. ``teacher``: NCHW RGB in [-1, 1] → same shape, no gradient. Edges are where the luma's
    morphological gradient (3x3 dilation − erosion) exceeds ``threshold`` levels, grown 5x5; there the
    image is replaced by a 5x5 Gaussian (σ ≈ 1.1) blur of itself. A discriminator that must tell
    these from the teacher's own pictures learns what crisp lines look like — and so does the student
    it teaches (CartoonGAN, Chen et al. 2018, §3.2)."""
    with torch.no_grad():
        t = teacher.float()
        lum = luma_levels(t)
        grad = F.max_pool2d(lum, 3, 1, 1) + F.max_pool2d(-lum, 3, 1, 1)
        edges = F.max_pool2d((grad > threshold).float(), 5, 1, 2)
        blur = _lowpass(t, _binomial(5).to(t.device), 5)  # lite's 5x5 binomial, edges replicated
        return (t * (1.0 - edges) + blur * edges).to(teacher.dtype)


def random_window(size: int, shape: tuple[int, ...], generator: torch.Generator | None = None) -> tuple[int, int]:
    """Top-left corner (row, column) of a random ``size`` x ``size`` window inside an image of NCHW
    ``shape`` (0, 0 when the image is not bigger)."""
    h, w = shape[-2], shape[-1]
    r = int(torch.randint(0, max(1, h - size + 1), (), generator=generator))
    c = int(torch.randint(0, max(1, w - size + 1), (), generator=generator))
    return r, c


def shift_loss(moved_out: torch.Tensor, out_moved: torch.Tensor, border: int = 8) -> torch.Tensor:
    """Shift equivariance: L1 between the output of a moved input and the moved output (same shape,
    ``border`` pixels on each side ignored, where padding legitimately differs)."""
    b = border
    return F.l1_loss(moved_out[..., b:-b, b:-b].float(), out_moved[..., b:-b, b:-b].float())
