"""A deterministic source for tests and benchmarks that can fail on cue.

Frame ``n`` (counted over the source's whole life, across reconnects) is uint8 RGB HxWx3 with
R = ``n % 256``, G = ``(n // 256) % 256`` everywhere (see :func:`frame_number`) and B a left→right
ramp 0..255 (so mirroring is visible).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import numpy as np

from .base import FrameSource, SourceEnded, SourceError, SourceLost


def frame_number(img: np.ndarray) -> int:
    """The ``n`` a :class:`ScriptedSource` frame encodes (mod 65536)."""
    return int(img[0, 0, 0]) + 256 * int(img[0, 0, 1])


class ScriptedSource(FrameSource):
    """Synthetic frames at ``fps`` (``None``: as fast as asked), with scripted failures.

    * ``open_failures``: the first N ``open()`` calls raise :class:`SourceError` (``-1``: all do);
    * ``fail_at``: frame numbers at which ``read()`` raises :class:`SourceLost` instead; after each,
      the next ``reopen_failures`` opens fail before one succeeds (an unplug that lasts a while);
    * ``limit``: after that many frames ``read()`` raises :class:`SourceEnded`.

    Counters (``opens``, ``open_attempts``, ``closes``, ``produced``) let tests check the lifecycle.
    """

    kind = "scripted"

    def __init__(self, width: int = 64, height: int = 48, fps: float | None = 200.0, *,
                 fail_at: Iterable[int] = (), reopen_failures: int = 1, open_failures: int = 0,
                 limit: int | None = None, name: str = "scripted") -> None:
        super().__init__(name, fps or 0.0)
        self.width, self.height = int(width), int(height)
        self.fail_at = set(fail_at)
        self.reopen_failures = reopen_failures
        self.open_failures = open_failures
        self.limit = limit
        self.opens = self.open_attempts = self.closes = self.produced = 0
        self._pending_open_failures = 0
        self._ramp = np.linspace(0, 255, self.width).astype(np.uint8)
        self.opened_event = threading.Event()

    @property
    def spec(self) -> str:
        return f"scripted:{self.name}"

    def _open(self) -> None:
        self.open_attempts += 1
        if self.open_failures < 0 or self.open_attempts <= self.open_failures:
            raise SourceError(f"{self.name} cannot be opened (scripted failure {self.open_attempts})")
        if self._pending_open_failures > 0:
            self._pending_open_failures -= 1
            raise SourceError(f"{self.name} is still unplugged (scripted)")
        self.opens += 1
        self._resolution = (self.width, self.height)
        self.opened_event.set()

    def _read(self) -> np.ndarray:
        if self.fps > 0:
            self._pacer.wait()
        n = self.produced
        if self.limit is not None and n >= self.limit:
            raise SourceEnded(f"{self.name} ended after {n} frames")
        if n in self.fail_at:
            self.fail_at.discard(n)
            self._pending_open_failures = self.reopen_failures
            raise SourceLost(f"{self.name} lost (scripted at frame {n})")
        self.produced += 1
        img = np.empty((self.height, self.width, 3), np.uint8)
        img[..., 0] = n % 256
        img[..., 1] = (n // 256) % 256
        img[..., 2] = self._ramp
        return img

    def _close(self) -> None:
        self.closes += 1
