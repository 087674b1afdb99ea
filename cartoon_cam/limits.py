"""Memory and size limits, in one place (no Qt): used by the window, ``live`` and ``convert``.

The limits keep a run inside what an 8–16 GB laptop has:

* **inference size** (the network's long side, ``--size``): :data:`MIN_INFERENCE_SIZE` ..
  :data:`MAX_INFERENCE_SIZE` pixels. Activation memory grows with the square of it: at 8192 a lite
  style took 9 GB, at 2048 it is about 1/16 of that.
* **input pixels** (a picture, a video frame, a camera mode): at most :data:`MAX_INPUT_PIXELS`
  (64 MP, e.g. 8192x8192) and :data:`MAX_INPUT_SIDE` on either side. A picture's size is read from
  its file header *before* it is decoded (:func:`image_header_size`), so a 20000x20000 PNG is
  refused without allocating its 1.2 GB of pixels.

Every check raises :class:`~cartoon_cam.errors.InputError` with a sentence that names the limit.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from .errors import InputError

MIN_INFERENCE_SIZE = 16
MAX_INFERENCE_SIZE = 2048
MAX_INPUT_PIXELS = 64 * 1024 * 1024  # 64 MP (8192 x 8192)
MAX_INPUT_SIDE = 16384
HEADER_BYTES = 256 * 1024  # enough for the size of every format read here (JPEG: after EXIF)


def describe_limits() -> str:
    """One line for ``--help`` and error messages."""
    return (f"inference size {MIN_INFERENCE_SIZE}..{MAX_INFERENCE_SIZE} px on the long side; "
            f"inputs up to {MAX_INPUT_PIXELS // (1024 * 1024)} MP ({MAX_INPUT_SIDE} px a side)")


def check_inference_size(size: int | None, what: str = "--size") -> int | None:
    """``size`` (or ``None`` = the style's own) if within the limits; :class:`InputError` otherwise."""
    if size is None:
        return None
    try:
        v = int(size)
    except (TypeError, ValueError):
        raise InputError(f"{what} {size!r}: expected pixels, e.g. 512") from None
    if not MIN_INFERENCE_SIZE <= v <= MAX_INFERENCE_SIZE:
        raise InputError(f"{what} {v} is out of range ({MIN_INFERENCE_SIZE}..{MAX_INFERENCE_SIZE} pixels "
                         "on the longer side; larger sizes need more memory than a laptop has)")
    return v


def check_input_size(width: int, height: int, what: str) -> None:
    """Refuse a picture / frame of ``width`` x ``height`` beyond :data:`MAX_INPUT_PIXELS` or
    :data:`MAX_INPUT_SIDE`, before anything of that size is allocated."""
    w, h = int(width), int(height)
    if w <= 0 or h <= 0:
        raise InputError(f"{what}: has no picture size ({w}x{h})")
    if w * h > MAX_INPUT_PIXELS or max(w, h) > MAX_INPUT_SIDE:
        raise InputError(f"{what}: {w}x{h} ({w * h / 1e6:.0f} MP) is larger than the limit of "
                         f"{MAX_INPUT_PIXELS // (1024 * 1024)} MP ({MAX_INPUT_SIDE} px a side); "
                         "scale it down first")


# --------------------------------------------------------------------------- image headers


def _png(d: bytes) -> tuple[int, int] | None:
    if d[:8] == b"\x89PNG\r\n\x1a\n" and d[12:16] == b"IHDR" and len(d) >= 24:
        return struct.unpack(">II", d[16:24])
    return None


def _jpeg(d: bytes) -> tuple[int, int] | None:
    if d[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 4 <= len(d):
        if d[i] != 0xFF:
            return None
        marker = d[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length
            i += 2
            continue
        n = int.from_bytes(d[i + 2:i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) and i + 9 <= len(d):
            h, w = struct.unpack(">HH", d[i + 5:i + 9])
            return w, h
        if marker in (0xD9, 0xDA):
            return None
        i += 2 + n
    return None


def _webp(d: bytes) -> tuple[int, int] | None:
    if d[:4] != b"RIFF" or d[8:12] != b"WEBP" or len(d) < 30:
        return None
    kind = d[12:16]
    if kind == b"VP8X":
        return 1 + int.from_bytes(d[24:27], "little"), 1 + int.from_bytes(d[27:30], "little")
    if kind == b"VP8L":
        b = int.from_bytes(d[21:25], "little")
        return 1 + (b & 0x3FFF), 1 + ((b >> 14) & 0x3FFF)
    if kind == b"VP8 ":
        w, h = struct.unpack("<HH", d[26:30])
        return w & 0x3FFF, h & 0x3FFF
    return None


def _bmp(d: bytes) -> tuple[int, int] | None:
    if d[:2] == b"BM" and len(d) >= 26:
        w, h = struct.unpack("<ii", d[18:26])
        return abs(w), abs(h)
    return None


def _gif(d: bytes) -> tuple[int, int] | None:
    if d[:6] in (b"GIF87a", b"GIF89a") and len(d) >= 10:
        return struct.unpack("<HH", d[6:10])
    return None


def _tiff(d: bytes) -> tuple[int, int] | None:
    if d[:4] not in (b"II*\x00", b"MM\x00*") or len(d) < 8:
        return None
    bo = "<" if d[:2] == b"II" else ">"
    ifd = struct.unpack(bo + "I", d[4:8])[0]
    if ifd + 2 > len(d):
        return None
    (count,) = struct.unpack(bo + "H", d[ifd:ifd + 2])
    w = h = None
    for k in range(count):
        e = ifd + 2 + 12 * k
        if e + 12 > len(d):
            break
        tag, typ = struct.unpack(bo + "HH", d[e:e + 4])
        if tag in (256, 257):
            val = struct.unpack(bo + ("H" if typ == 3 else "I"), d[e + 8:e + (10 if typ == 3 else 12)])[0]
            if tag == 256:
                w = val
            else:
                h = val
    return (w, h) if w and h else None


def image_header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the header of an encoded PNG, JPEG, WebP, BMP, GIF or TIFF; ``None``
    when the format is not one of these or the header is cut short (the decoder then decides)."""
    for read in (_png, _jpeg, _webp, _bmp, _gif, _tiff):
        try:
            wh = read(data)
        except (struct.error, IndexError):
            wh = None
        if wh is not None:
            return int(wh[0]), int(wh[1])
    return None


def check_image_file(path: str | os.PathLike[str], what: str | None = None) -> tuple[int, int] | None:
    """Read only the header of the picture at ``path`` and refuse it when it is over the limits.
    Returns its (width, height) when the header said, else ``None``. An empty file is an
    :class:`InputError` (there is nothing to decode)."""
    p = Path(path)
    what = what or str(p)
    try:
        with open(p, "rb") as fh:
            head = fh.read(HEADER_BYTES)
    except OSError as e:
        raise InputError(f"{what}: cannot read ({e.strerror or e})") from None
    if not head:
        raise InputError(f"{what}: the file is empty (0 bytes)")
    wh = image_header_size(head)
    if wh is not None:
        check_input_size(*wh, what)
    return wh


__all__ = ["MAX_INFERENCE_SIZE", "MAX_INPUT_PIXELS", "MAX_INPUT_SIDE", "MIN_INFERENCE_SIZE",
           "check_image_file", "check_inference_size", "check_input_size", "describe_limits",
           "image_header_size"]
