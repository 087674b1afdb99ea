"""The one backend interface: ``process(rgb) -> rgb``.

Contract: input and output are C-contiguous ``uint8`` arrays of shape ``(H, W, 3)`` in **RGB**
order; the output has the input's size. The backend runs the style's network at an *inference size*
(pixels on the longer side, aspect kept), reflect-pads to the network's size multiple, crops back
and resizes to the input's size. When the inference size equals the input's long side and the input
is already a multiple, no resize and no padding happen.

Each backend reports ``name`` (``torch``, ``onnxruntime``, ``openvino``, ``classic``), the ``device`` really in
use (e.g. ``cpu``, ``cuda:0``, ``CUDAExecutionProvider``) and ``precision`` (``fp32``/``fp16``).
``close()`` is idempotent; a closed backend raises ``RuntimeError``.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from ..style import StyleManifest


class RunCancelled(RuntimeError):
    """A frame's inference was cancelled by :meth:`Backend.cancel` (e.g. during shutdown)."""


def check_frame(img: object) -> np.ndarray:
    """Validate the backend input contract; raise ``TypeError``/``ValueError`` with a clear reason."""
    if not isinstance(img, np.ndarray):
        raise TypeError(f"expected a numpy array, got {type(img).__name__}")
    if img.dtype != np.uint8:
        raise TypeError(f"expected dtype uint8, got {img.dtype}")
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected shape (H, W, 3), got {img.shape}")
    if img.shape[0] < 1 or img.shape[1] < 1:
        raise ValueError(f"empty image {img.shape}")
    return img if img.flags.c_contiguous else np.ascontiguousarray(img)


@dataclass(frozen=True)
class SizePlan:
    """How a (h, w) frame is fed to the network: resized to (ih, iw), padded by (ph, pw)."""

    h: int
    w: int
    ih: int
    iw: int
    ph: int
    pw: int

    @property
    def resized(self) -> bool:
        return (self.ih, self.iw) != (self.h, self.w)


