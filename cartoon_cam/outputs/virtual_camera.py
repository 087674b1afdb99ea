"""Send results to a virtual camera (OBS Virtual Camera, Unity Capture, v4l2loopback) on a thread.

An :class:`~cartoon_cam.outputs.base.Output` whose queue holds one: the sender keeps only the
**newest** result (:meth:`VirtualCamera.submit` overwrites a slot and counts the one it replaced
unsent as dropped; it never blocks, and may be called before :meth:`VirtualCamera.open`), composes the cartoon or original | cartoon, letterboxes it into a fixed output size
(default 1280x720, black bars, aspect kept), mirrors it iff its own ``mirror`` is on, whatever the
preview's mirror (frames mirrored at capture say so in ``Frame.mirrored`` and are flipped back) and
sends it at the source's frame rate, repeating the last picture when no new one has arrived.

The camera itself sits behind :class:`CameraBackend` (``send(rgb)``, ``close()``, ``device``), so
tests inject a fake. The default factory uses pyvirtualcam — GPL-2.0 and the optional extra
``vcam`` — imported only when a camera is opened. When it is missing, or no virtual-camera driver is
installed, opening fails with a :class:`VirtualCameraError` whose message gives setup steps for the
running OS; nothing else stops.
"""

from __future__ import annotations

import logging
import platform
import threading
import time
from collections.abc import Callable
from typing import Protocol

import cv2
import numpy as np

from ..core.frames import ResultFrame
from ..errors import OutputError, first_line
from .base import OutputStats
from .compose import Letterbox, OutputEvent, check_layout, resize_to

log = logging.getLogger(__name__)

DEFAULT_SIZE = (1280, 720)


class VirtualCameraError(OutputError):
    """The virtual camera can't be opened or fed (not installed, no driver, device gone)."""


class CameraBackend(Protocol):
    """What the sender needs from a virtual camera; ``pyvirtualcam.Camera`` fits it.

    ``send`` takes a C-contiguous uint8 RGB array of shape ``(height, width, 3)``.
    """

    @property
    def device(self) -> str: ...

    def send(self, frame: np.ndarray) -> None: ...

    def close(self) -> None: ...


#: ``factory(width, height, fps) -> CameraBackend``; raises :class:`VirtualCameraError`.
CameraFactory = Callable[[int, int, float], CameraBackend]


def driver_help(system: str | None = None) -> str:
    """Setup steps for a virtual-camera driver on ``system`` (``platform.system()`` by default)."""
    system = system or platform.system()
    if system == "Linux":
        return ("Install v4l2loopback and load it, e.g. `sudo apt install v4l2loopback-dkms` then "
                "`sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=\"Cartoon Cam\"`; "
                "then turn the virtual camera on again.")
    if system == "Windows":
        return ("Install OBS Studio 26 or newer (its OBS Virtual Camera is registered on install) "
                "or Unity Capture (github.com/schellingb/UnityCapture, run Install.bat); "
                "then turn the virtual camera on again.")
    if system == "Darwin":
        return ("Install OBS Studio 26.1 or newer, start OBS once, click \"Start Virtual Camera\" "
                "(allow the system extension if macOS asks), then \"Stop Virtual Camera\" and quit "
                "OBS; then turn the virtual camera on again.")
    return f"Virtual cameras are not supported on {system or 'this system'}."


def no_driver_message(reason: str = "", system: str | None = None) -> str:
    """The full user-facing message when no virtual camera can be opened."""
    detail = f" ({first_line(reason)})" if reason.strip() else ""
    return f"No virtual camera is available{detail}. {driver_help(system)}"


def pyvirtualcam_factory(backend: str | None = None, device: str | None = None) -> CameraFactory:
    """A factory that opens a pyvirtualcam camera (RGB frames) on ``backend`` / ``device``."""

    def open_camera(width: int, height: int, fps: float) -> CameraBackend:
        try:
            import pyvirtualcam  # GPL-2.0, optional extra "vcam"
        except ImportError as e:
            raise VirtualCameraError(
                "No virtual camera is available: it needs the optional 'pyvirtualcam' package "
                "(GPL-2.0), `pip install 'cartoon-cam[vcam]'`, and a driver. " + driver_help()) from e
        try:
            return pyvirtualcam.Camera(width, height, fps, fmt=pyvirtualcam.PixelFormat.RGB,
                                       backend=backend, device=device)
        except Exception as e:  # RuntimeError listing every backend's reason, or KeyError(backend)
            raise VirtualCameraError(no_driver_message(str(e))) from e

    return open_camera


