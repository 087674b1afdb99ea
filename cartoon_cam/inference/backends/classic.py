"""The ``classic`` style: a weightless cartoon filter for any CPU.

Edge-preserving smoothing (bilateral filter), colour quantisation (a per-channel posterise LUT) and
dark edges from an adaptive threshold of the smoothed, median-blurred luminance (isolated specks
removed by a small morphological opening). Everything is OpenCV on uint8,
so it runs in a few milliseconds at 640x360.
"""

from __future__ import annotations

import cv2
import numpy as np

from ...errors import StyleError
from ..style import StyleManifest
from .base import Backend

DEFAULT_PARAMS: dict[str, float] = {
    "smooth_passes": 2,  # bilateral filter iterations
    "smooth_diameter": 7,
    "smooth_sigma_color": 40.0,
    "smooth_sigma_space": 7.0,
    "levels": 8,  # colour levels per channel
    "saturation": 1.25,
    "edge_block": 9,  # adaptive-threshold neighbourhood (odd)
    "edge_c": 4.0,  # higher → fewer edges
    "edge_blur": 5,  # median blur before edge detection (odd)
    "edge_clean": 2,  # morphological opening (px) that removes isolated edge specks; 0 = off
}


def _posterise_lut(levels: int) -> np.ndarray:
    step = 256.0 / levels
    x = np.arange(256, dtype=np.float32)
    q = (np.floor(x / step) + 0.5) * step
    return np.clip(q, 0, 255).astype(np.uint8).reshape(256, 1)


# Parameters OpenCV only accepts within limits: (minimum, must be odd).
_LIMITS: dict[str, tuple[float, bool]] = {
    "smooth_passes": (0, False), "smooth_diameter": (1, False), "smooth_sigma_color": (0, False),
    "smooth_sigma_space": (0, False), "levels": (2, False), "edge_block": (3, True), "edge_blur": (1, True),
    "saturation": (0, False), "edge_clean": (0, False),
}


def classic_params(manifest: StyleManifest) -> dict[str, float]:
    """The style's parameters over the defaults; :class:`StyleError` for unknown or unusable ones."""
    given = manifest.params
    unknown = sorted(set(given) - set(DEFAULT_PARAMS))
    if unknown:
        raise StyleError(f"style {manifest.id!r}: unknown classic parameter(s) {', '.join(unknown)} "
                         f"(known: {', '.join(DEFAULT_PARAMS)})")
    params: dict[str, float] = {}
    for key, default in DEFAULT_PARAMS.items():
        value = given.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise StyleError(f"style {manifest.id!r}: classic parameter {key} must be a number, got {value!r}")
        lo, odd = _LIMITS.get(key, (float("-inf"), False))
        if value < lo or (odd and int(value) % 2 == 0):
            raise StyleError(f"style {manifest.id!r}: classic parameter {key}={value!r} must be "
                             f"{'an odd number ' if odd else ''}≥ {lo:g}")
        params[key] = value
    return params


class ClassicBackend(Backend):
    """OpenCV cartoon filter; ``device`` is always ``cpu``."""

    name = "classic"

    def __init__(self, manifest: StyleManifest, size: int | None = None) -> None:
        super().__init__(manifest, size)
        self.params = classic_params(manifest)
        self._lut = _posterise_lut(int(self.params["levels"]))

    def _infer(self, rgb: np.ndarray) -> np.ndarray:
        p = self.params
        img = rgb
        for _ in range(int(p["smooth_passes"])):
            img = cv2.bilateralFilter(
                img, int(p["smooth_diameter"]), float(p["smooth_sigma_color"]), float(p["smooth_sigma_space"])
            )
        smooth = img
        sat = float(p["saturation"])
        if sat != 1.0:
            hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
            hsv[..., 1] = cv2.convertScaleAbs(hsv[..., 1], alpha=sat)
            img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
        img = cv2.LUT(img, self._lut)
        gray = cv2.cvtColor(smooth, cv2.COLOR_RGB2GRAY)  # edges of the smoothed picture: less texture noise
        gray = cv2.medianBlur(gray, int(p["edge_blur"]))
        lines = cv2.adaptiveThreshold(  # 255 where a dark line goes
            gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, int(p["edge_block"]), float(p["edge_c"])
        )
        k = int(p["edge_clean"])
        if k > 0:
            lines = cv2.morphologyEx(lines, cv2.MORPH_OPEN, np.ones((k, k), np.uint8))
        return cv2.bitwise_and(img, cv2.cvtColor(cv2.bitwise_not(lines), cv2.COLOR_GRAY2RGB))
