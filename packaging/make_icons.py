"""Draw the cartoon_cam icon (our own artwork) and write PNG / ICO / ICNS into resources/icons/.

    python packaging/make_icons.py
"""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np

OUT = Path(__file__).resolve().parents[1] / "resources" / "icons"


def draw(size: int = 1024) -> np.ndarray:
    """RGBA uint8 icon: a cartoon camera whose lens is a big shiny anime eye."""
    s = size
    y, x = np.mgrid[0:s, 0:s].astype(np.float32) / s
    top, bottom = np.array([255, 145, 77]), np.array([235, 64, 140])  # RGB orange → pink
    bg = (top * (1 - y[..., None]) + bottom * y[..., None]).astype(np.uint8)
    img = np.dstack([bg, np.zeros((s, s), np.uint8)])
    mask = np.zeros((s, s), np.uint8)
    r = int(0.2 * s)
    cv2.rectangle(mask, (r, 0), (s - r, s), 255, -1)
    cv2.rectangle(mask, (0, r), (s, s - r), 255, -1)
    for cx, cy in ((r, r), (s - r, r), (r, s - r), (s - r, s - r)):
        cv2.circle(mask, (cx, cy), r, 255, -1, cv2.LINE_AA)
    img[..., 3] = mask
    ink = (40, 24, 48, 255)
    white = (255, 255, 255, 255)
    lw = max(2, s // 40)
    # camera body and viewfinder bump
    cv2.rectangle(img, (int(0.34 * s), int(0.2 * s)), (int(0.62 * s), int(0.34 * s)), white, -1, cv2.LINE_AA)
    cv2.rectangle(img, (int(0.34 * s), int(0.2 * s)), (int(0.62 * s), int(0.34 * s)), ink, lw, cv2.LINE_AA)
    cv2.rectangle(img, (int(0.14 * s), int(0.3 * s)), (int(0.86 * s), int(0.8 * s)), white, -1, cv2.LINE_AA)
    cv2.rectangle(img, (int(0.14 * s), int(0.3 * s)), (int(0.86 * s), int(0.8 * s)), ink, lw, cv2.LINE_AA)
    # the lens: an anime eye (iris gradient, pupil, two highlights)
    c, rr = (int(0.5 * s), int(0.55 * s)), int(0.2 * s)
    cv2.circle(img, c, rr, ink, -1, cv2.LINE_AA)
    cv2.circle(img, c, int(rr * 0.82), (70, 150, 255, 255), -1, cv2.LINE_AA)
    cv2.circle(img, (c[0], c[1] + rr // 8), int(rr * 0.6), (40, 90, 210, 255), -1, cv2.LINE_AA)
    cv2.circle(img, c, int(rr * 0.38), ink, -1, cv2.LINE_AA)
    cv2.circle(img, (c[0] - rr // 3, c[1] - rr // 3), int(rr * 0.22), white, -1, cv2.LINE_AA)
    cv2.circle(img, (c[0] + rr // 3, c[1] + rr // 3), int(rr * 0.1), white, -1, cv2.LINE_AA)
    # record light
    cv2.circle(img, (int(0.76 * s), int(0.39 * s)), int(0.035 * s), (255, 70, 70, 255), -1, cv2.LINE_AA)
    img[..., 3] = np.minimum(img[..., 3], mask)
    return img


def png_bytes(rgba: np.ndarray, size: int) -> bytes:
    small = cv2.resize(rgba, (size, size), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".png", cv2.cvtColor(small, cv2.COLOR_RGBA2BGRA))
    assert ok
    return buf.tobytes()


def ico(rgba: np.ndarray, sizes: tuple[int, ...] = (16, 24, 32, 48, 64, 128, 256)) -> bytes:
    """Windows .ico with PNG-compressed entries (supported since Vista)."""
    pngs = [png_bytes(rgba, n) for n in sizes]
    head = struct.pack("<HHH", 0, 1, len(sizes))
    offset = 6 + 16 * len(sizes)
    entries = b""
    for n, data in zip(sizes, pngs):
        entries += struct.pack("<BBBBHHII", n % 256, n % 256, 0, 0, 1, 32, len(data), offset)
        offset += len(data)
    return head + entries + b"".join(pngs)


def icns(rgba: np.ndarray) -> bytes:
    """macOS .icns with PNG entries (ic07 128, ic08 256, ic09 512, ic10 1024)."""
    body = b""
    for tag, n in ((b"ic07", 128), (b"ic08", 256), (b"ic09", 512), (b"ic10", 1024)):
        data = png_bytes(rgba, n)
        body += tag + struct.pack(">I", len(data) + 8) + data
    return b"icns" + struct.pack(">I", len(body) + 8) + body


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    art = draw()
    (OUT / "cartoon_cam.png").write_bytes(png_bytes(art, 256))
    (OUT / "cartoon_cam.ico").write_bytes(ico(art))
    (OUT / "cartoon_cam.icns").write_bytes(icns(art))
    print(f"icons written to {OUT}")


if __name__ == "__main__":
    main()