def round_up(x: int, m: int) -> int:
    return -(-x // m) * m


def plan_size(h: int, w: int, size: int | None, multiple: int, fixed: tuple[int, int] | None = None) -> SizePlan:
    """Plan the inference geometry for an ``h`` x ``w`` frame.

    ``size`` is the target long side in pixels (``None`` = the input's own); ``fixed`` (H, W) forces
    the network size (the frame is stretched and stretched back, so aspect is preserved overall).
    """
    if fixed is not None:
        return SizePlan(h, w, fixed[0], fixed[1], 0, 0)
    long_side = max(h, w)
    target = long_side if size is None else int(size)
    if target == long_side:
        ih, iw = h, w
    else:
        s = target / long_side
        ih, iw = max(1, round(h * s)), max(1, round(w * s))
    return SizePlan(h, w, ih, iw, round_up(ih, multiple) - ih, round_up(iw, multiple) - iw)


def resize(img: np.ndarray, w: int, h: int) -> np.ndarray:
    """Resize uint8 HxWx3 to (h, w): area filter when shrinking, bilinear when growing."""
    if img.shape[0] == h and img.shape[1] == w:
        return img
    shrink = w * h < img.shape[0] * img.shape[1]
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def pad(img: np.ndarray, ph: int, pw: int) -> np.ndarray:
    """Reflect-pad bottom/right (replicate when the image is too small to reflect)."""
    if ph == 0 and pw == 0:
        return img
    mode = cv2.BORDER_REFLECT_101 if img.shape[0] > ph and img.shape[1] > pw else cv2.BORDER_REPLICATE
    return cv2.copyMakeBorder(img, 0, ph, 0, pw, mode)


class Backend(ABC):
    """Runs one style. Subclasses implement :meth:`_infer` on already sized, padded frames."""

    name: str = "?"

    def __init__(self, manifest: StyleManifest, size: int | None = None) -> None:
        self.manifest = manifest
        self.device = "cpu"
        self.precision = "fp32"
        self.size = size  # checked against cartoon_cam.limits
        self._closed = False
        self._lock = threading.Lock()
        self.choice: object | None = None  # how ``auto`` picked this backend (a choice.Choice), if it did

    # -- public -----------------------------------------------------------------------------
    @property
    def style_id(self) -> str:
        return self.manifest.id

    @property
    def size(self) -> int | None:
        """Requested inference long side in pixels; ``None`` = the style's recommendation."""
        return self._size

    @size.setter
    def size(self, value: int | None) -> None:
        from ...errors import InputError
        from ...limits import check_inference_size

        try:
            self._size = check_inference_size(value, "inference size")
        except InputError as e:
            raise ValueError(str(e)) from None

    def effective_size(self, h: int, w: int) -> int:
        """The long side the network really runs at for an ``h`` x ``w`` frame.

        Without an explicit size: the style's recommendation, but never upscaling the input.
        """
        if self._size is not None:
            return self._size
        return min(self.manifest.recommended_size, max(h, w))

    def plan(self, h: int, w: int) -> SizePlan:
        m = self.manifest
        return plan_size(h, w, self.effective_size(h, w), m.size_multiple, m.fixed_size)

    def process(self, rgb: np.ndarray) -> np.ndarray:
        """Cartoonize one frame: uint8 RGB HxWx3 → uint8 RGB HxWx3 (same size, C-contiguous)."""
        rgb = check_frame(rgb)
        if self._closed:
            raise RuntimeError(f"backend for style {self.style_id!r} is closed")
        p = self.plan(rgb.shape[0], rgb.shape[1])
        x = pad(resize(rgb, p.iw, p.ih), p.ph, p.pw)
        with self._lock:
            y = self._infer(np.ascontiguousarray(x))
        if p.ph or p.pw:
            y = y[: p.ih, : p.iw]
        y = resize(y, p.w, p.h)
        return np.ascontiguousarray(y)

    @property
    def on_cpu(self) -> bool:
        return self.device in ("cpu", "CPUExecutionProvider")

    def warmup(self, h: int = 256, w: int = 256, runs: int = 1) -> None:
        """Prepare for ``h`` x ``w`` frames. On a GPU: run ``runs`` full frames (cuDNN autotuning,
        TensorRT engines, memory arenas). On a CPU nothing is tuned per shape, so the network runs
        once at a small valid size, which checks it works without costing a whole frame."""
        if self.on_cpu and self.manifest.fixed_size is None:
            m = max(1, self.manifest.size_multiple)
            side = round_up(64, m)
            with self._lock:
                self._infer(np.full((side, side, 3), 127, np.uint8))
            return
        img = np.full((h, w, 3), 127, np.uint8)
        for _ in range(runs):
            self.process(img)

    def network_fn(self, x: np.ndarray) -> Callable[[], object]:
        """A call that runs the network alone on ``x`` (uint8 RGB HxWx3, already sized and padded
        for the network, e.g. by :meth:`plan`): whatever input conversion the runtime needs is done
        once, here, so timing the call measures the runtime (``bench`` uses it). Default: the whole
        :meth:`_infer`."""
        x = np.ascontiguousarray(x)
        return lambda: self._infer(x)

    def cancel(self) -> None:  # noqa: B027 - optional hook
        """Ask a frame running on another thread to stop early (it then raises
        :class:`RunCancelled`). Thread-safe; a no-op where the runtime cannot interrupt a run."""

    def close(self) -> None:
        """Release the model. Idempotent."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._release()

    @property
    def closed(self) -> bool:
        return self._closed

    def describe(self) -> str:
        """``runtime · device · precision``, plus ``· auto`` when ``auto`` chose this runtime by a
        probe (the window's "In use" line and ``bench`` show it)."""
        text = f"{self.name} · {self.device} · {self.precision}"
        return text + " · auto" if self.choice is not None and getattr(self.choice, "ms", None) else text

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- subclass hooks ---------------------------------------------------------------------
    @abstractmethod
    def _infer(self, rgb: np.ndarray) -> np.ndarray:
        """uint8 RGB HxWx3 (H, W valid for the network) → uint8 RGB HxWx3 of the same size."""

    def _release(self) -> None:  # noqa: B027 - optional hook
        """Free resources (called once by :meth:`close`)."""
