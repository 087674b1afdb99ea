"""Dataset preparation: the AnimeGAN edge-smoothed style set, resizing/cropping, layout checks.

Edge smoothing follows AnimeGANv2 ``edge_smooth.py`` (credited there to CartoonGAN): Canny(100, 200)
on the grayscale image, edges dilated with a 5x5 ones kernel, and every pixel under the dilated
edges replaced by the 5x5 Gaussian-weighted average (``getGaussianKernel(5, 0)`` outer product) of
the reflect-padded image, truncated to uint8. :func:`edge_smooth` is a vectorised version that is
bit-identical to the per-pixel loop (:func:`edge_smooth_reference`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def list_images(folder: str | Path, *, recursive: bool = False) -> list[Path]:
    """Image files in ``folder`` (sorted, so the order is the same on every machine)."""
    folder = Path(folder)
    it: Iterable[Path] = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in it if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


class ImageReadError(OSError):
    """An image file that OpenCV cannot decode (a user error: fix or remove the file)."""


def read_bgr(path: str | Path) -> np.ndarray:
    """Read an image as uint8 HxWx3 **BGR** (OpenCV order); ``ImageReadError`` if undecodable."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ImageReadError(f"cannot read image {path}")
    return img


def readable_images(files: Sequence[Path], what: str = "images") -> list[Path]:
    """``files`` without those OpenCV cannot decode (checked at 1/8 scale, in threads), logging a
    warning with their count and first names. Keeps the order."""
    def ok(f: Path) -> bool:
        return cv2.imread(str(f), cv2.IMREAD_REDUCED_GRAYSCALE_8) is not None

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        good = list(pool.map(ok, files))
    bad = [f for f, g in zip(files, good, strict=True) if not g]
    if bad:
        log.warning("skipping %d unreadable %s: %s%s", len(bad), what, ", ".join(str(f) for f in bad[:5]),
                    " ..." if len(bad) > 5 else "")
    return [f for f, g in zip(files, good, strict=True) if g]


def read_rgb(path: str | Path) -> np.ndarray:
    """Read an image as C-contiguous uint8 HxWx3 **RGB**."""
    return np.ascontiguousarray(read_bgr(path)[:, :, ::-1])


