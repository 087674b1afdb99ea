"""Pre/post-processing shared by the graph runtimes (ONNX Runtime, OpenVINO).

Two kinds of graph run there:

* *fused* graphs exported from our torch architectures: uint8 ``(1, H, W, 3)`` RGB in and out, with
  normalisation, colour swap and quantisation inside the graph — nothing to do here;
* third-party float graphs (AnimeGANv3, White-box, our ``*_lite`` students, ...): the manifest says
  the layout (``NCHW``/``NHWC``), colour order (``RGB``/``BGR``) and value range; this module maps
  uint8 RGB frames to that and back with vectorised numpy on a reused buffer.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..style import StyleManifest


class FloatGraphIO:
    """Maps uint8 RGB ``(H, W, 3)`` frames to a float graph's input and its output back.

    ``dtype``: the graph input's dtype (``np.float32`` or ``np.float16``). The input buffer is
    reused while the frame size stays the same, so :meth:`pre` returns a view that the next call
    overwrites: copy it to keep it.
    """

    def __init__(self, manifest: StyleManifest, dtype: type = np.float32) -> None:
        self.manifest = manifest
        self.dtype = dtype
        self._buf: np.ndarray | None = None

    def input_shape(self, h: int, w: int) -> tuple[int, int, int, int]:
        """The graph's input shape for an ``h`` x ``w`` frame (batch 1)."""
        return (1, 3, h, w) if self.manifest.layout == "NCHW" else (1, h, w, 3)

    def pre(self, rgb: np.ndarray) -> np.ndarray:
        """uint8 RGB HxWx3 → float 1x3xHxW or 1xHxWx3 in the model's colour order and value range."""
        m = self.manifest
        lo, hi = m.value_range
        src = rgb[..., ::-1] if m.color == "BGR" else rgb
        h, w = rgb.shape[:2]
        shape = self.input_shape(h, w)
        if self._buf is None or self._buf.shape != shape or self._buf.dtype != self.dtype:
            self._buf = np.empty(shape, self.dtype)
        buf = self._buf
        np.copyto(buf[0], src.transpose(2, 0, 1) if m.layout == "NCHW" else src, casting="unsafe")
        buf *= (hi - lo) / 255.0
        buf += lo
        return buf

    def post(self, y: np.ndarray) -> np.ndarray:
        """The graph's float output (batch 1, the manifest's layout, colour and range) → uint8 RGB
        HxWx3, C-contiguous (values outside the range are clipped, then rounded)."""
        m = self.manifest
        lo, hi = m.value_range
        scale = np.float32(255.0 / (hi - lo))
        if m.layout == "NCHW":
            # per plane (contiguous reads), then one interleave of uint8 planes: 0.5 ms instead of
            # 1.8 ms for a 640x360 frame through a transposed float view (2-core AVX2 box)
            planes = y[0] * scale
            planes += np.float32(-lo) * scale
            np.clip(planes, 0.0, 255.0, out=planes)
            np.rint(planes, out=planes)
            u8 = planes.astype(np.uint8)
            order = (2, 1, 0) if m.color == "BGR" else (0, 1, 2)
            return cv2.merge([u8[c] for c in order])
        y = y[0]
        if m.color == "BGR":
            y = y[..., ::-1]
        out = (y.astype(np.float32, copy=False) - lo) * scale
        np.clip(out, 0.0, 255.0, out=out)
        np.rint(out, out=out)
        return np.ascontiguousarray(out.astype(np.uint8))

    def release(self) -> None:
        self._buf = None
