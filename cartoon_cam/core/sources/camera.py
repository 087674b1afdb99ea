"""Cameras through OpenCV ``VideoCapture``, listed and remembered by name (no QtMultimedia).

Capture API per OS: DirectShow then Media Foundation on Windows, AVFoundation on macOS, V4L2 on
Linux. MJPG is requested first (most USB cameras reach 30 fps at 720p only in MJPG); the resolution,
fps and pixel format the driver really granted are read back and reported.

Listing cameras by name, and how a name maps to OpenCV's index:

* **Linux**: ``/sys/class/video4linux/videoN/name``; only nodes with ``index`` 0 (a UVC camera also
  exposes a metadata node). The index is N (``/dev/videoN``), which is what ``CAP_V4L2`` opens.
* **Windows**: the DirectShow device list, read from FFmpeg's ``dshow`` ``list_devices`` through
  PyAV. DirectShow enumerates in the same order for OpenCV's ``CAP_DSHOW``, so the position is the
  index (that is why DirectShow is tried before Media Foundation when opening by name).
* **macOS**: the AVFoundation device list from FFmpeg's ``avfoundation`` ``list_devices`` (the
  ``[N]`` it prints is the AVFoundation order OpenCV uses).
* Anywhere names cannot be read, cameras are probed by index (0–3) and called ``Camera N``.

A name that is not connected makes :meth:`CameraSource.open` raise :class:`SourceError`; a camera
that stops delivering frames makes :meth:`CameraSource.read` raise :class:`SourceLost`, and the
pipeline reopens it **by name** with back-off, so an unplugged camera that comes back on another
index is found again.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .base import FrameSource, SourceError, SourceLost

log = logging.getLogger(__name__)

SYSFS_V4L = Path("/sys/class/video4linux")
PROBE_INDICES = 4


@dataclass(frozen=True)
class CameraInfo:
    """A connected camera: OpenCV ``index``, a display ``name`` (unique in a listing) and, on Linux,
    the device ``path``."""

    index: int
    name: str
    path: str = ""


def capture_apis(platform: str | None = None) -> list[tuple[int, str]]:
    """OpenCV capture APIs to try, best first, as ``(cv2.CAP_*, label)``."""
    platform = platform or sys.platform
    if platform.startswith("win"):
        return [(cv2.CAP_DSHOW, "dshow"), (cv2.CAP_MSMF, "msmf")]
    if platform == "darwin":
        return [(cv2.CAP_AVFOUNDATION, "avfoundation")]
    if platform.startswith("linux"):
        return [(cv2.CAP_V4L2, "v4l2")]
    return [(cv2.CAP_ANY, "any")]


def _unique(names: list[str]) -> list[str]:
    """Disambiguate identical names: ``Cam``, ``Cam (2)``, …"""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return out


def list_linux_cameras(root: Path = SYSFS_V4L) -> list[CameraInfo]:
    """Capture nodes under ``root`` (``/sys/class/video4linux``), sorted by index."""
    found: list[tuple[int, str]] = []
    if not root.is_dir():
        return []
    for d in root.iterdir():
        m = re.fullmatch(r"video(\d+)", d.name)
        if not m:
            continue
        try:
            if (d / "index").is_file() and (d / "index").read_text().strip() not in ("", "0"):
                continue  # secondary node (metadata) of the same device
            name = (d / "name").read_text(errors="replace").strip() or d.name
        except OSError:
            continue
        found.append((int(m.group(1)), name))
    found.sort()
    names = _unique([n for _, n in found])
    return [CameraInfo(i, n, f"/dev/video{i}") for (i, _), n in zip(found, names)]


def _ffmpeg_device_names(fmt: str) -> list[str]:
    """Video device names from FFmpeg's ``list_devices`` for ``dshow`` / ``avfoundation``, in
    enumeration order (empty when PyAV or the input format is unavailable)."""
    try:
        import av
        import av.logging
    except ImportError:
        return []
    old = av.logging.get_level()
    lines: list[str] = []
    try:
        av.logging.set_level(av.logging.INFO)
        # list_devices always "fails" after printing the list
        with av.logging.Capture(local=True) as logs, contextlib.suppress(Exception):
            av.open("video=dummy" if fmt == "dshow" else "", format=fmt,
                        options={"list_devices": "true"})
        for entry in logs:
            msg = entry[-1] if isinstance(entry, tuple) else getattr(entry, "message", str(entry))
            lines.extend(str(msg).splitlines())
    except Exception as e:  # best effort
        log.debug("cannot list %s devices: %s", fmt, e)
        return []
    finally:
        with contextlib.suppress(Exception):
            av.logging.set_level(old)
    return parse_device_list(fmt, lines)


def parse_device_list(fmt: str, lines: list[str]) -> list[str]:
    """Parse FFmpeg's ``list_devices`` output (both the old sectioned and the new tagged layout)."""
    names: list[str] = []
    if fmt == "avfoundation":
        in_video = False
        for ln in lines:
            if "video devices" in ln.lower():
                in_video = True
                continue
            if "audio devices" in ln.lower():
                in_video = False
                continue
            m = re.search(r"\[(\d+)\]\s+(.+?)\s*$", ln)
            if in_video and m:
                names.append(m.group(2))
        return names
    section = None
    for ln in lines:
        low = ln.lower()
        if "directshow video devices" in low:
            section = "video"
            continue
        if "directshow audio devices" in low:
            section = "audio"
            continue
        if "alternative name" in low:
            continue
        m = re.search(r'"([^"]+)"(\s*\((video|audio|none)[^)]*\))?', ln)
        if not m:
            continue
        tag = m.group(3)
        if tag == "video" or (tag is None and section == "video"):
            names.append(m.group(1))
    return names


