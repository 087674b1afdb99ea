"""Cameras through OpenCV ``VideoCapture``, listed and remembered by name (no QtMultimedia).

Capture API per OS: DirectShow then Media Foundation on Windows, AVFoundation on macOS, V4L2 on
Linux. MJPG is requested first (most USB cameras reach 30 fps at 720p only in MJPG); the resolution,
fps and pixel format the driver really granted are read back and reported.

Camera names, and the OpenCV index each name maps to, come from the ``cv2-enumerate-cameras``
library (MIT), asked once per capture API in :func:`capture_apis` order; the first API that lists
any camera wins, and its index is the one that API's ``VideoCapture`` opens:

* **Windows**: the DirectShow device list (then Media Foundation's, if DirectShow lists none),
  read through the library's compiled helper with the same enumerations OpenCV's backends use
  (``CLSID_VideoInputDeviceCategory``; ``MFEnumDeviceSources``); the position is the index.
* **macOS**: AVFoundation's devices **sorted by unique ID**, as OpenCV's AVFoundation backend sorts
  them before taking ``devices[index]``. (The FFmpeg ``list_devices`` log parsed here before was in
  AVFoundation's unsorted order, so with two cameras the name could point at the other one.) The
  library asks a discovery session (built-in, external, Continuity cameras), OpenCV asks for video
  and muxed devices: for a device only one of them lists the indices would differ (not checked on
  a Mac here).
* **Linux**: ``/dev/videoN`` nodes whose driver reports video capture (``VIDIOC_QUERYCAP``; this
  drops a UVC camera's metadata node and memory-to-memory codec nodes), named from
  ``/sys/class/video4linux/videoN/name``; the index is N, which is what ``CAP_V4L2`` opens.
  The sysfs reader used before (``index`` attribute 0 = primary node) was not kept: it needs no
  device access, but it listed codec nodes as cameras and dropped a second capture node of one
  device, while the library's answer is the driver's own. Where the library cannot ask the driver
  (no access to the node) it lists every node, metadata nodes included (measured with fake nodes:
  ``HD Webcam``, ``HD Webcam (2)`` = the metadata node, and the second camera renamed
  ``HD Webcam (3)``). Only for such nodes the sysfs ``index`` attribute still drops secondary nodes,
  so remembered names do not change when access is granted; OpenCV cannot open them either, so
  that is logged with the fix (the ``video`` group).
* If the library is missing or fails, that is logged (a warning, once) and cameras are probed by
  index (0–3, ``probe=True`` only) and called ``Camera N``.

Equal names are told apart in index order: ``HD Webcam``, ``HD Webcam (2)``, …

A name that is not connected makes :meth:`CameraSource.open` raise :class:`SourceError`; a camera
that stops delivering frames makes :meth:`CameraSource.read` raise :class:`SourceLost`, and the
pipeline reopens it **by name** with back-off, so an unplugged camera that comes back on another
index is found again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from .base import FrameSource, SourceError, SourceLost

log = logging.getLogger(__name__)

PROBE_INDICES = 4
SYSFS_V4L = "/sys/class/video4linux"
_warned: set[str] = set()  # listing problems already logged as warnings (then at debug level)
_listing_problem = ""  # why names could not be read, for the "not connected" error


@dataclass(frozen=True)
class CameraInfo:
    """A connected camera: OpenCV ``index``, a display ``name`` (unique in a listing), the device
    ``path`` (``/dev/videoN``; the DirectShow device path; the macOS unique ID; may be empty), USB
    ``vid``/``pid`` where known, and ``api``, the ``cv2.CAP_*`` the index belongs to (0 = unknown)."""

    index: int
    name: str
    path: str = ""
    vid: int | None = None
    pid: int | None = None
    api: int = 0


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


def _warn_once(msg: str) -> None:
    level = logging.DEBUG if msg in _warned else logging.WARNING
    _warned.add(msg)
    log.log(level, "%s", msg)


def _enumerate(api: int) -> Sequence[Any]:
    """The library's entries for one ``cv2.CAP_*`` (objects with ``index``, ``name``, ``path``,
    ``vid``, ``pid``, ``backend``). Raises ImportError if ``cv2-enumerate-cameras`` is missing,
    NotImplementedError for an API it does not list on this OS, anything else it raises."""
    from cv2_enumerate_cameras import enumerate_cameras

    return enumerate_cameras(api)


def _secondary_node_without_access(path: str) -> bool:
    """True for a ``/dev/videoN`` we cannot open whose sysfs ``index`` is not 0 (e.g. a UVC
    metadata node): the library could not ask its driver, so it listed it as a camera."""
    m = re.fullmatch(r"/dev/(video\d+)", path)
    if not m or os.access(path, os.R_OK | os.W_OK):
        return False
    try:
        with open(os.path.join(SYSFS_V4L, m.group(1), "index"), encoding="ascii") as f:
            return f.read().strip() not in ("", "0")
    except (OSError, ValueError):
        return False


def _to_infos(entries: Sequence[Any], api: int) -> list[CameraInfo]:
    """Library entries → :class:`CameraInfo` sorted by index, one per index, names made unique."""
    by_index: dict[int, Any] = {}
    for e in entries:
        by_index.setdefault(int(e.index), e)
    found = sorted(by_index.items())
    found = [(i, e) for i, e in found if not _secondary_node_without_access(str(e.path or ""))]
    names = _unique([str(e.name or "").strip() or f"Camera {i}" for i, e in found])
    out = []
    for (i, e), name in zip(found, names):
        path = str(e.path or "")
        if path.startswith("/dev/") and not os.access(path, os.R_OK | os.W_OK):
            _warn_once(f"No access to {path} ({name}): OpenCV cannot open it; add your user to the "
                       "'video' group and log in again.")
        vid = int(e.vid) if e.vid is not None else None
        pid = int(e.pid) if e.pid is not None else None
        out.append(CameraInfo(i, name, path, vid, pid, api))
    return out


def list_named_cameras(platform: str | None = None) -> list[CameraInfo]:
    """Cameras by name from ``cv2-enumerate-cameras`` for the first API of
    :func:`capture_apis` that lists any (empty, with the reason logged, when none can)."""
    global _listing_problem
    problems = []
    for api, label in capture_apis(platform):
        try:
            entries = _enumerate(api)
        except ImportError as e:
            problems.append(f"cv2-enumerate-cameras is not installed ({e})")
            break
        except NotImplementedError:
            log.debug("cv2-enumerate-cameras does not list %s cameras here", label)
            continue
        except Exception as e:  # a driver or helper failure must not take the app down
            problems.append(f"listing {label} cameras failed: {type(e).__name__}: {e}")
            continue
        if entries:
            _listing_problem = ""
            return _to_infos(entries, api)
    _listing_problem = "; ".join(problems)
    if problems:
        _warn_once(f"Camera names cannot be read ({_listing_problem}); cameras are only found "
                   "by index (Camera 0, Camera 1, ...).")
    return []


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

    Cheap (sysfs/ioctl on Linux, the OS device list elsewhere; milliseconds). When no names can
    be read and ``probe=True``, indices 0–3 are opened briefly instead (slow: off the GUI thread).
    """
    cams = list_named_cameras()
    if cams:
        return cams
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
        self._listed_api = 0  # cv2.CAP_* of the listing the index came from (0: none)
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
                    self.name, self._listed_api = c.name, c.api
            return self.camera
        cams = list_cameras(probe=False)
        hit = find_camera(self.camera, cams)
        m = re.fullmatch(r"Camera (\d+)", self.camera)
        if hit is None and m and not cams:  # a name we made up where names cannot be read
            return int(m.group(1))
        if hit is None:
            avail = ", ".join(repr(c.name) for c in cams) or "none found"
            if not cams and _listing_problem:
                avail += f"; names cannot be read: {_listing_problem}"
            raise SourceError(f"Camera {self.camera!r} is not connected (cameras: {avail}).")
        self._listed_api = hit.api
        return hit.index

    def _open(self) -> None:
        self._listed_api = 0
        index = self._resolve_index()
        self.index = index
        errors = []
        # the API whose listing gave the index first (Windows: Media Foundation if DirectShow
        # listed nothing), then the others in their usual order
        apis = sorted(capture_apis(), key=lambda a: a[0] != self._listed_api)
        for api, label in apis:
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