class VirtualCamera:
    """Feed a virtual camera from a thread of its own.

    ``width`` x ``height``: the camera's fixed size. ``fps``: the send rate (the source's frame rate;
    30 when unknown). ``layout``: ``cartoon`` | ``original`` | ``side_by_side``. ``mirror``: the
    picture (each panel) is sent mirrored left↔right, independently of the preview (a result already
    mirrored at capture is flipped back when ``mirror`` is off). ``camera_factory`` opens the camera (default: pyvirtualcam).
    ``on_event(OutputEvent)`` is called on the sender thread. ``layout``, ``mirror`` and ``fps`` may
    be changed while running.
    """

    name = "virtual_camera"

    def __init__(self, *, width: int = DEFAULT_SIZE[0], height: int = DEFAULT_SIZE[1],
                 fps: float | None = None, layout: str = "cartoon", mirror: bool = False,
                 camera_factory: CameraFactory | None = None,
                 on_event: Callable[[OutputEvent], None] | None = None):
        if width < 2 or height < 2:
            raise ValueError(f"bad virtual camera size {width}x{height}")
        self.width, self.height = int(width), int(height)
        self.fps = fps
        self.layout = check_layout(layout)
        self.mirror = bool(mirror)
        self._factory = camera_factory or pyvirtualcam_factory()
        self._on_event = on_event
        self._lock = threading.Lock()
        self._latest: ResultFrame | None = None
        self._stop = threading.Event()
        self._opened = threading.Event()
        self._thread: threading.Thread | None = None
        self.device: str | None = None
        self.error: VirtualCameraError | None = None
        self.frames_sent = 0
        self.frames_composed = 0
        self.frames_dropped = 0
        self._fresh = False  # the slot holds a result not yet rendered

    @property
    def fps(self) -> float:
        return self._fps

    @fps.setter
    def fps(self, value: float | None) -> None:
        self._fps = float(value) if value and value > 0 else 30.0

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self.error is None

    @property
    def active(self) -> bool:
        return self.is_running and not self._stop.is_set()

    def stats(self) -> OutputStats:
        state = ("failed" if self.error is not None else "running" if self.active
                 else "stopped" if self._thread is not None else "idle")
        return OutputStats(self.frames_sent, self.frames_dropped, int(self._fresh), None, state)

    def submit(self, result: ResultFrame) -> bool:
        """Make ``result`` the picture to send next (replaces any unsent one, counted as dropped;
        never blocks). False once stopped."""
        with self._lock:
            if self._stop.is_set():
                return False
            if self._fresh:
                self.frames_dropped += 1
            self._latest, self._fresh = result, True
        return True

    def open(self) -> VirtualCamera:
        """Start the sender thread; it opens the camera (see :meth:`wait_open`; a failure comes back
        as an ``error`` event)."""
        return self.start()

    def start(self) -> VirtualCamera:
        """Start the sender thread; it opens the camera (see :meth:`wait_open`)."""
        if self._thread is not None:
            raise RuntimeError("a VirtualCamera can be started once")
        self._thread = threading.Thread(target=self._run, name="cartoon_cam-virtual-camera", daemon=True)
        self._thread.start()
        return self

    def wait_open(self, timeout: float = 10.0) -> bool:
        """Wait until the camera is open: True, or raise :class:`VirtualCameraError`; False on
        timeout."""
        if not self._opened.wait(timeout):
            return False
        if self.error is not None:
            raise self.error
        return True

    def stop(self, timeout: float = 2.0) -> None:
        """Stop sending and close the camera. Idempotent."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    close = stop

    # ------------------------------------------------------------------ sender thread
    def _emit(self, kind: str, message: str) -> None:
        if self._on_event is None:
            if kind == "error":
                log.warning("%s", message)
            return
        try:
            self._on_event(OutputEvent("virtual_camera", kind, message))
        except Exception:
            log.exception("virtual camera event handler failed")

    def render(self, result: ResultFrame) -> np.ndarray:
        """uint8 RGB ``(height, width, 3)``: the result's picture letterboxed into the camera.

        Same picture as ``letterbox(compose(result, layout, flip))`` with ``flip = mirror !=
        result.mirrored``, but each panel is scaled straight into the canvas (no full-size
        side-by-side copy)."""
        src = result.source.image
        h, w = src.shape[:2]
        panels = {"cartoon": [result.cartoon], "original": [src],
                  "side_by_side": [src, result.cartoon]}[self.layout]
        lb = Letterbox.fit(w * len(panels), h, self.width, self.height)
        pw = lb.w // len(panels)
        out = np.zeros((self.height, self.width, 3), np.uint8)
        flip = self.mirror != result.mirrored
        for i, panel in enumerate(panels):
            scaled = resize_to(panel, pw, lb.h)
            if flip:
                scaled = cv2.flip(scaled, 1)
            out[lb.y : lb.y + lb.h, lb.x + i * pw : lb.x + (i + 1) * pw] = scaled
        self.frames_composed += 1
        return out

    def _run(self) -> None:
        try:
            cam = self._factory(self.width, self.height, self.fps)
        except Exception as e:
            err = e if isinstance(e, VirtualCameraError) else VirtualCameraError(no_driver_message(str(e)))
            self.error = err
            self._opened.set()
            self._emit("error", str(err))
            return
        self.device = str(getattr(cam, "device", "virtual camera"))
        self._opened.set()
        self._emit("started", f"Virtual camera on: {self.device} ({self.width}x{self.height}).")
        try:
            self._loop(cam)
        except Exception as e:  # device vanished, driver error
            self.error = VirtualCameraError(f"The virtual camera stopped: {e}")
            self._emit("error", str(self.error))
        finally:
            try:
                cam.close()
            except Exception:
                log.debug("closing the virtual camera failed", exc_info=True)
        if self.error is None:
            self._emit("stopped", "Virtual camera off.")

    def _loop(self, cam: CameraBackend) -> None:
        picture = np.zeros((self.height, self.width, 3), np.uint8)  # black until the first result
        sent: ResultFrame | None = None
        state = (self.layout, self.mirror)
        next_t = time.perf_counter()
        while not self._stop.is_set():
            with self._lock:
                latest, self._fresh = self._latest, False
            if latest is not None and (latest is not sent or state != (self.layout, self.mirror)):
                state = (self.layout, self.mirror)
                picture = self.render(latest)
                sent = latest
            cam.send(picture)
            self.frames_sent += 1
            period = 1.0 / self.fps
            next_t += period
            delay = next_t - time.perf_counter()
            if delay < -period:  # fell behind by more than a frame: don't burst, restart the clock
                next_t = time.perf_counter()
            elif delay > 0:
                self._stop.wait(delay)
