"""VGG19 feature extractor up to conv4_4 *before* its ReLU (torchvision ``features[:26]``).

Two weight formats, each with its own preprocessing (the network takes RGB in [-1, 1] and does it):

* ``caffe``: the Caffe VGG19 ``vgg19.npy`` used by the original AnimeGAN code (a pickled dict
  ``{"conv1_1": [W (3,3,in,out) HWIO, b (out,)], ...}``; input channels of ``conv1_1`` in **BGR**).
  Preprocessing: ``(x + 1) * 127.5`` → BGR → minus ``[103.939, 116.779, 123.68]``. The official
  AnimeGANv2 loss weights assume this variant.
* ``torchvision``: a torchvision ``vgg19`` state dict (``features.N.weight`` ...; e.g.
  ``vgg19-dcbb9e9d.pth``, or ``.safetensors``). Preprocessing: ``(x + 1) / 2`` → minus ImageNet mean
  ``[0.485, 0.456, 0.406]`` / std ``[0.229, 0.224, 0.225]`` (RGB).

Nothing is ever downloaded: ``"auto"`` only looks in torchvision's hub cache.
"""

from __future__ import annotations

import io
import logging
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

log = logging.getLogger(__name__)

# torchvision vgg19 ``features`` conv indices up to conv4_4 and their Caffe names.
CONV_LAYERS: list[tuple[int, str, int, int]] = [
    (0, "conv1_1", 3, 64), (2, "conv1_2", 64, 64),
    (5, "conv2_1", 64, 128), (7, "conv2_2", 128, 128),
    (10, "conv3_1", 128, 256), (12, "conv3_2", 256, 256), (14, "conv3_3", 256, 256), (16, "conv3_4", 256, 256),
    (19, "conv4_1", 256, 512), (21, "conv4_2", 512, 512), (23, "conv4_3", 512, 512), (25, "conv4_4", 512, 512),
]
TORCHVISION_FILE = "vgg19-dcbb9e9d.pth"
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

HELP = (
    "VGG19 weights are needed for the content/style losses. Pass --vgg PATH with either the Caffe "
    "'vgg19.npy' of the original AnimeGAN code (the official loss weights assume it) or a torchvision "
    f"'vgg19' state dict ('{TORCHVISION_FILE}', from torchvision.models.vgg19(weights='IMAGENET1K_V1') "
    "on a machine that is online), or put that file in torchvision's cache ($TORCH_HOME/hub/checkpoints). "
    "'--vgg random' uses random weights (smoke tests only)."
)


class VGGWeightsError(FileNotFoundError):
    """VGG19 weights are missing or unreadable (the message names the options)."""


def _features() -> nn.Sequential:
    layers: list[nn.Module] = []
    idx = 0
    for i, _, cin, cout in CONV_LAYERS:
        while idx < i:  # pools between blocks, ReLUs after convs
            layers.append(nn.MaxPool2d(2, 2) if idx in (4, 9, 18) else nn.ReLU(inplace=False))
            idx += 1
        layers.append(nn.Conv2d(cin, cout, 3, padding=1))
        idx += 1
    return nn.Sequential(*layers)


class VGG19Features(nn.Module):
    """Frozen VGG19 → conv4_4 pre-ReLU features.

    ``forward(x)``: x float NCHW **RGB** in [-1, 1] → N x 512 x H/8 x W/8 (float, same dtype as
    the weights under autocast). ``variant``: ``"caffe"`` | ``"torchvision"`` (preprocessing).
    """

    def __init__(self, variant: str = "caffe") -> None:
        super().__init__()
        if variant not in ("caffe", "torchvision"):
            raise ValueError(f"unknown VGG variant {variant!r}")
        self.variant = variant
        self.features = _features()
        if variant == "caffe":
            mean = torch.tensor(CAFFE_MEAN_BGR[::-1]).view(1, 3, 1, 1)  # in RGB order
            std = torch.ones(1, 3, 1, 1) / 255.0
        else:
            mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
            std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)
        self.requires_grad_(False)
        self.eval()
        self.source = "random"

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """RGB [-1, 1] → the network's input (Caffe: BGR 0..255 minus mean; torchvision: ImageNet)."""
        if self.variant == "caffe":
            x = (x + 1.0) * 127.5 - self.mean
            return x.flip(1)  # RGB → BGR
        return ((x + 1.0) * 0.5 - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(self.preprocess(x))

    def train(self, mode: bool = True) -> VGG19Features:  # always frozen / eval
        return super().train(False)


class _NpyUnpickler(pickle.Unpickler):
    """Unpickler that only rebuilds numpy arrays, dicts and lists (no arbitrary code)."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED:
            if name == "_reconstruct":
                return _np_reconstruct()
            if name == "scalar":
                return _np_scalar()
            return getattr(np, name)
        raise pickle.UnpicklingError(f"vgg19.npy: refusing to load {module}.{name}")


def _np_reconstruct() -> Any:
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    return _reconstruct


def _np_scalar() -> Any:
    try:
        from numpy._core.multiarray import scalar
    except ImportError:
        from numpy.core.multiarray import scalar  # type: ignore[no-redef]
    return scalar


def read_caffe_npy(path: str | Path) -> dict[str, list[np.ndarray]]:
    """Read the Caffe ``vgg19.npy`` dict safely (restricted unpickler, ``latin1`` for Python 2 files)."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        shape, _, dtype = (
            np.lib.format.read_array_header_1_0(f) if version == (1, 0) else np.lib.format.read_array_header_2_0(f)
        )
        if dtype != np.dtype(object):
            raise VGGWeightsError(f"{path}: not a Caffe vgg19.npy (expected a pickled dict). {HELP}")
        obj = _NpyUnpickler(io.BytesIO(f.read()), encoding="latin1").load()
    if isinstance(obj, np.ndarray):
        obj = obj.reshape(-1)[0] if shape in ((), (1,)) else obj
    if not isinstance(obj, dict):
        raise VGGWeightsError(f"{path}: not a Caffe vgg19.npy (no layer dict). {HELP}")
    return obj


