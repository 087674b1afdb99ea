"""The demo source: an animated scene that needs no camera.

Public-domain pictures from ``resources/demo`` are shown one after another with a slow pan and zoom
("Ken Burns"), pushed aside by the next one with a slide, while a ball bounces across the scene, so
a fresh machine shows something alive and the cartoon filter has edges and motion to work on.

Animation time is ``frame_number / fps`` (not the wall clock), so the same frame number always
renders the same picture; delivery is paced to ``fps``.
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from ... import paths
from .base import FrameSource, SourceError
from .media import read_image_rgb

HOLD_S = 4.0  # each picture's turn, including the slide out
SLIDE_S = 0.8


def demo_pictures() -> list[Path]:
    """The bundled demo pictures (``resources/demo/*.jpg``), sorted by name."""
    try:
        folder = paths.resources_dir() / "demo"
    except FileNotFoundError:
        return []
    return sorted(p for p in folder.glob("*.jpg") if p.is_file())


def _ease(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


class DemoSource(FrameSource):
    """Animated scene, uint8 RGB ``height`` x ``width`` x 3 at ``fps``."""

    kind = "demo"

    def __init__(self, width: int = 640, height: int = 360, fps: float = 30.0,
                 pictures: Sequence[str | Path] | None = None) -> None:
        super().__init__("demo", fps)
        if width < 16 or height < 16:
            raise ValueError("demo size must be at least 16x16")
        self.width, self.height = int(width), int(height)
        self._picture_paths = [Path(p) for p in pictures] if pictures is not None else None
        self._pictures: list[np.ndarray] = []
        self.frame_number = 0

    @property
    def spec(self) -> str:
        return "demo"

    def _open(self) -> None:
        files = self._picture_paths if self._picture_paths is not None else demo_pictures()
        pics = [read_image_rgb(p) for p in files]
        if not pics:  # no resources: a generated gradient keeps the demo alive
            y, x = np.mgrid[0:360, 0:640]
            pics = [np.dstack([x * 255 // 639, y * 255 // 359, 255 - x * 255 // 639]).astype(np.uint8)]
        self._pictures = pics
        self._resolution = (self.width, self.height)

    def _close(self) -> None:
        self._pictures = []

    # -- rendering ------------------------------------------------------------------------------
    def _kenburns(self, pic: np.ndarray, u: float, k: int) -> np.ndarray:
        """Picture ``pic`` at phase ``u`` (0..1) of its turn: zoom 1.0→1.2 (or back) with a pan."""
        W, H = self.width, self.height
        ph, pw = pic.shape[:2]
        cover = max(W / pw, H / ph)
        e = _ease(u)
        zoom_in = k % 2 == 0
        z = cover * (1.0 + 0.2 * (e if zoom_in else 1 - e))
        # Pan between two points of the picture that keep the view inside it.
        vis_w, vis_h = W / z, H / z
        mx, my = max(0.0, (pw - vis_w) / 2), max(0.0, (ph - vis_h) / 2)
        sx = -1 if k % 3 == 0 else 1
        cx = pw / 2 + sx * mx * (2 * e - 1) * 0.8
        cy = ph / 2 - my * (0.75 - 0.5 * e)  # upper part first: faces tend to be there
        m = np.array([[z, 0, W / 2 - z * cx], [0, z, H / 2 - z * cy]], np.float32)
        return cv2.warpAffine(pic, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)

    def render(self, n: int) -> np.ndarray:
        """Frame number ``n`` of the scene (uint8 RGB HxWx3); needs :meth:`open` first."""
        if not self._pictures:
            raise SourceError("demo source is not open")
        W = self.width
        t = n / self.fps
        k = int(t // HOLD_S)
        u = (t - k * HOLD_S) / HOLD_S
        pics = self._pictures
        cur = self._kenburns(pics[k % len(pics)], u, k)
        slide_start = 1.0 - SLIDE_S / HOLD_S
        if u > slide_start:  # push the next picture in from the right
            p = _ease((u - slide_start) / (1.0 - slide_start))
            nxt = self._kenburns(pics[(k + 1) % len(pics)], 0.0, k + 1)
            off = int(round(p * W))
            if off > 0:
                out = np.empty_like(cur)
                out[:, : W - off] = cur[:, off:]
                out[:, W - off:] = nxt[:, :off]
                cur = out
        self._draw_ball(cur, t)
        return cur

    def _draw_ball(self, img: np.ndarray, t: float) -> None:
        W, H = self.width, self.height
        r = max(4, H // 11)
        span_x = max(1, W - 2 * r)
        x = (t * 0.23 * W) % (2 * span_x)
        x = r + (x if x < span_x else 2 * span_x - x)
        y = H - r - abs(math.sin(t * 2.4)) * (H * 0.55)
        hue = (t * 0.07) % 1.0
        rgb = tuple(int(255 * c) for c in colorsys.hsv_to_rgb(hue, 0.85, 1.0))
        c = (int(x), int(y))
        cv2.ellipse(img, (c[0], H - max(2, r // 4)), (r, max(2, r // 4)), 0, 0, 360, (25, 25, 25), -1, cv2.LINE_AA)
        cv2.circle(img, c, r, rgb, -1, cv2.LINE_AA)
        cv2.circle(img, c, r, (20, 20, 20), max(1, r // 10), cv2.LINE_AA)
        cv2.circle(img, (c[0] - r // 3, c[1] - r // 3), max(2, r // 4), (255, 255, 255), -1, cv2.LINE_AA)

    def _read(self) -> np.ndarray:
        self._pacer.wait()  # wait first, render after: the frame is fresh when it is published
        img = self.render(self.frame_number)
        self.frame_number += 1
        return img
