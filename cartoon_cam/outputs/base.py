"""What every output is (:class:`Output`), and the one threading and drop policy they share.

An output takes the pipeline's results and sends them somewhere: a file (recorder), a device
(virtual camera), pictures (snapshots), the network (stream). Each one:

* is built with its settings and an ``on_event(OutputEvent)`` callback, then :meth:`Output.open`
  ed (may block briefly: it creates a file or checks a URL; call it off the GUI thread) — raising
  :class:`~cartoon_cam.errors.OutputError` when it cannot start;
* takes results through :meth:`Output.submit` from any thread. **Submit never blocks**: results
  wait in a bounded queue for the output's own worker thread; when the queue is full the *oldest*
  waiting result is dropped and counted (``OutputStats.dropped``). The virtual camera's queue holds
  one (the newest picture wins); the recorder's and the stream's a second or so of video;
* reports what happens as :class:`~cartoon_cam.outputs.compose.OutputEvent` s, called on its worker
  thread (a GUI marshals them itself);
* is :meth:`Output.close` d (idempotent): what is queued is finished, the file or connection
  finalised, waiting at most ``timeout`` seconds.

:class:`ThreadedOutput` implements that contract once (queue, drop-oldest, worker thread, counts,
events); an output supplies what it does with one item. The outputs the app offers are listed once,
in :mod:`cartoon_cam.outputs.registry`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar, runtime_checkable

from ..core.frames import ResultFrame
from .compose import OutputEvent

log = logging.getLogger(__name__)

T = TypeVar("T")

EventHandler = Callable[[OutputEvent], None]


@dataclass(frozen=True)
class OutputStats:
    """A snapshot of an output's counters (cheap; safe to read from any thread).

    ``frames``: results written / sent. ``dropped``: results the bounded queue dropped (the output
    could not keep up, or had nowhere to send them). ``queued``: results waiting now.
    ``bitrate_bps``: bits per second sent over the last few seconds (encoders only, else None).
    ``state``: ``"idle"`` (not opened), ``"running"``, ``"reconnecting"`` (a stream waiting to get
    its server back), ``"stopped"`` or ``"failed"``.
    """

    frames: int = 0
    dropped: int = 0
    queued: int = 0
    bitrate_bps: float | None = None
    state: str = "idle"


@runtime_checkable
class Output(Protocol):
    """The interface the window and ``cartoon-cam live`` drive every output through."""

    #: ``OutputEvent.output`` of this output's events: "recorder", "virtual_camera", "snapshot", …
    name: str

    def open(self) -> Output:
        """Start; raises :class:`~cartoon_cam.errors.OutputError` when the output cannot start.
        May block briefly (not on a GUI thread)."""
        ...

    def submit(self, result: ResultFrame) -> bool:
        """Hand over a result; never blocks. False when the output is not running."""
        ...

    def close(self, timeout: float = 10.0) -> object:
        """Finish what is queued and stop, waiting at most ``timeout`` s. Idempotent."""
        ...

    @property
    def active(self) -> bool:
        """True from a successful :meth:`open` until it stops (closed or failed)."""
        ...

    def stats(self) -> OutputStats:
        ...


class RateMeter:
    """Bits per second over a sliding window of ``window_s`` seconds (thread-safe)."""

    def __init__(self, window_s: float = 3.0):
        self.window_s = float(window_s)
        self._samples: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()
        self.total_bytes = 0

    def add(self, nbytes: int, now: float | None = None) -> None:
        now = time.perf_counter() if now is None else now
        with self._lock:
            self._samples.append((now, int(nbytes)))
            self.total_bytes += int(nbytes)
            self._trim(now)

    def _trim(self, now: float) -> None:
        while self._samples and self._samples[0][0] < now - self.window_s:
            self._samples.popleft()

    def bps(self, now: float | None = None) -> float:
        """Average bit/s over the window (0.0 when nothing was sent in it)."""
        now = time.perf_counter() if now is None else now
        with self._lock:
            self._trim(now)
            if not self._samples:
                return 0.0
            span = max(now - self._samples[0][0], 1.0)  # one packet is not an infinite rate
            return 8.0 * sum(n for _, n in self._samples) / span


class ThreadedOutput(Generic[T]):
    """The shared machinery: a bounded queue (drop the oldest, count it), one worker thread, events.

    Subclasses set :attr:`name` and implement :meth:`_handle` (one item, on the worker thread) and
    may override :meth:`_open` (synchronous part of :meth:`open`, on the caller's thread),
    :meth:`_begin` (first thing on the worker thread), :meth:`_tick` (after every wake-up, with or
    without an item), :meth:`_wait_s` (how long the worker sleeps when there is nothing to do) and
    :meth:`_finish` (after the last item, on a normal stop). An exception escaping those ends the
    worker through :meth:`_failed` (default: an ``error`` event).
    ``wake_on_submit = False`` lets a paced output (the virtual camera) sleep until its next tick.
    """

    name: str = "output"
    wake_on_submit: bool = True

    def __init__(self, *, queue_size: int = 32, on_event: EventHandler | None = None):
        self._queue: deque[T] = deque()
        self._queue_size = max(1, int(queue_size))
        self._on_event = on_event
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._running = False
        self._stopping = False
        self._failed_state = False
        self.frames_dropped = 0

    # ------------------------------------------------------------------ the contract
    def open(self):
        """Run :meth:`_open` here, then start the worker thread. Once per object."""
        if self._thread is not None:
            raise RuntimeError(f"{type(self).__name__} can be opened once")
        self._open()
        self._running = True
        self._thread = threading.Thread(target=self._run, name=f"cartoon_cam-{self.name}", daemon=True)
        self._thread.start()
        return self

    def submit(self, item: T) -> bool:
        """Queue ``item``; never blocks. A full queue drops its oldest item (counted)."""
        with self._cond:
            if not self._running or self._stopping:
                return False
            if len(self._queue) >= self._queue_size:
                self._queue.popleft()
                self.frames_dropped += 1
            self._queue.append(item)
            if self.wake_on_submit:
                self._cond.notify()
        return True

    def close(self, timeout: float = 10.0) -> object:
        """Stop taking items, let the worker finish the queue, join it (at most ``timeout`` s)."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("%s thread did not finish within %.1f s", self.name, timeout)
        return None

    @property
    def active(self) -> bool:
        return self._running and not self._stopping

    @property
    def finishing(self) -> bool:
        """True while the worker still runs after :meth:`close` (which timed out)."""
        return self._stopping and self._thread is not None and self._thread.is_alive()

    @property
    def queued(self) -> int:
        return len(self._queue)

    def stats(self) -> OutputStats:
        state = ("failed" if self._failed_state else "running" if self.active
                 else "stopped" if self._thread is not None else "idle")
        return OutputStats(self._frames_done(), self.frames_dropped, self.queued, self._bitrate(), state)

    # ------------------------------------------------------------------ for subclasses
    def _open(self) -> None:
        """Synchronous start (on the caller's thread); raise OutputError to refuse."""

    def _begin(self) -> bool:
        """First thing on the worker thread; False ends the worker at once (already reported)."""
        return True

    def _handle(self, item: T) -> None:
        raise NotImplementedError

    def _tick(self) -> None:
        """After every wake-up (an item, a timeout or the stop)."""

    def _wait_s(self) -> float:
        return 0.1

    def _finish(self) -> None:
        """Normal end, after the last item."""

    def _failed(self, exc: BaseException) -> None:
        log.exception("%s failed", self.name, exc_info=exc)
        self._emit("error", f"The {self.name.replace('_', ' ')} stopped: {exc}")

    def _frames_done(self) -> int:
        return 0

    def _bitrate(self) -> float | None:
        return None

    def _emit(self, kind: str, message: str, path: Path | None = None) -> None:
        if self._on_event is None:  # nobody listens: the log is the only place it shows
            if kind in ("error", "warning"):
                log.log(logging.ERROR if kind == "error" else logging.WARNING, "%s", message)
            return
        try:
            self._on_event(OutputEvent(self.name, kind, message, path))
        except Exception:
            log.exception("%s event handler failed", self.name)

    def _stop_requested(self) -> bool:
        return self._stopping

    # ------------------------------------------------------------------ worker thread
    def _run(self) -> None:
        try:
            if self._begin():
                while True:
                    with self._cond:
                        if not self._queue and not self._stopping:
                            self._cond.wait(max(0.0, self._wait_s()))
                        item = self._queue.popleft() if self._queue else None
                        done = item is None and self._stopping
                    if item is not None:
                        self._handle(item)
                    self._tick()
                    if done:
                        break
                self._finish()
        except BaseException as e:  # noqa: BLE001 - reported, the thread ends cleanly
            self._failed_state = True
            self._failed(e)
        finally:
            with self._cond:
                self._running = False
                self._queue.clear()
            self._ended()

    def _ended(self) -> None:
        """Last thing on the worker thread, however it ended."""
