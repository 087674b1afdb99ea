"""Rolling rates and latency percentiles for the live pipeline (thread-safe, no Qt).

Times are ``time.perf_counter()`` seconds; latencies are reported in milliseconds.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np


class RateMeter:
    """Events per second over the last ``window`` seconds (e.g. frames captured).

    ``rate()`` is 0 when fewer than two events fall inside the window, so a stalled stream reads 0
    instead of its last value.
    """

    def __init__(self, window: float = 2.0, maxlen: int = 1024) -> None:
        self.window = float(window)
        self._times: deque[float] = deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self.count = 0

    def mark(self, t: float | None = None) -> None:
        """Record one event at ``t`` (default: now)."""
        with self._lock:
            self._times.append(time.perf_counter() if t is None else t)
            self.count += 1

    def rate(self, now: float | None = None) -> float:
        now = time.perf_counter() if now is None else now
        with self._lock:
            while self._times and now - self._times[0] > self.window:
                self._times.popleft()
            n = len(self._times)
            if n < 2:
                return 0.0
            span = self._times[-1] - self._times[0]
            # The stream may have stopped: stretch the span to "now" once the gap exceeds a period.
            period = span / (n - 1)
            span = max(span, now - self._times[0] - period)
            return (n - 1) / span if span > 0 else 0.0

    def reset(self) -> None:
        with self._lock:
            self._times.clear()


class LatencyWindow:
    """The last ``maxlen`` latency samples (seconds in, milliseconds out) and their percentiles."""

    def __init__(self, maxlen: int = 240) -> None:
        self._samples: deque[float] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        with self._lock:
            self._samples.append(seconds * 1000.0)

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (0–100) in ms; ``nan`` when there are no samples."""
        with self._lock:
            if not self._samples:
                return float("nan")
            data = np.fromiter(self._samples, dtype=np.float64, count=len(self._samples))
        return float(np.percentile(data, q))

    def mean(self) -> float:
        with self._lock:
            if not self._samples:
                return float("nan")
            return float(sum(self._samples) / len(self._samples))

    def __len__(self) -> int:
        with self._lock:
            return len(self._samples)

    def reset(self) -> None:
        with self._lock:
            self._samples.clear()
