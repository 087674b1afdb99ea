"""Snapshots: PNG or JPEG pictures of a result, written atomically on a worker thread.

A snapshot shows the cartoon, the original, or both side by side (original left), at the source's
full resolution. Names are timestamped (``cartoon-cam_2024-05-01_12-34-56-123.png``) and never
overwrite an existing file; the file appears complete or not at all (temp file + ``os.replace``).

:class:`SnapshotWriter` is an :class:`~cartoon_cam.outputs.base.Output` whose :meth:`submit
<SnapshotWriter.submit>` means "save this one": a snapshot is a request, so none is dropped; they
are written in order on one worker thread, which finishes the queue even after ``close(wait=False)``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

from ..core.frames import ResultFrame
from ..errors import OutputError
from ..files import apply_umask
from ..paths import user_pictures_dir
from .base import OutputStats
from .compose import OutputEvent, check_layout, compose, describe_os_error

log = logging.getLogger(__name__)

FORMATS = ("png", "jpeg")
_EXT = {"png": ".png", "jpeg": ".jpg"}
_SUFFIX = {"cartoon": "", "original": "_original", "side_by_side": "_side-by-side"}


def check_format(fmt: str) -> str:
    fmt = {"jpg": "jpeg"}.get(fmt.lower(), fmt.lower())
    if fmt not in FORMATS:
        raise ValueError(f"unknown snapshot format {fmt!r} (choose from {', '.join(FORMATS)})")
    return fmt


def encode_image(rgb: np.ndarray, fmt: str = "png", jpeg_quality: int = 92) -> bytes:
    """Encode uint8 RGB ``(H, W, 3)`` as PNG or JPEG bytes."""
    fmt = check_format(fmt)
    bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
    params = ([cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)] if fmt == "jpeg"
              else [cv2.IMWRITE_PNG_COMPRESSION, 3])
    ok, buf = cv2.imencode(_EXT[fmt], bgr, params)
    if not ok:  # pragma: no cover - OpenCV only fails on invalid input
        raise OutputError(f"could not encode the snapshot as {fmt.upper()}")
    return buf.tobytes()


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder and ``os.replace``."""
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        apply_umask(tmp)  # mkstemp made it 0600
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def snapshot_name(when: datetime, layout: str = "cartoon", fmt: str = "png",
                  prefix: str = "cartoon-cam") -> str:
    """``<prefix>_YYYY-MM-DD_HH-MM-SS-mmm[_original|_side-by-side].<png|jpg>``."""
    stamp = when.strftime("%Y-%m-%d_%H-%M-%S-") + f"{when.microsecond // 1000:03d}"
    return f"{prefix}_{stamp}{_SUFFIX[check_layout(layout)]}{_EXT[check_format(fmt)]}"


class SnapshotWriter:
    """Save results as pictures in ``folder`` (default: the user's Pictures/cartoon_cam).

    :meth:`save` returns at once (a :class:`Future` of the written path; its exception is an
    :class:`OutputError`); :meth:`save_now` writes synchronously. ``on_event(OutputEvent)`` is called
    on the worker thread for every snapshot saved or failed.
    """

    name = "snapshot"

    def __init__(self, folder: str | Path | None = None, *, fmt: str = "png",
                 layout: str = "cartoon", jpeg_quality: int = 92, prefix: str = "cartoon-cam",
                 on_event: Callable[[OutputEvent], None] | None = None):
        self.folder = Path(folder) if folder else user_pictures_dir()
        self.fmt = check_format(fmt)
        self.layout = check_layout(layout)
        self.jpeg_quality = int(jpeg_quality)
        self.prefix = prefix
        self._on_event = on_event
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.saved = 0
        self.failed = 0

    # ------------------------------------------------------------------ the Output contract
    def open(self) -> SnapshotWriter:
        """Nothing to open: the folder is made with the first snapshot."""
        return self

    def submit(self, result: ResultFrame) -> bool:
        """Save a snapshot of ``result`` (queued; never blocks)."""
        self.save(result)
        return True

    @property
    def active(self) -> bool:
        return not self._closed

    def stats(self) -> OutputStats:
        return OutputStats(self.saved, 0, 0, None, "running" if self.active else "stopped")

    def save(self, result: ResultFrame, *, layout: str | None = None,
             fmt: str | None = None) -> Future[Path]:
        """Queue a snapshot of ``result``; never blocks on I/O."""
        when = datetime.now()
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cartoon_cam-snapshot")
            return self._pool.submit(self._save, result, when, layout, fmt, True)

    def save_now(self, result: ResultFrame, *, layout: str | None = None,
                 fmt: str | None = None) -> Path:
        """Write a snapshot of ``result`` now and return its path (raises :class:`OutputError`)."""
        return self._save(result, datetime.now(), layout, fmt, False)

    def close(self, timeout: float | None = None, *, wait: bool = True) -> None:
        """Finish queued snapshots (waiting for them when ``wait``) and stop the worker; the worker
        writes what is queued either way. Idempotent."""
        self._closed = True
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait)

    def _save(self, result: ResultFrame, when: datetime, layout: str | None, fmt: str | None,
              notify: bool) -> Path:
        layout = check_layout(layout or self.layout)
        fmt = check_format(fmt or self.fmt)
        folder = self.folder
        path = folder / snapshot_name(when, layout, fmt, self.prefix)
        try:
            data = encode_image(compose(result, layout), fmt, self.jpeg_quality)
            folder.mkdir(parents=True, exist_ok=True)
            n = 1
            while path.exists():
                n += 1
                path = folder / f"{Path(snapshot_name(when, layout, fmt, self.prefix)).stem}-{n}{_EXT[fmt]}"
            write_atomic(path, data)
        except OSError as e:
            err = OutputError(f"Could not save the snapshot: {describe_os_error(e, path)}.")
            self.failed += 1
            if notify:
                self._emit("error", str(err), path)
            raise err from e
        self.saved += 1
        if notify:
            self._emit("saved", f"Saved {path.name}", path)
        return path

    def _emit(self, kind: str, message: str, path: Path) -> None:
        if self._on_event is None:
            if kind == "error":
                log.error("%s", message)
            return
        try:
            self._on_event(OutputEvent("snapshot", kind, message, path))
        except Exception:
            log.exception("snapshot event handler failed")
