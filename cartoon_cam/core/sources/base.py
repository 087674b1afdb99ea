"""The frame source interface.

A :class:`FrameSource` is driven by **one** thread (the pipeline's capture thread):
``open() → read() → read() → … → close()``. ``read()`` blocks until the next frame is due (sources
without a clock of their own pace themselves to :attr:`FrameSource.fps`) and returns a C-contiguous
``uint8`` array of shape ``(H, W, 3)`` in **RGB** order. The only call allowed from another thread
is :meth:`FrameSource.interrupt`, which cuts a pacing wait short (used on stop and on source switch).

Failures:

* :class:`SourceLost` from ``read()``: the device went away (unplugged, file vanished); the pipeline
  closes the source and calls ``open()`` again with back-off until it works.
* :class:`SourceError` from ``open()``: the source cannot be opened now (busy, missing, unreadable).
* :class:`SourceEnded` from ``read()``: a finite source (``loop=False``) has no more frames.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod

import numpy as np

from ...errors import InputError


class SourceError(InputError):
    """A source cannot be opened or read; ``str(err)`` is a user-facing sentence."""


class SourceLost(SourceError):
    """A source that was working stopped delivering frames (reconnect with back-off)."""


class SourceEnded(SourceError):
    """A finite source reached its end."""


class Pacer:
    """Sleeps until the next frame is due at ``fps``; waits can be cut short by :meth:`wake`."""

    def __init__(self, fps: float) -> None:
        self.fps = float(fps)
        self._next: float | None = None
        self._wake = threading.Event()

    def reset(self) -> None:
        self._next = None
        self._wake.clear()

    def wake(self) -> None:
        self._wake.set()

    def woken(self, timeout: float = 0.0) -> bool:
        """Wait up to ``timeout`` s for :meth:`wake`; True when woken (the flag stays set, so a
        following :meth:`wait` returns at once too)."""
        return self._wake.wait(timeout)

    def wait(self) -> bool:
        """Block until the next tick; returns False when woken early (interrupted)."""
        period = 1.0 / self.fps if self.fps > 0 else 0.0
        now = time.perf_counter()
        if self._next is None or now - self._next > 2 * period:  # first frame, or fell behind: resync
            self._next = now
        delay = self._next - now
        self._next += period
        if delay > 0 and self._wake.wait(delay):
            self._wake.clear()
            return False
        return True


class FrameSource(ABC):
    """Produces uint8 RGB HxWx3 frames; see the module docstring for the threading contract.

    Subclasses set ``kind`` (``camera`` | ``video`` | ``image`` | ``demo`` | ``scripted``) and
    implement :meth:`_open`, :meth:`_read` and :meth:`_close`.
    """

    kind: str = "?"

    def __init__(self, name: str, fps: float = 30.0) -> None:
        self.name = name
        self._fps = float(fps)
        self._resolution: tuple[int, int] | None = None
        self._opened = False
        self._pacer = Pacer(self._fps)

    # -- public ------------------------------------------------------------------------------
    @property
    def fps(self) -> float:
        """Nominal frames per second (what a camera granted, a video's own rate, the demo's clock)."""
        return self._fps

    @property
    def resolution(self) -> tuple[int, int] | None:
        """(width, height) of the frames, once known (cameras: what the driver granted)."""
        return self._resolution

    @property
    def is_open(self) -> bool:
        return self._opened

    @property
    def spec(self) -> str:
        """A string :func:`cartoon_cam.core.sources.open_source` turns back into this source."""
        return self.name

    def open(self) -> None:
        """Open the device/file (may block for a while: call it off the GUI thread).

        Raises :class:`SourceError` with a user-facing reason.
        """
        if self._opened:
            return
        self._pacer.reset()
        self._open()
        self._opened = True

    def read(self) -> np.ndarray:
        """The next frame: uint8 RGB HxWx3, C-contiguous. Blocks until it is due."""
        if not self._opened:
            raise SourceError(f"{self.name}: read() before open()")
        img = self._read()
        if self._resolution is None or self._resolution != (img.shape[1], img.shape[0]):
            self._resolution = (img.shape[1], img.shape[0])
        return img

    def close(self) -> None:
        """Release the device/file. Idempotent."""
        if self._opened:
            self._opened = False
            self._close()

    def interrupt(self) -> None:
        """Cut a pacing wait in ``read()`` short (safe from any thread)."""
        self._pacer.wake()

    def describe(self) -> str:
        """One line for the status bar, e.g. ``camera "HD Webcam" 1280x720 @ 30 fps``."""
        res = f" {self._resolution[0]}x{self._resolution[1]}" if self._resolution else ""
        return f"{self.kind} {self.name!r}{res} @ {self._fps:.3g} fps"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"

    # -- subclass hooks -------------------------------------------------------------------------
    @abstractmethod
    def _open(self) -> None: ...

    @abstractmethod
    def _read(self) -> np.ndarray: ...

    def _close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (called once per successful open)."""
