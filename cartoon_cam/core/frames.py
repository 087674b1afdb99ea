"""Immutable frames that flow through the pipeline.

Every image is a C-contiguous ``uint8`` array of shape ``(H, W, 3)`` in **RGB** order, marked
read-only once published (``flags.writeable = False``) so threads can share it without copies.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np


def freeze(img: np.ndarray) -> np.ndarray:
    """Return ``img`` as a read-only C-contiguous uint8 HxWx3 array (copies only if needed)."""
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected uint8 HxWx3, got {img.dtype} {img.shape}")
    if not img.flags.c_contiguous:
        img = np.ascontiguousarray(img)
    img.flags.writeable = False
    return img


@dataclass(frozen=True)
class Frame:
    """A captured frame: ``image`` uint8 RGB HxWx3 (read-only), ``seq`` counts up from 0 over the
    pipeline's life (it keeps counting across source switches),
    ``t_capture`` is ``time.perf_counter()`` when the frame was read, ``mirrored`` says whether
    ``image`` was flipped left↔right at capture (the preview's mirror), so an output with a mirror
    setting of its own (the virtual camera) can undo it. ``still``: for a still picture (an image
    source), a number shared by every frame of the same opened picture (``None`` for cameras and
    videos), so the pipeline cartoonizes it once instead of at the source's frame rate."""

    image: np.ndarray
    seq: int
    t_capture: float = field(default_factory=time.perf_counter)
    mirrored: bool = False
    still: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "image", freeze(self.image))

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.image.shape[1], self.image.shape[0]


@dataclass(frozen=True)
class ResultFrame:
    """A cartoonized frame paired with its source frame.

    ``cartoon`` is uint8 RGB HxWx3 (read-only) at the source's resolution; ``style_id`` names the
    style that made it; ``t_done`` is ``time.perf_counter()`` when inference finished.
    """

    source: Frame
    cartoon: np.ndarray
    style_id: str
    t_done: float = field(default_factory=time.perf_counter)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cartoon", freeze(self.cartoon))

    @property
    def seq(self) -> int:
        return self.source.seq

    @property
    def t_capture(self) -> float:
        return self.source.t_capture

    @property
    def mirrored(self) -> bool:
        """Whether the source frame (and so the cartoon) was mirrored at capture."""
        return self.source.mirrored
