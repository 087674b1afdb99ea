"""Feature hints: the student's 1/2-resolution features learn to predict its teacher's own (issue 11).

A CartoonGAN teacher draws its lines in its decoder: 128 feature maps at 1/2 resolution (after
``in12_1`` and its ReLU) become 64 at full resolution and then the picture. Pixel and ink losses see
only the picture; a *hint* (FitNets: Romero et al., ICLR 2015) also charges the student for what its
own 1/2-resolution features (``lite``'s ``refine`` output, the input of its head) fail to say about
the teacher's: ``hint · MSE(A(s), f)``, where ``A`` is a learned 1x1 conv from the student's c1
channels to the teacher's 128 (trained with the student, never exported) and ``f`` the teacher's
features of the clean photo.

Teacher features are computed once per photo (PyTorch, the teacher's own weights, its own colour
order, reflect-padded to its size multiple as the app runs it) and cached as float16 ``.npy`` beside
the output cache: ``<output cache dir>/hint_<layer>/<photo key>.npy`` (C x ceil(H/2) x ceil(W/2)).
Whole-image distillation only (``data.size = 0``, ``data.scales = [1.0]``). A mirrored sample carries
no hint: the teacher is not mirror-symmetric, so its features of a mirrored photo are not its
features mirrored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

log = logging.getLogger("training")

# teacher arch → (module whose output, after a ReLU, is the hint; its stride against the input)
HINT_LAYERS: dict[str, tuple[str, int]] = {"cartoongan": ("in12_1", 2)}


class HintCache:
    """Cached teacher features of each training photo at scale 1 (see the module docstring)."""

    def __init__(self, out_dir: Path, arch: str) -> None:
        if arch not in HINT_LAYERS:
            raise ValueError(f"feature hints need a teacher of arch {', '.join(HINT_LAYERS)}, not {arch!r}")
        self.layer, self.stride = HINT_LAYERS[arch]
        self.dir = Path(out_dir) / f"hint_{self.layer}"

    def path(self, key: str) -> Path:
        return self.dir / f"{key}.npy"

    def channels(self, key: str) -> int:
        """The teacher's feature channels C (from one cached file's header)."""
        return int(self.load(key).shape[0])

    def load(self, key: str) -> np.ndarray:
        """The cached features: float16 C x h x w (``mmap``: only what is used is read)."""
        return np.load(self.path(key), mmap_mode="r", allow_pickle=False)

    def build(self, teacher_file: str, todo_keys: list[str], load: Callable[[str], np.ndarray],
              threads: int | None = None, show_progress: bool = False) -> int:
        """Compute the missing features: ``todo_keys`` are photo keys, ``load(key)`` gives its photo
        (uint8 H x W x 3 RGB). Returns how many were computed."""
        missing = [k for k in todo_keys if not self.path(k).is_file()]
        if not missing:
            return 0
        from cartoon_cam.inference.backends.base import pad
        from cartoon_cam.inference.backends.torch_backend import Uint8Wrapper, build_torch_model
        from cartoon_cam.inference.catalog import load_style

        sf = load_style(teacher_file)
        m = sf.manifest
        if sf.tensors is None or m.arch not in HINT_LAYERS:
            raise ValueError(f"{Path(teacher_file).name}: feature hints need a PyTorch-architecture teacher "
                             f"({', '.join(HINT_LAYERS)}), not {m.arch}")
        net = build_torch_model(sf)
        io = Uint8Wrapper(net, m)  # its pre(): the teacher's colour order and value range, as the app runs it
        grabbed: list[torch.Tensor] = []
        hook = dict(net.named_modules())[self.layer].register_forward_hook(lambda _m, _i, o: grabbed.append(o))
        if threads:
            torch.set_num_threads(threads)
        self.dir.mkdir(parents=True, exist_ok=True)
        mult = max(1, int(m.size_multiple or 1))
        t0 = time.perf_counter()
        try:
            for n, key in enumerate(missing):
                rgb = load(key)
                h, w = rgb.shape[:2]
                img = pad(rgb, (-h) % mult, (-w) % mult)  # reflect-padded bottom/right, as the backends do
                x = io.pre(torch.from_numpy(np.ascontiguousarray(img))[None], torch.float32)
                grabbed.clear()
                with torch.no_grad():
                    net(x)
                f = F.relu(grabbed[0])[0, :, : -(-h // self.stride), : -(-w // self.stride)]
                tmp = self.path(key).with_suffix(".tmp.npy")
                np.save(tmp, f.to(torch.float16).numpy())
                tmp.replace(self.path(key))
                if show_progress and (n + 1) % 50 == 0:
                    log.info("hint cache: %d / %d photos, %.0f s", n + 1, len(missing), time.perf_counter() - t0)
        finally:
            hook.remove()
        log.info("hint cache (%s): %d photos in %.1f s", self.layer, len(missing), time.perf_counter() - t0)
        return len(missing)


class HintAdapter(nn.Module):
    """1x1 conv: the student's ``c_in`` 1/2-resolution features → the teacher's ``c_out`` (trained
    with the student, never exported)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(c_in, c_out, 1)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        return self.proj(s)


