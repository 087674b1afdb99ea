"""numpy ↔ QImage without surprises.

Frames are C-contiguous ``uint8`` arrays of shape ``(H, W, 3)`` in **RGB** order; a ``QImage`` made
here *wraps* the array's memory (no copy), so the array must outlive the image — keep a reference
next to it, or call ``.copy()`` on the image.
"""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtGui import QImage


def wrap_rgb(rgb: np.ndarray) -> QImage:
    """A ``Format_RGB888`` QImage over ``rgb`` (uint8 HxWx3, C-contiguous, RGB). No copy."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected uint8 HxWx3, got {rgb.dtype} {rgb.shape}")
    if not rgb.flags.c_contiguous:
        raise ValueError("expected a C-contiguous array")
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, rgb.strides[0], QImage.Format.Format_RGB888)


def fit_size(w: int, h: int, box_w: int, box_h: int) -> tuple[int, int]:
    """The largest (w, h) with the aspect of ``w`` x ``h`` that fits in the box (at least 1x1)."""
    if w <= 0 or h <= 0 or box_w <= 0 or box_h <= 0:
        return 1, 1
    s = min(box_w / w, box_h / h)
    return max(1, round(w * s)), max(1, round(h * s))


def scaled(rgb: np.ndarray, w: int, h: int) -> np.ndarray:
    """``rgb`` (uint8 HxWx3) resized to (h, w) for display, fast at any factor.

    Shrinking by 2x or more first averages k x k blocks (OpenCV's area filter is fast only for
    integer factors), then bilinear covers the rest; below 2x bilinear alone does not alias.
    """
    sh, sw = rgb.shape[:2]
    if (sw, sh) == (w, h):
        return rgb
    k = int(min(sw / max(w, 1), sh / max(h, 1)))
    if k >= 2:
        rgb = cv2.resize(rgb[: sh // k * k, : sw // k * k], (sw // k, sh // k), interpolation=cv2.INTER_AREA)
        if rgb.shape[1] == w and rgb.shape[0] == h:
            return rgb
    return cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR)