def caffe_state_dict(npy: dict[str, list[np.ndarray]]) -> dict[str, torch.Tensor]:
    """Caffe/TF layer dict → ``features.N.weight/bias``; HWIO → OIHW is ``permute(3, 2, 0, 1)``."""
    sd: dict[str, torch.Tensor] = {}
    for i, name, cin, cout in CONV_LAYERS:
        if name not in npy:
            raise VGGWeightsError(f"vgg19.npy lacks layer {name}")
        w, b = (np.asarray(a, dtype=np.float32) for a in npy[name][:2])
        if w.shape != (3, 3, cin, cout) or b.shape != (cout,):
            raise VGGWeightsError(f"vgg19.npy layer {name} has shape {w.shape}/{b.shape}, expected (3,3,{cin},{cout})")
        sd[f"features.{i}.weight"] = torch.from_numpy(w).permute(3, 2, 0, 1).contiguous()
        sd[f"features.{i}.bias"] = torch.from_numpy(b.copy())
    return sd


def torchvision_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read the ``features.*`` tensors up to conv4_4 from a torchvision vgg19 state-dict file."""
    path = Path(path)
    if path.suffix.lower() == ".safetensors":
        from safetensors.torch import load_file

        raw = load_file(str(path))
    else:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(raw, dict) and "state_dict" in raw and isinstance(raw["state_dict"], dict):
        raw = raw["state_dict"]
    if not isinstance(raw, dict):
        raise VGGWeightsError(f"{path}: not a state dict. {HELP}")
    raw = {k.removeprefix("module."): v for k, v in raw.items()}
    sd = {}
    for i, name, cin, cout in CONV_LAYERS:
        for suffix, shape in (("weight", (cout, cin, 3, 3)), ("bias", (cout,))):
            key = f"features.{i}.{suffix}"
            if key not in raw:
                raise VGGWeightsError(f"{path}: missing {key} ({name}); is it a torchvision vgg19 state dict?")
            if tuple(raw[key].shape) != shape:
                raise VGGWeightsError(f"{path}: {key} has shape {tuple(raw[key].shape)}, expected {shape}")
            sd[key] = raw[key].float()
    return sd


def _hub_cache_file() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_FILE


def load_vgg(weights: str = "auto", *, seed: int = 0) -> VGG19Features:
    """Build the frozen VGG19 feature extractor.

    ``weights``: path to ``vgg19.npy`` (Caffe) or a torchvision state dict (.pth/.pt/.safetensors),
    ``"auto"`` (torchvision's hub cache) or ``"random"`` (seeded; smoke tests).
    Raises :class:`VGGWeightsError` naming the options when nothing usable is found.
    """
    if weights == "random":
        g = torch.random.fork_rng(devices=[])
        with g:
            torch.manual_seed(seed)
            m = VGG19Features("caffe")
        log.warning("VGG19 with RANDOM weights: only for smoke tests, the losses are meaningless")
        return m
    if weights in ("", "auto"):
        cached = _hub_cache_file()
        if not cached.is_file():
            raise VGGWeightsError(f"no VGG19 weights given and none in {cached.parent}. {HELP}")
        path = cached
    else:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise VGGWeightsError(f"VGG19 weights not found: {path}. {HELP}")
    if path.suffix.lower() == ".npy":
        m = VGG19Features("caffe")
        sd = caffe_state_dict(read_caffe_npy(path))
    else:
        m = VGG19Features("torchvision")
        try:
            sd = torchvision_state_dict(path)
        except (pickle.UnpicklingError, RuntimeError, OSError) as e:
            raise VGGWeightsError(f"{path}: cannot read ({e}). {HELP}") from None
        log.info("VGG19 torchvision weights: the official AnimeGANv2 loss weights assume Caffe VGG19; "
                 "expect to retune loss.sty/loss.con")
    m.load_state_dict(sd)
    m.source = f"{m.variant}:{path.name}"
    return m