class FeatureGrab:
    """Keeps the outputs of ``module`` (a forward hook) while :attr:`on` is set: the student's
    1/2-resolution features of the step's main pass, not those of its extra passes (steadiness,
    shift)."""

    def __init__(self, module: nn.Module) -> None:
        self.outs: list[torch.Tensor] = []
        self.on = False
        self.handle = module.register_forward_hook(self._hook)

    def _hook(self, _m: nn.Module, _i: object, out: torch.Tensor) -> None:
        if self.on:
            self.outs.append(out)


class HintTerm:
    """What :func:`training.distill.distill_step` needs for the hint: the adapter, the grab on the
    student's 1/2-resolution features and this step's teacher features (one per image; C = 0 for a
    mirrored image, which then adds nothing)."""

    def __init__(self, adapter: nn.Module, grab: FeatureGrab) -> None:
        self.adapter, self.grab = adapter, grab
        self.feats: list[torch.Tensor] = []


def fit_adapter(adapter: HintAdapter, student: nn.Module, grab: FeatureGrab,
                samples: list[tuple[torch.Tensor, torch.Tensor]], ridge: float = 1e-3) -> float:
    """Start ``adapter`` as the best linear read-out of the teacher's features from the student's as
    they are (ridge regression over every 1/2-resolution pixel of ``samples``), so the hint's first
    gradients already ask the student for what its features miss, not for what a random adapter
    scrambles. ``samples``: (1 x 3 x H x W RGB in [-1, 1], C x H/2 x W/2 teacher features) on the
    student's device. Returns the share of the teacher features' variance the read-out explains (R²)."""
    xs, ys = [], []
    grab.outs.clear()
    grab.on = True
    try:
        with torch.no_grad():
            for x, f in samples:
                student(x)
                s = grab.outs[-1][0].float()
                h, w = s.shape[-2:]
                xs.append(s.reshape(s.shape[0], -1).T)
                ys.append(f[:, :h, :w].float().reshape(f.shape[0], -1).T)
    finally:
        grab.on = False
        grab.outs.clear()
    X, Y = torch.cat(xs).double(), torch.cat(ys).double()  # P x c1, P x C
    X1 = torch.cat([X, torch.ones(X.shape[0], 1, dtype=X.dtype, device=X.device)], dim=1)
    A = X1.T @ X1 + ridge * X.shape[0] * torch.eye(X1.shape[1], dtype=X.dtype, device=X.device)
    W = torch.linalg.solve(A, X1.T @ Y)  # (c1 + 1) x C
    with torch.no_grad():
        adapter.proj.weight.copy_(W[:-1].T.reshape_as(adapter.proj.weight).to(adapter.proj.weight.dtype))
        adapter.proj.bias.copy_(W[-1].to(adapter.proj.bias.dtype))
    resid = (Y - X1 @ W).pow(2).sum()
    total = (Y - Y.mean(0, keepdim=True)).pow(2).sum()
    return float(1.0 - resid / total)


def hint_loss(adapter: nn.Module, s: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """MSE between ``adapter(s)`` and the teacher's features ``f`` over their common area.

    ``s``: 1 x c1 x h x w student features; ``f``: C x h' x w' teacher features (any float dtype;
    h' ≥ h and w' ≥ w: the teacher's map covers the trimmed photo from its top-left). Returns a
    float32 0-dim tensor."""
    h, w = s.shape[-2:]
    target = f[None, :, :h, :w].to(s.device, torch.float32)
    if target.shape[-2:] != (h, w):
        raise ValueError(f"teacher features {tuple(f.shape)} do not cover the student's {h}x{w}")
    return F.mse_loss(adapter(s.float()).float(), target)


__all__ = ["HINT_LAYERS", "FeatureGrab", "HintAdapter", "HintCache", "HintTerm", "fit_adapter", "hint_loss"]
