"""Training configuration: nested dataclasses, presets, TOML/YAML files and CLI overrides.

Precedence (lowest first): dataclass defaults → preset → config file → CLI flags / ``--set``.
Unknown keys are rejected everywhere. The resolved configuration is written next to the run as
``config.toml`` and stored inside every checkpoint (as JSON).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1


class ConfigError(ValueError):
    """A configuration file, preset or override is invalid (message is user-facing)."""


@dataclass
class DataCfg:
    """Where the images are and how they are fed."""

    root: str = ""  # train: dataset in the AnimeGAN layout (train_photo/, <style>/style, <style>/smooth)
    style: str = ""  # train: name of the style folder under root
    photos: str = ""  # distill: folder of photos (searched recursively)
    val: str = ""  # optional folder of validation photos (default: root/val, else the first photos)
    size: int = 256  # train: images are resized/cropped to size x size; distill: crop size (0 = whole images)
    num_workers: int = 2
    max_photos: int = 0  # use at most this many photos (0 = all)
    photo_max_side: int = 0  # distill: downscale photos so the longer side <= this (0 = keep)
    scales: list[float] = field(default_factory=lambda: [1.0, 0.8, 0.67])  # distill crop scales
    hflip: bool = True  # distill: random horizontal flips
    noise: float = 0.0  # distill: Gaussian noise (σ uniform in 0..noise levels) on the student's input only
    holdout: int = 16  # distill: photos held out for validation / eval
    n_val: int = 4  # images in the validation grid
    data_mean: bool = False  # train: official "data mean" colour shift of the style images (off)
    teacher_cache: str = ""  # distill: teacher output cache (default RUN_DIR/teacher_cache)


@dataclass
class ModelCfg:
    """Generator (an architecture of ``cartoon_cam.inference``) and discriminator."""

    arch: str = "animeganv2"
    arch_config: dict[str, Any] = field(default_factory=dict)
    d_ch: int = 64  # AnimeGANv2 D: first layer has d_ch // 2 channels
    d_layers: int = 3  # AnimeGANv2 ``n_dis``
    d_sn: bool = True  # spectral norm on every D conv
    d_crop: int = 0  # distill patch-GAN: D sees one random d_crop x d_crop window per image (0 = all of it)
    init_from: str = ""  # optional generator weights (style file / checkpoint) to start from
    # init_from a *bigger* student: drop the weights this student does not have (e.g. residual
    # blocks removed for speed) instead of refusing them
    init_prune: bool = False


@dataclass
class LossCfg:
    """Loss weights. AnimeGANv2 terms (train) and distillation terms (distill)."""

    con: float = 1.5
    sty: float = 2.5
    col: float = 10.0
    tv: float = 1.0
    g_adv: float = 300.0
    d_adv: float = 300.0
    d_real: float = 1.7
    d_fake: float = 1.7
    d_gray: float = 1.7
    d_smooth: float = 1.0
    # distillation
    pixel: float = 1.0
    edge: float = 1.0
    feat: float = 0.0  # VGG conv4_4 feature matching student vs teacher (needs VGG weights)
    gan: float = 0.0  # patch-GAN (LSGAN) with the teacher outputs as "real"
    # edge-promoting fakes (CartoonGAN): the teacher's outputs with their edges blurred are shown to
    # the patch-GAN's discriminator as fakes too, with this weight (0 = off)
    gan_blur: float = 0.0
    ink: float = 0.0  # black-hat (drawn-line) map of student vs teacher, quantile loss
    ink_quantile: float = 0.5  # > 0.5: a missing teacher line costs more than an extra one
    ink_pixel: float = 0.0  # pixel L1 counts 1 + ink_pixel on (dilated) teacher ink
    ink_f1: float = 0.0  # 1 - soft ink F1 (the eval's metric, the student's mask a sigmoid)
    ink_f1_softness: float = 4.0  # levels: the sigmoid's width around the ink threshold (28)
    shift: float = 0.0  # shift equivariance: S(x moved k px) vs S(x) moved k px (k = 1..7)
    # temporal steadiness: L1 between the student's outputs for two copies of a photo with independent
    # camera noise (data.noise), i.e. the frame-to-frame change a still scene would show
    steady: float = 0.0
    # feature hint (training/hints.py): a lite student's 1/2-resolution features, through a learned
    # 1x1 adapter, predict the CartoonGAN teacher's own (MSE); whole images at scale 1 only
    hint: float = 0.0


@dataclass
class OptimCfg:
    """Adam(β1, β2) learning rates; ``schedule`` applies to the GAN / distillation phase."""

    lr_init: float = 2e-4
    lr_g: float = 2e-5
    lr_d: float = 4e-5
    lr: float = 5e-4  # distillation student
    beta1: float = 0.5
    beta2: float = 0.999
    schedule: str = "constant"  # constant | cosine
    warmup_steps: int = 0
    grad_clip: float = 0.0  # 0 = off (official)


@dataclass
class TrainCfg:
    """Schedule and run mechanics."""

    epochs: int = 101
    init_epochs: int = 10
    batch: int = 12
    steps_per_epoch: int = 0  # 0 = official max(N_photo, N_style) // global batch
    steps: int = 0  # distill only: total steps (train runs epochs * steps_per_epoch)
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: str = "auto"  # auto (bf16/fp16 on CUDA, off on CPU) | off | bf16 | fp16
    log_every: int = 10
    val_every: int = 0  # steps between validation grids (0 = once per epoch)
    ckpt_every: int = 0  # steps between checkpoints (0 = once per epoch)
    keep_epochs: bool = True  # keep a generator snapshot for every epoch (to choose by eye)
    progress: bool = True
    tensorboard: bool = False
    threads: int = 0  # torch CPU threads (0 = torch default)


@dataclass
class VggCfg:
    """Perceptual network. ``weights``: torchvision ``vgg19`` state dict (.pth/.pt/.safetensors),
    Caffe ``vgg19.npy``, ``"auto"`` (torchvision's hub cache, never downloads) or ``"random"``
    (seeded random weights, for smoke tests only)."""

    weights: str = "auto"


@dataclass
class ExportCfg:
    """What goes into the exported style's manifest."""

    id: str = ""  # default: slug of the style name
    name: str = ""
    description: str = ""
    licence: str = ""
    attribution: str = ""
    recommended_size: int = 0  # 0 = arch default (512 quality, 640 lite)
    fp16: bool = False
    onnx: bool = False  # also write an ONNX style (checked against ONNX Runtime)


@dataclass
class Config:
    schema: int = SCHEMA_VERSION
    preset: str = ""
    data: DataCfg = field(default_factory=DataCfg)
    model: ModelCfg = field(default_factory=ModelCfg)
    loss: LossCfg = field(default_factory=LossCfg)
    optim: OptimCfg = field(default_factory=OptimCfg)
    train: TrainCfg = field(default_factory=TrainCfg)
    vgg: VggCfg = field(default_factory=VggCfg)
    export: ExportCfg = field(default_factory=ExportCfg)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def hash(self, *, ignore: tuple[str, ...] = ()) -> str:
        """sha256 of the config without the ``section.key`` entries in ``ignore``."""
        d = self.to_dict()
        for key in ignore:
            sec, _, k = key.partition(".")
            if k:
                d.get(sec, {}).pop(k, None)
            else:
                d.pop(sec, None)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()


# Keys that may change when resuming without changing what has been computed so far.
RESUME_MUTABLE = (
    "train.epochs", "train.steps", "train.device", "train.log_every", "train.val_every",
    "train.ckpt_every", "train.progress", "train.tensorboard", "train.threads", "train.keep_epochs",
    "data.num_workers", "data.root", "data.photos", "data.val", "data.teacher_cache", "vgg.weights",
    "export",
)

# --------------------------------------------------------------------------- presets

# The lite student looks at image-wide statistics (context branch, instance norm), so it trains on
# whole photos at their own size (data.size 0), one scale, batch 8: the recipe of the built-in styles.
_DISTILL_BASE: dict[str, Any] = {
    "model": {"arch": "lite"},
    "data": {"size": 0, "scales": [1.0]},
    "train": {"batch": 8, "steps": 3000, "ckpt_every": 500, "val_every": 500, "amp": "auto"},
    "optim": {"lr": 5e-4, "beta1": 0.9, "beta2": 0.999, "schedule": "cosine", "warmup_steps": 200},
    "loss": {"pixel": 1.0, "edge": 1.0, "feat": 0.0, "gan": 0.0},
}

# Stage 4 of the built-in lite styles (issue 11): the student fine-tuned on 900 photos
# (distill_lite_more, --init-from) gets cel shading, a fixed layer at its output (lite's
# toon_levels: the smooth part of the luma becomes 6 flat plates with steep, noise-proof steps;
# lines, texture and colour pass through), and is fine-tuned through it, so its colours and lines
# fit the plates, with the steadiness term (two noisy copies must agree) and heavier ink terms, so
# the plates' borders and the lines hold still. The recipe passes --max-photos 900.
_TOON: dict[str, Any] = {
    **_DISTILL_BASE,
    "model": {"arch": "lite", "arch_config": {"smooth_skip": 5, "smooth_input": 3, "toon_levels": 6,
                                              "toon_sharpness": 40.0, "toon_sigma": 3.0}},
    "data": {**_DISTILL_BASE["data"], "noise": 6.0},
    "train": {**_DISTILL_BASE["train"], "steps": 300, "ckpt_every": 50, "val_every": 300},
    "optim": {**_DISTILL_BASE["optim"], "lr": 2e-4, "warmup_steps": 10},
    "loss": {**_DISTILL_BASE["loss"], "ink": 12.0, "ink_quantile": 0.8, "ink_pixel": 6.0, "steady": 5.0},
}

# stage 5's layer (issue 11): plates decided at half resolution, with a gradient-adaptive slope
_CEL_ARCH: dict[str, Any] = {**_TOON["model"]["arch_config"], "toon_half": True, "toon_soft": 20.0,
                             "toon_gradient": 0.006}

PRESETS: dict[str, dict[str, Any]] = {
    # Official AnimeGANv2 weights (train.py comments, tools/ops.py L214-216); they assume Caffe VGG19.
    "hayao": {
        "loss": {"con": 1.5, "sty": 2.5, "col": 15.0, "tv": 1.0, "g_adv": 300.0, "d_adv": 300.0,
                 "d_real": 1.2, "d_fake": 1.2, "d_gray": 1.2, "d_smooth": 0.8},
    },
    "shinkai": {
        "loss": {"con": 1.2, "sty": 2.0, "col": 10.0, "tv": 1.0, "g_adv": 300.0, "d_adv": 300.0,
                 "d_real": 1.7, "d_fake": 1.7, "d_gray": 1.7, "d_smooth": 1.0},
    },
    "paprika": {
        "loss": {"con": 2.0, "sty": 0.6, "col": 50.0, "tv": 0.1, "g_adv": 300.0, "d_adv": 300.0,
                 "d_real": 1.0, "d_fake": 1.0, "d_gray": 1.0, "d_smooth": 0.005},
    },
    # Distillation into the real-time ``lite`` student (the built-in lite styles).
    "distill_lite": _DISTILL_BASE,
    # Stage 2 of the built-in lite styles (issue 11): a distill_lite student (--init-from) learns to
    # draw its teacher's outlines (black-hat quantile loss, ink-weighted L1) and to ignore camera
    # noise (noise on its input, a smoothed linear skip path). Checkpoints every 100 steps: a run cut
    # off by the end of a session loses little (--resume).
    "distill_lite_drawn": {
        **_DISTILL_BASE,
        "model": {"arch": "lite", "arch_config": {"smooth_skip": True}},
        "data": {**_DISTILL_BASE["data"], "noise": 6.0},
        "train": {**_DISTILL_BASE["train"], "steps": 600, "ckpt_every": 100, "val_every": 300},
        "optim": {**_DISTILL_BASE["optim"], "lr": 3e-4, "warmup_steps": 20},
        "loss": {**_DISTILL_BASE["loss"], "ink": 6.0, "ink_quantile": 0.8, "ink_pixel": 4.0},
    },
    # Stage 3 of the built-in lite styles (issue 11): the stage-2 student grown where lines and
    # colours are decided (2 residual blocks at 1/2 resolution, 2 more in the 1/8 body; they start as
    # the identity, so training starts from stage 2's picture) and low-passed where camera noise got
    # in (5x5 binomial on the linear skip path, 3x3 on the network's input). --init-from the stage-2
    # student.
    "distill_lite_grown": {
        **_DISTILL_BASE,
        "model": {"arch": "lite", "arch_config": {"smooth_skip": 5, "smooth_input": 3, "refine": 2, "n_blocks": 6}},
        "data": {**_DISTILL_BASE["data"], "noise": 6.0},
        "train": {**_DISTILL_BASE["train"], "steps": 800, "ckpt_every": 100, "val_every": 400},
        "optim": {**_DISTILL_BASE["optim"], "lr": 3e-4, "warmup_steps": 50},
        "loss": {**_DISTILL_BASE["loss"], "ink": 8.0, "ink_quantile": 0.8, "ink_pixel": 5.0},
    },
    # ... and pruned back to the stage-2 size for speed (the 1/2-resolution blocks bought ~0.05 dB,
    # the extra body blocks ~0.1 dB, together ~25 % of the frame time on a 2-core AVX2 box): the
    # grown student's weights minus those blocks (--init-from the grown student), a short fine-tune.
    "distill_lite_lowpass": {
        **_DISTILL_BASE,
        "model": {"arch": "lite", "arch_config": {"smooth_skip": 5, "smooth_input": 3}, "init_prune": True},
        "data": {**_DISTILL_BASE["data"], "noise": 6.0},
        "train": {**_DISTILL_BASE["train"], "steps": 200, "ckpt_every": 50, "val_every": 200},
        "optim": {**_DISTILL_BASE["optim"], "lr": 1e-4, "warmup_steps": 10},
        "loss": {**_DISTILL_BASE["loss"], "ink": 8.0, "ink_quantile": 0.8, "ink_pixel": 5.0},
    },
    # Prepared next stage of the built-in lite styles (issue 11; probed on Hayao, not shipped): the
    # stage-3 student (--init-from), same topology and losses, fine-tuned on many more photos (the
    # recipe passes --max-photos 900): its colours had been fitted to the 224 training photos' and
    # did not carry over to new ones. Hayao: held-out PSNR 21.25 → 21.57 dB, the picture the same.
    "distill_lite_more": {
        **_DISTILL_BASE,
        "model": {"arch": "lite", "arch_config": {"smooth_skip": 5, "smooth_input": 3}},
        "data": {**_DISTILL_BASE["data"], "noise": 6.0},
        "train": {**_DISTILL_BASE["train"], "steps": 1200, "ckpt_every": 50, "val_every": 400},
        "optim": {**_DISTILL_BASE["optim"], "lr": 2e-4, "warmup_steps": 20},
        "loss": {**_DISTILL_BASE["loss"], "ink": 8.0, "ink_quantile": 0.8, "ink_pixel": 5.0},
    },
    "distill_lite_toon": _TOON,
    # Stage 5 of the built-in lite styles (issue 11): the stage-4 student (--init-from) with the
    # cel-shading layer decided at half resolution (toon_half: faster, the same plates) and with
    # Winnemöller's gradient-adaptive slope (toon_soft: a slow gradient such as a table top keeps a
    # soft ramp instead of breaking into blotches at a plate border; shading on faces and walls
    # keeps crisp steps), briefly fine-tuned through it with stage 4's losses at half its rate.
    "distill_lite_cel": {
        **_TOON,
        "model": {"arch": "lite", "arch_config": _CEL_ARCH},
        "train": {**_TOON["train"], "steps": 150, "val_every": 150},
        "optim": {**_TOON["optim"], "lr": 1e-4},
    },
    # Stage 6 of the built-in lite styles (issue 11): the stage-5 student (--init-from) made calmer
    # on a still camera — steadiness 8 instead of 5 — with heavier ink terms (16 / 8) that keep its
    # lines, in two runs: 150 steps at lr 1e-4 (--steps 150 --set optim.lr=1e-4), then these 600
    # steps at 2e-4 from the first run's student (training/recipes/builtin_lite_calm.sh).
    "distill_lite_calm": {
        **_TOON,
        "model": {"arch": "lite", "arch_config": _CEL_ARCH},
        "train": {**_TOON["train"], "steps": 600, "val_every": 600},
        "loss": {**_TOON["loss"], "ink": 16.0, "ink_pixel": 8.0, "steady": 8.0},
    },
    # Stage 7 of the built-in lite styles (issue 11), Hosoda: the stage-6 student (--init-from) made
    # calmer still — steadiness 10 — with ink 20 / 10 to keep its lines; 150 steps at lr 1e-4, then
    # these 600 at 2e-4 (training/recipes/builtin_lite_inky.sh).
    "distill_lite_calmer": {
        **_TOON,
        "model": {"arch": "lite", "arch_config": _CEL_ARCH},
        "train": {**_TOON["train"], "steps": 600, "val_every": 600},
        "loss": {**_TOON["loss"], "ink": 20.0, "ink_pixel": 10.0, "steady": 10.0},
    },
    # Stage 7 of the built-in lite styles (issue 11), Paprika: the stage-5 student (--init-from)
    # draws more of its teacher's lines — ink 24 / 12 instead of 12 / 6 — at stage 5's steadiness
    # (Paprika's flicker had room), run as stage 6 was: 150 steps at lr 1e-4, then these 600 at 2e-4
    # (training/recipes/builtin_lite_inky.sh).
    "distill_lite_inky": {
        **_TOON,
        "model": {"arch": "lite", "arch_config": _CEL_ARCH},
        "train": {**_TOON["train"], "steps": 600, "val_every": 600},
        "loss": {**_TOON["loss"], "ink": 24.0, "ink_pixel": 12.0},
    },
    # Stage 9 of the built-in lite styles (issue 11): stage 8's losses (distill_lite_calmer) plus the
    # soft ink-F1 term (loss.ink_f1: the eval's metric with the student's mask a sigmoid), which
    # charges strokes for crossing the ink threshold in the teacher's pixel; 150 steps at lr 1e-4,
    # then these 450 at 2e-4 (training/recipes/builtin_lite_f1.sh).
    "distill_lite_f1": {
        **_TOON,
        "model": {"arch": "lite", "arch_config": _CEL_ARCH},
        "train": {**_TOON["train"], "steps": 450, "val_every": 450},
        "loss": {**_TOON["loss"], "ink": 20.0, "ink_pixel": 10.0, "steady": 10.0, "ink_f1": 0.5},
    },
    # Stage 8 probe of issue 11: the student (--init-from) grown by a full-resolution ink branch (8
    # maps) that also sees the input's difference of Gaussians (ink_dog: edges with no dark line in
    # the photo, where the teachers draw outlines the students miss), starting as the identity; the
    # losses of distill_lite_calmer.
    "distill_lite_edges": {
        **_TOON,
        "model": {"arch": "lite", "arch_config": {**_CEL_ARCH, "ink": 8, "ink_dog": 1.0}},
        "train": {**_TOON["train"], "steps": 600, "val_every": 600},
        "loss": {**_TOON["loss"], "ink": 20.0, "ink_pixel": 10.0, "steady": 10.0},
    },
    # Probe of issue 11 (not shipped; docs/TRAINING.md, "stage 4 probes"): the stage-3 student
    # (--init-from) against an edge-promoting patch-GAN (CartoonGAN's idea): a small discriminator sees
    # 128-px windows of the teacher's outputs as real, and the student's outputs and the teacher's
    # outputs with blurred edges as fake, so soft, averaged strokes cost the student something a
    # pixel loss does not charge. On Hayao: more lines (ink ratio 0.81 → 0.92), same picture.
    "distill_lite_gan": {
        **_DISTILL_BASE,
        "model": {"arch": "lite", "arch_config": {"smooth_skip": 5, "smooth_input": 3}, "d_ch": 16, "d_crop": 128},
        "data": {**_DISTILL_BASE["data"], "noise": 6.0},
        "train": {**_DISTILL_BASE["train"], "steps": 300, "ckpt_every": 50, "val_every": 100},
        "optim": {**_DISTILL_BASE["optim"], "lr": 1e-4, "warmup_steps": 10, "lr_d": 2e-4},
        "loss": {**_DISTILL_BASE["loss"], "ink": 8.0, "ink_quantile": 0.8, "ink_pixel": 5.0, "gan": 0.1,
                 "gan_blur": 1.0},
    },
    # Probe of issue 11 (not shipped; docs/TRAINING.md, "stage 4 probes"): the stage-3 student
    # (--init-from) fine-tuned with a steadiness term — its outputs for two copies of a photo with
    # independent camera noise must agree (loss.steady) — and heavier ink terms to keep its lines:
    # on Hayao, noise flicker 0.34 → 0.32 and pan error 2.12 → 2.02 at the same ink F1.
    "distill_lite_steady": {
        **_DISTILL_BASE,
        "model": {"arch": "lite", "arch_config": {"smooth_skip": 5, "smooth_input": 3}},
        "data": {**_DISTILL_BASE["data"], "noise": 6.0},
        "train": {**_DISTILL_BASE["train"], "steps": 200, "ckpt_every": 50, "val_every": 100},
        "optim": {**_DISTILL_BASE["optim"], "lr": 1e-4, "warmup_steps": 10},
        "loss": {**_DISTILL_BASE["loss"], "ink": 12.0, "ink_quantile": 0.8, "ink_pixel": 6.0, "steady": 5.0},
    },
    # Distillation into the full AnimeGANv2 generator (quality tier).
    "distill_animeganv2": {**_DISTILL_BASE, "model": {"arch": "animeganv2"},
                           "data": {"size": 256, "scales": [1.0, 0.8, 0.67]},
                           "train": {**_DISTILL_BASE["train"], "batch": 8, "steps": 20000, "ckpt_every": 1000,
                                     "val_every": 1000},
                           "optim": {**_DISTILL_BASE["optim"], "lr": 2e-4}},
    # Smoke runs: finish in seconds on 2 CPU cores; random VGG weights (no file needed).
    "ci_tiny": {
        "data": {"size": 64, "num_workers": 0, "n_val": 2, "holdout": 2, "photo_max_side": 128,
                 "scales": [1.0, 0.75]},
        "model": {"d_ch": 16},
        "train": {"epochs": 2, "init_epochs": 1, "batch": 2, "steps_per_epoch": 2, "steps": 6,
                  "log_every": 1, "val_every": 0, "ckpt_every": 0, "amp": "off", "progress": False},
        "optim": {"warmup_steps": 0},
        "vgg": {"weights": "random"},
        "export": {"recommended_size": 256},
    },
}

# Defaults of the distill command (before the preset): the ``distill_lite`` preset.
DISTILL_DEFAULT_PRESET = "distill_lite"


# --------------------------------------------------------------------------- merging


def _section_types() -> dict[str, type]:
    return {f.name: f.type for f in fields(Config)}  # type: ignore[misc]


def _coerce(value: Any, current: Any, where: str) -> Any:
    """Coerce ``value`` to the type of ``current`` (ints to floats, etc.)."""
    if isinstance(current, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if isinstance(current, int):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        try:
            f = float(value)
        except ValueError:
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
        if not math.isfinite(f) or f != int(f):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return int(f)
    if isinstance(current, float):
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if isinstance(current, str):
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return str(value)
    if isinstance(current, list):
        if isinstance(value, str):
            value = [v for v in value.replace(" ", "").split(",") if v]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [float(v) for v in value] if all(isinstance(c, float) for c in current) else list(value)
    if isinstance(current, dict):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        return dict(value)
    return value


def merge(cfg: Config, data: dict[str, Any], *, origin: str = "config") -> Config:
    """Return a copy of ``cfg`` with the nested mapping ``data`` applied (unknown keys rejected)."""
    cfg = copy.deepcopy(cfg)
    for key, value in data.items():
        if key in ("schema", "preset"):
            if key == "schema" and int(value) > SCHEMA_VERSION:
                raise ConfigError(f"{origin}: schema {value} is newer than this version ({SCHEMA_VERSION})")
            if key == "preset":
                cfg.preset = str(value)
            continue
        section = getattr(cfg, key, None)
        if section is None or not is_dataclass(section):
            known = ", ".join(f.name for f in fields(Config))
            raise ConfigError(f"{origin}: unknown section {key!r} (known: {known})")
        if not isinstance(value, dict):
            raise ConfigError(f"{origin}: [{key}] must be a table")
        names = {f.name for f in fields(section)}
        for k, v in value.items():
            if k not in names:
                raise ConfigError(f"{origin}: unknown key {key}.{k} (known: {', '.join(sorted(names))})")
            setattr(section, k, _coerce(v, getattr(section, k), f"{origin}: {key}.{k}"))
    return cfg


def apply_preset(cfg: Config, name: str) -> Config:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r} (known: {', '.join(sorted(PRESETS))})")
    out = merge(cfg, PRESETS[name], origin=f"preset {name}")
    out.preset = name
    return out


def parse_set(items: list[str]) -> dict[str, Any]:
    """``["loss.col=15", "data.scales=[1.0,0.5]"]`` → nested mapping (values parsed as TOML)."""
    out: dict[str, Any] = {}
    for item in items:
        key, eq, raw = item.partition("=")
        sec, dot, k = key.strip().partition(".")
        if not eq or not dot or not sec or not k:
            raise ConfigError(f"--set {item!r}: expected section.key=value")
        out.setdefault(sec, {})[k] = _parse_value(raw.strip())
    return out


def _parse_value(raw: str) -> Any:
    tomllib = _tomllib()
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except Exception:
        return raw


def _tomllib() -> Any:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    return tomllib


def load_file(path: str | Path) -> dict[str, Any]:
    """Read a TOML (``.toml``) or YAML (``.yaml``/``.yml``, needs PyYAML) config file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e}") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml  # type: ignore[import-untyped]
        except ModuleNotFoundError:
            raise ConfigError(f"{path.name}: YAML configs need PyYAML (pip install pyyaml), or use TOML") from None
        data = yaml.safe_load(text) or {}
    else:
        try:
            data = _tomllib().loads(text)
        except Exception as e:
            raise ConfigError(f"{path.name}: invalid TOML ({e})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path.name}: top level must be a table")
    return data


def resolve(
    *, base_preset: str = "", config_file: str | Path | None = None, preset: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> Config:
    """defaults → ``base_preset`` → preset (CLI wins over the file's ``preset``) → file → overrides."""
    cfg = Config()
    if base_preset:
        cfg = apply_preset(cfg, base_preset)
    file_data = load_file(config_file) if config_file else {}
    name = preset or file_data.get("preset") or ""
    if name:
        cfg = apply_preset(cfg, str(name))
    if file_data:
        file_data = {k: v for k, v in file_data.items() if k != "preset"}
        cfg = merge(cfg, file_data, origin=str(config_file))
    if overrides:
        cfg = merge(cfg, overrides, origin="command line")
    validate(cfg)
    return cfg


def from_dict(data: dict[str, Any]) -> Config:
    cfg = merge(Config(), {k: v for k, v in data.items() if k != "preset"}, origin="checkpoint")
    cfg.preset = str(data.get("preset", ""))
    return cfg


def validate(cfg: Config) -> None:
    problems = []
    if cfg.data.size != 0 and (cfg.data.size < 16 or cfg.data.size % 8):
        problems.append(f"data.size {cfg.data.size} must be a multiple of 8 and >= 16 (0: whole images, distill only)")
    if cfg.train.batch < 1:
        problems.append("train.batch must be >= 1")
    if cfg.train.init_epochs < 0 or cfg.train.epochs < 1:
        problems.append("train.epochs must be >= 1 and train.init_epochs >= 0")
    if cfg.train.amp not in ("auto", "off", "bf16", "fp16"):
        problems.append(f"train.amp {cfg.train.amp!r} is not auto|off|bf16|fp16")
    if cfg.optim.schedule not in ("constant", "cosine"):
        problems.append(f"optim.schedule {cfg.optim.schedule!r} is not constant|cosine")
    if not cfg.data.scales or any(s <= 0 for s in cfg.data.scales):
        problems.append("data.scales must be a non-empty list of positive numbers")
    if cfg.loss.ink_f1_softness <= 0:
        problems.append(f"loss.ink_f1_softness {cfg.loss.ink_f1_softness} must be > 0 (levels)")
    if problems:
        raise ConfigError("invalid configuration: " + "; ".join(problems))


# --------------------------------------------------------------------------- TOML output


def to_toml(cfg: Config) -> str:
    """``cfg`` as TOML text (``tomli_w``): ``schema`` and ``preset`` first, then one table per
    section; :func:`load_file` / :func:`from_dict` read it back to an equal config."""
    import tomli_w

    return tomli_w.dumps(cfg.to_dict())