def write_image(path: str | Path, bgr: np.ndarray) -> None:
    """Write a uint8 HxWx3 **BGR** image (JPEG quality 95 / PNG by suffix)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if path.suffix.lower() in (".jpg", ".jpeg") else []
    if not cv2.imwrite(str(path), bgr, params):
        raise OSError(f"cannot write image {path}")


def _gauss5() -> np.ndarray:
    g = cv2.getGaussianKernel(5, 0)
    return g * g.transpose(1, 0)  # float64 5x5, as in edge_smooth.py


def edge_mask(bgr: np.ndarray) -> np.ndarray:
    """Dilated Canny(100, 200) edges of a uint8 BGR image: bool HxW."""
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    edges = cv2.Canny(gray, 100, 200)
    return cv2.dilate(edges, np.ones((5, 5), np.uint8)) != 0


def edge_smooth(bgr: np.ndarray) -> np.ndarray:
    """Edge-smoothed copy of a uint8 HxWx3 BGR image (same shape and dtype).

    Vectorised: a float64 ``filter2D`` with ``BORDER_REFLECT_101`` (== ``np.pad(mode='reflect')``),
    truncated to uint8 like the original's float-into-uint8 assignment, applied under the mask.
    """
    if bgr.dtype != np.uint8 or bgr.ndim != 3 or bgr.shape[2] != 3:
        raise ValueError(f"expected uint8 HxWx3, got {bgr.dtype} {bgr.shape}")
    mask = edge_mask(bgr)
    blur = cv2.filter2D(bgr.astype(np.float64), -1, _gauss5(), borderType=cv2.BORDER_REFLECT_101)
    blur = np.clip(blur, 0, 255).astype(np.uint8)  # truncation toward zero, as numpy assignment does
    return np.where(mask[:, :, None], blur, bgr)


def edge_smooth_reference(bgr: np.ndarray) -> np.ndarray:
    """The per-pixel loop of AnimeGANv2 ``edge_smooth.py`` (slow; for tests)."""
    gauss = _gauss5()
    mask = edge_mask(bgr)
    pad = np.pad(bgr, ((2, 2), (2, 2), (0, 0)), mode="reflect")
    out = np.copy(bgr)
    ys, xs = np.where(mask)
    for y, x in zip(ys, xs, strict=True):
        for c in range(3):
            out[y, x, c] = np.sum(np.multiply(pad[y : y + 5, x : x + 5, c], gauss))
    return out


def resize_crop(img: np.ndarray, size: int) -> np.ndarray:
    """Resize so the short side is ``size`` (area filter when shrinking), then centre-crop
    ``size`` x ``size``. Any channel order; uint8 HxWx3 in and out."""
    h, w = img.shape[:2]
    s = size / min(h, w)
    nh, nw = max(size, round(h * s)), max(size, round(w * s))
    if (nh, nw) != (h, w):
        interp = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
        img = cv2.resize(img, (nw, nh), interpolation=interp)
    y0, x0 = (nh - size) // 2, (nw - size) // 2
    return np.ascontiguousarray(img[y0 : y0 + size, x0 : x0 + size])


def check_layout(root: str | Path, style: str, *, verify: bool = False) -> dict[str, list[Path]]:
    """Validate an AnimeGAN-layout dataset; returns its image lists (``photo``, ``style``,
    ``smooth``, ``val``). Raises ``FileNotFoundError`` with a message saying what to do.
    ``verify``: decode every image and leave out (with a warning) those that cannot be read."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {root}")
    need = {"photo": root / "train_photo", "style": root / style / "style", "smooth": root / style / "smooth"}
    out: dict[str, list[Path]] = {}
    for key, folder in need.items():
        files = list_images(folder) if folder.is_dir() else []
        if verify and files:
            files = readable_images(files, f"images in {folder}")
        if not files:
            hint = (
                f" (run: cartoon-cam-train prep --data {root} --style-name {style})" if key == "smooth" else ""
            )
            styles = sorted(p.name for p in root.iterdir() if (p / "style").is_dir())
            known = f"; styles found: {', '.join(styles)}" if styles and key != "photo" else ""
            raise FileNotFoundError(f"no {'readable ' if verify else ''}images in {folder}{hint}{known}")
        out[key] = files
    val = root / "val"
    out["val"] = list_images(val) if val.is_dir() else []
    if verify and out["val"]:
        out["val"] = readable_images(out["val"], f"images in {val}")
    return out


def prep_dataset(
    root: str | Path,
    style: str,
    *,
    style_src: str | Path | None = None,
    photo_src: str | Path | None = None,
    size: int = 0,
    overwrite: bool = False,
) -> dict[str, int]:
    """Build/complete an AnimeGAN-layout dataset under ``root``.

    * ``style_src``: anime frames copied into ``root/<style>/style`` (resized/cropped to ``size``
      when ``size > 0``); ``photo_src``: photos copied into ``root/train_photo`` likewise.
    * Always (re)makes ``root/<style>/smooth`` from ``root/<style>/style`` (same file names),
      skipping existing files unless ``overwrite``.

    Returns counts of written files per folder.
    """
    root = Path(root)
    counts = {"style": 0, "photo": 0, "smooth": 0}
    style_dir, smooth_dir = root / style / "style", root / style / "smooth"
    for key, src, dst in (("style", style_src, style_dir), ("photo", photo_src, root / "train_photo")):
        if src is None:
            continue
        files = list_images(src, recursive=True)
        if not files:
            raise FileNotFoundError(f"no images found in {src}")
        for i, f in enumerate(files):
            out = dst / f"{i:06d}{'.jpg' if f.suffix.lower() in ('.jpg', '.jpeg') else '.png'}"
            if out.exists() and not overwrite:
                continue
            img = read_bgr(f)
            write_image(out, resize_crop(img, size) if size > 0 else img)
            counts[key] += 1
    if not style_dir.is_dir() or not (styles := list_images(style_dir)):
        raise FileNotFoundError(f"no style images in {style_dir} (pass --style-src DIR to import some)")
    for f in styles:
        out = smooth_dir / f.name
        if out.exists() and not overwrite:
            continue
        img = read_bgr(f)
        if size > 0 and img.shape[:2] != (size, size):
            img = resize_crop(img, size)
        write_image(out, edge_smooth(img))
        counts["smooth"] += 1
    log.info("prep %s/%s: %s", root, style, counts)
    return counts
