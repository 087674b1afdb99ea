"""Style thumbnails: the manifest's own (base64 JPEG) or one rendered from a demo picture.

Rendering builds the style's backend, so it runs on a worker thread, never on the GUI thread.
Rendered thumbnails are cached under the user data folder by style id and weights checksum.
Arrays are uint8 RGB HxWx3.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from .. import paths
from ..core.sources import demo_pictures, read_image_rgb

if TYPE_CHECKING:
    from ..inference.catalog import StyleLoader

log = logging.getLogger(__name__)

THUMB_W, THUMB_H = 128, 96


def decode_thumbnail(b64: str) -> bytes | None:
    """The JPEG bytes of a manifest's ``thumbnail`` field (None when empty or invalid)."""
    if not b64:
        return None
    try:
        return base64.b64decode(b64, validate=False) or None
    except (binascii.Error, ValueError):
        return None


def thumbnail_input(w: int = THUMB_W, h: int = THUMB_H) -> np.ndarray:
    """The first demo picture centre-cropped to w:h and resized to w x h (uint8 RGB)."""
    pics = demo_pictures()
    if pics:
        img = read_image_rgb(pics[0])
    else:
        y, x = np.mgrid[0:h, 0:w]
        img = np.dstack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), np.full_like(x, 128)]).astype(np.uint8)
    ih, iw = img.shape[:2]
    s = max(w / iw, h / ih)
    cw, ch = round(w / s), round(h / s)
    y0, x0 = max(0, (ih - ch) // 4), max(0, (iw - cw) // 2)  # upper-centre: faces
    crop = img[y0: y0 + ch, x0: x0 + cw]
    return np.ascontiguousarray(cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA))


def _cache_path(key: str, stamp: str) -> Path:
    h = hashlib.sha256(f"{key}|{stamp}".encode()).hexdigest()[:16]
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(key).stem)[:40]
    return paths.user_data_dir() / "thumbnails" / f"{safe}-{h}.png"


def render_thumbnail(style: str | Path, stamp: str, load: StyleLoader) -> np.ndarray:
    """``style`` (id or path, loaded with ``load``: the window's catalog's ``resolve``) applied to
    :func:`thumbnail_input`; cached on disk by ``stamp`` (e.g. the weights' sha256). Raises what
    loading the style raises."""
    from ..inference.backends import create_backend

    path = _cache_path(str(style), stamp)
    if path.is_file():
        img = cv2.imread(str(path))
        if img is not None and img.shape[:2] == (THUMB_H, THUMB_W):
            return np.ascontiguousarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
    src = thumbnail_input()
    with create_backend(load(style), backend="auto", device="cpu", size=max(THUMB_W, THUMB_H)) as b:
        out = b.process(src)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), cv2.cvtColor(out, cv2.COLOR_RGB2BGR))
    except OSError as e:
        log.debug("cannot cache thumbnail %s: %s", path, e)
    return out