def _probe_indices(n: int = PROBE_INDICES) -> list[CameraInfo]:
    """Open indices 0..n-1 briefly; slow (up to seconds): call off the GUI thread."""
    out = []
    api = capture_apis()[0][0]
    for i in range(n):
        with _quiet_opencv():
            cap = cv2.VideoCapture(i, api)
        try:
            if cap.isOpened():
                out.append(CameraInfo(i, f"Camera {i}"))
        finally:
            cap.release()
    return out


def list_cameras(*, probe: bool = False) -> list[CameraInfo]:
    """Connected cameras by name (see the module docstring for where names come from).

    Cheap on Linux (sysfs); on Windows/macOS it asks FFmpeg (tens of milliseconds). With
    ``probe=True``, platforms whose names cannot be read are probed by index (slow).
    """
    if sys.platform.startswith("linux"):
        return list_linux_cameras()
    fmt = "dshow" if sys.platform.startswith("win") else "avfoundation" if sys.platform == "darwin" else ""
    names = _unique(_ffmpeg_device_names(fmt)) if fmt else []
    if names:
        return [CameraInfo(i, n) for i, n in enumerate(names)]
    return _probe_indices() if probe else []


def find_camera(name: str, cameras: list[CameraInfo]) -> CameraInfo | None:
    """The camera called ``name``: exact match, then case-insensitive, then substring."""
    for c in cameras:
        if c.name == name:
            return c
    low = name.lower()
    for c in cameras:
        if c.name.lower() == low:
            return c
    for c in cameras:
        if low in c.name.lower():
            return c
    return None


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own warnings (e.g. "can't open camera by index") for a moment."""
    try:
        import cv2.utils.logging as cvlog

        old = cvlog.getLogLevel()
        cvlog.setLogLevel(cvlog.LOG_LEVEL_ERROR)
    except (ImportError, AttributeError):
        yield
        return
    try:
        yield
    finally:
        cvlog.setLogLevel(old)


def _fourcc_str(v: float) -> str:
    i = int(v)
    s = "".join(chr((i >> (8 * k)) & 0xFF) for k in range(4))
    return s if s.isprintable() and s.strip() else "?"


class CameraSource(FrameSource):
    """A camera by index (``0``) or by name (``"HD Webcam"``), resolved again on every open.

    ``width``/``height``/``fps`` are requests; :attr:`granted` says what the driver gave. Frames are
    uint8 RGB HxWx3. ``read()`` raises :class:`SourceLost` after ``lost_timeout`` seconds without a
    frame.
    """

    kind = "camera"

    def __init__(self, camera: int | str, *, width: int | None = None, height: int | None = None,
                 fps: float | None = None, mjpg: bool = True, lost_timeout: float = 2.0,
                 open_timeout: float = 3.0) -> None:
        self.camera = camera
        name = camera if isinstance(camera, str) else f"Camera {camera}"
        super().__init__(name, fps or 30.0)
        self.req_width, self.req_height, self.req_fps = width, height, fps
        self.mjpg = mjpg
        self.lost_timeout = lost_timeout
        self.open_timeout = open_timeout
        self.granted: dict[str, object] = {}
        self.index: int | None = camera if isinstance(camera, int) else None
        self._cap: cv2.VideoCapture | None = None
        self._first: np.ndarray | None = None
        self._last_ok = 0.0

    @property
    def spec(self) -> str:
        return f"camera:{self.camera}"

    def _resolve_index(self) -> int:
        if isinstance(self.camera, int):
            for c in list_cameras(probe=False):  # learn its name, so it is remembered by name
                if c.index == self.camera:
                    self.name = c.name
            return self.camera
        cams = list_cameras(probe=False)
        hit = find_camera(self.camera, cams)
        m = re.fullmatch(r"Camera (\d+)", self.camera)
        if hit is None and m and not cams:  # a name we made up where names cannot be read
            return int(m.group(1))
        if hit is None:
            avail = ", ".join(repr(c.name) for c in cams) or "none found"
            raise SourceError(f"Camera {self.camera!r} is not connected (cameras: {avail}).")
        return hit.index

    def _open(self) -> None:
        index = self._resolve_index()
        self.index = index
        errors = []
        for api, label in capture_apis():
            with _quiet_opencv():  # a missing camera is reported by us, in one sentence
                cap = cv2.VideoCapture(index, api)
            if not cap.isOpened():
                cap.release()
                errors.append(label)
                continue
            self._configure(cap)
            try:
                first = self._first_frame(cap)
            except SourceError:
                cap.release()
                raise
            if first is None:
                cap.release()
                errors.append(f"{label}: opened but delivered no frame")
                continue
            self._cap, self._first = cap, first
            self._report(cap, label, first)
            self._last_ok = time.perf_counter()
            return
        raise SourceError(f"Cannot open {self.name} (index {index}; tried {', '.join(errors)}).")

    def _configure(self, cap: cv2.VideoCapture) -> None:
        if self.mjpg:
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*"MJPG"))  # before the size
        if self.req_width and self.req_height:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.req_width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.req_height)
        if self.req_fps:
            cap.set(cv2.CAP_PROP_FPS, self.req_fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # newest frame, not a queue of old ones

    def _first_frame(self, cap: cv2.VideoCapture) -> np.ndarray | None:
        """The first frame within ``open_timeout`` s (None if none came); :class:`SourceError` as
        soon as :meth:`interrupt` is called (stop, source switch)."""
        deadline = time.perf_counter() + self.open_timeout
        while time.perf_counter() < deadline:
            if self._pacer.woken():
                raise SourceError(f"Opening {self.name} was interrupted.")
            ok, bgr = cap.read()
            if ok and bgr is not None and bgr.size:
                return self._convert(bgr)
            self._pacer.woken(0.02)  # a sleep that interrupt() cuts short
        return None

    def _report(self, cap: cv2.VideoCapture, label: str, first: np.ndarray) -> None:
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        self.granted = {
            "width": first.shape[1], "height": first.shape[0], "fps": fps,
            "fourcc": _fourcc_str(cap.get(cv2.CAP_PROP_FOURCC)), "api": label,
        }
        if fps > 0:
            self._fps = float(fps)
            self._pacer.fps = self._fps
        log.info("%s: asked %sx%s@%s%s, granted %sx%s@%.3g %s via %s", self.name, self.req_width,
                 self.req_height, self.req_fps, " MJPG" if self.mjpg else "", first.shape[1],
                 first.shape[0], fps, self.granted["fourcc"], label)

    @staticmethod
    def _convert(bgr: np.ndarray) -> np.ndarray:
        if bgr.ndim == 2:
            return cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
        if bgr.shape[2] == 4:
            return cv2.cvtColor(bgr, cv2.COLOR_BGRA2RGB)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def _read(self) -> np.ndarray:
        if self._first is not None:
            img, self._first = self._first, None
            return img
        assert self._cap is not None
        while True:
            ok, bgr = self._cap.read()
            now = time.perf_counter()
            if ok and bgr is not None and bgr.size:
                self._last_ok = now
                return self._convert(bgr)
            if now - self._last_ok > self.lost_timeout:
                raise SourceLost(f"{self.name} stopped delivering frames (unplugged?)")
            if not self._pacer.wait():  # interrupted: let the pipeline look at its stop flag
                raise SourceLost(f"{self.name}: read interrupted")

    def _close(self) -> None:
        if self._cap is not None:
            self._cap.release()
        self._cap, self._first = None, None

    def describe(self) -> str:
        g = self.granted
        if not g:
            return super().describe()
        return f"camera {self.name!r} {g['width']}x{g['height']} @ {float(g['fps']):.3g} fps {g['fourcc']} ({g['api']})"
