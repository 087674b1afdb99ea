"""The live pipeline (no Qt): capture thread → size-1 mailbox → inference thread → newest result.

Threads (all named ``cartoon_cam-*``, all joined by :meth:`Pipeline.stop`):

* **capture** owns the :class:`~cartoon_cam.core.sources.FrameSource`: opens it, reads frames,
  mirrors them if asked, wraps them in immutable :class:`~cartoon_cam.core.frames.Frame` s
  (``seq`` counts up over the pipeline's life, across source switches) and drops them into the
  mailbox, overwriting (and counting as dropped) a frame the inference thread has not taken yet.
  A source that fails is reopened with exponential back-off; a source switch happens between frames.
* **inference** owns the backends: takes the newest frame, runs the current style, blends with the
  original by ``strength``, publishes a :class:`~cartoon_cam.core.frames.ResultFrame` to the
  newest-result slot and hands it to every sink. Between two frames it swaps styles.
* **style-loader** builds and warms requested styles off the hot path (newest request wins) and
  hands them to the inference thread. A failure leaves the running style in place and is reported.
  Recently used backends stay in a small LRU cache, so switching back is instant.

Events (:class:`PipelineEvent`) and sinks are called on the pipeline's threads: they must return
quickly (enqueue, or post to the GUI thread).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError, first_line
from ..inference.backends.base import Backend, RunCancelled
from ..inference.catalog import StyleCatalog, StyleLoader
from ..inference.catalog import style_key as _catalog_style_key
from ..inference.style import StyleFile
from ..limits import check_inference_size
from .frames import Frame, ResultFrame
from .sources.base import FrameSource, SourceEnded
from .stats import LatencyWindow, RateMeter

log = logging.getLogger(__name__)

class EventKind(str, Enum):
    """What a :class:`PipelineEvent` is about. A ``str`` enum: ``ev.kind == "error"`` holds and
    ``f"{ev.kind}"`` is the plain name."""

    STYLE_CHANGED = "style_changed"  # ``style`` runs now
    STYLE_FAILED = "style_failed"  # ``style`` could not be loaded (``reason``); ``fallback``: what runs
    STYLE_LOADING = "style_loading"  # ``style`` is being loaded
    SOURCE_OPENED = "source_opened"
    SOURCE_LOST = "source_lost"  # ``reason``; ``retrying`` is True (it reconnects)
    SOURCE_RECOVERED = "source_recovered"
    SOURCE_FAILED = "source_failed"  # could not open (``reason``); ``retrying``: it keeps trying
    SOURCE_ENDED = "source_ended"  # a file or image source reached its end
    ERROR = "error"  # a frame or an output failed (``reason``)

    def __str__(self) -> str:
        return self.value

    __format__ = str.__format__


EVENT_KINDS = tuple(k.value for k in EventKind)
SOURCE_STATES = ("starting", "live", "reconnecting", "failed", "ended", "stopped")
FALLBACK_STYLE = "classic"
_ERROR_REPEAT_S = 5.0


@dataclass(frozen=True)
class PipelineEvent:
    """Something the user should hear about. ``kind`` is an :class:`EventKind`; ``message`` is a
    complete, user-facing sentence (for a log or a banner, never to be parsed); the typed fields
    say the rest: for ``style_*`` events ``style`` is the style concerned, as it was passed to
    :meth:`Pipeline.set_style` (:func:`style_text` of it); ``reason`` is the cause of a failure (one
    sentence); ``retrying`` is True while the pipeline keeps trying (a source that failed or was
    lost); ``fallback`` is what runs instead after a ``style_failed`` ("" for pass-through)."""

    kind: EventKind
    message: str
    style: str = ""
    reason: str = ""
    retrying: bool = False
    fallback: str = ""


@dataclass(frozen=True)
class PipelineStats:
    """A snapshot of the pipeline's health (rates over the last ~2 s; latencies over ~240 frames).

    ``latency_*`` is end to end, capture → shown (fed by :meth:`Pipeline.mark_displayed`); when
    nothing is displayed (headless) it falls back to capture → cartoon ready.
    """

    capture_fps: float
    inference_fps: float
    display_fps: float
    latency_p50_ms: float
    latency_p95_ms: float
    dropped: int
    frames_captured: int
    frames_processed: int
    style_id: str
    backend: str
    source_state: str
    # extras
    inference_ms: float = float("nan")  # mean time per frame in the backend (+ blend)
    result_latency_p50_ms: float = float("nan")  # capture → cartoon ready
    result_latency_p95_ms: float = float("nan")
    frames_displayed: int = 0
    source: str = ""  # the source's describe()
    source_fps: float = 0.0
    loading_style: str = ""  # style being loaded, if any


BackendKey = tuple[str, str, str]  # (style key, backend choice, device choice)
#: A style as the pipeline is asked for it: an id, a path, or a style file loaded already.
StyleRef = str | Path | StyleFile


def style_key(style: StyleRef) -> str:
    """A stable cache key: the resolved path for files, the id otherwise (the catalog's rule)."""
    if isinstance(style, StyleFile):
        return _catalog_style_key(style.path) if style.path is not None else style.id
    return _catalog_style_key(style)


def style_text(style: StyleRef) -> str:
    """``style`` as events name it and :attr:`Pipeline.requested_style` users compare it: the id
    or path as given (a loaded style file: its id)."""
    if isinstance(style, StyleFile):
        return style.id
    return str(style)


@dataclass(frozen=True)
class LoadRequest:
    """What the inference thread asks the style-loader thread to build (newest request wins)."""

    token: int  # the style request it answers (:meth:`Pipeline.set_style` counts them)
    key: BackendKey
    style: StyleRef
    backend: str
    device: str
    size: int | None
    shape: tuple[int, int]  # the frame size to warm up at


@dataclass(frozen=True)
class Loaded:
    """The loader's answer: a warmed backend, or why none could be built."""

    token: int
    key: BackendKey
    style: StyleRef
    backend: Backend | None
    error: BaseException | None = None


def lower_thread_priority(nice: int) -> None:
    """Give the calling thread at least niceness ``nice`` (Linux, where threads are tasks); a no-op
    elsewhere or when refused.

    Used for the inference and style-loader threads so capture and the GUI stay responsive on small
    CPUs; ONNX Runtime's worker threads inherit it from the thread that creates the session.
    """
    if nice <= 0 or not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except (OSError, AttributeError):
        pass


class Pipeline:
    """Capture → inference → newest result, with live style/size/mirror/source changes.

    ``style`` is a style id, a style/model file path, or a :class:`StyleFile` loaded already; ids
    and paths are loaded with ``load`` (the composition root's catalog's
    :meth:`~cartoon_cam.inference.catalog.StyleCatalog.resolve`; ``None``: a catalog over the
    standard folders). ``backend``/``device`` are passed to
    :func:`cartoon_cam.inference.backends.create_backend`; ``size`` is the inference long side
    (``None``: the style's recommendation), within :mod:`cartoon_cam.limits` (``ValueError``
    otherwise). ``on_event`` is called on pipeline threads. ``fallback_style``: what to run when the
    *first* style cannot be loaded (``None``: nothing — the results are the original frames and the
    ``style_failed`` event says so; ``live`` then stops, the window keeps showing). ``threads``:
    the inference runtime's threads (``None``: :func:`.threads.live_inference_threads`).
    """

    def __init__(self, source: FrameSource, style: StyleRef, *, load: StyleLoader | None = None,
                 backend: str = "auto",
                 device: str = "auto", size: int | None = None, mirror: bool = False,
                 on_event: Callable[[PipelineEvent], None] | None = None,
                 strength: float = 1.0, cache_size: int = 3,
                 reconnect_delay: tuple[float, float] = (0.25, 4.0),
                 worker_nice: int = 5, fallback_style: str | None = FALLBACK_STYLE,
                 threads: int | None = None) -> None:
        size = _checked_size(size)
        if threads is None:
            from .threads import live_inference_threads

            threads = live_inference_threads()
        self.threads = threads  # inference threads for the styles loaded from now on
        self._load: StyleLoader = load if load is not None else StyleCatalog().resolve
        self.fallback_style = fallback_style
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)  # mailbox + commands for the inference thread
        self._loader_cond = threading.Condition()
        self._stop_event = threading.Event()
        self._capture_wake = threading.Event()
        # source
        self._source = source
        self._next_source: FrameSource | None = None
        self._source_state = "starting"
        self._mirror = bool(mirror)
        # frames
        self._mailbox: Frame | None = None
        self._latest_frame: Frame | None = None
        self._latest_result: ResultFrame | None = None
        # style + backend
        self._style_token = 0
        self._wanted: StyleRef = style
        self._backend_choice = backend
        self._device_choice = device
        self._size = size
        self._strength = float(strength)
        self._loaded: list[Loaded] = []
        self._load_request: LoadRequest | None = None
        self._loading = ""
        self._current_style_id = ""
        self._current_describe = ""
        self._running_backend: Backend | None = None  # the backend inside process(), for cancel()
        self._warming_backend: Backend | None = None  # the backend the loader is warming up
        self._passthrough = False
        self._running_style: StyleRef = style
        self._still_memo: tuple[tuple, np.ndarray, str] | None = None  # (key, cartoon, style id)
        self._still_inferred = 0  # still pictures cartoonized (tests: once per change, not per frame)
        self.cache_size = max(1, int(cache_size))
        # listeners and sinks
        self._listeners: list[Callable[[PipelineEvent], None]] = [on_event] if on_event else []
        self._sinks: list[Callable[[ResultFrame], None]] = []
        # stats
        self._capture_meter = RateMeter()
        self._infer_meter = RateMeter()
        self._display_meter = RateMeter()
        self._e2e = LatencyWindow()
        self._result_latency = LatencyWindow()
        self._infer_ms = LatencyWindow(maxlen=60)
        self._captured = self._processed = self._dropped = self._displayed = 0
        self._last_displayed_seq = -1
        self._disp_lock = threading.Lock()
        self._last_error: dict[str, float] = {}
        # lifecycle
        self._reconnect_delay = reconnect_delay
        self._worker_nice = worker_nice
        self._threads: list[threading.Thread] = []
        self._started = False
        self._stopped = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the threads (returns at once; the source opens and the style loads in them)."""
        if self._started:
            raise RuntimeError("a Pipeline can be started only once")
        self._started = True
        with self._cond:
            self._style_token += 1
        for name, target in (("capture", self._capture_loop), ("inference", self._inference_loop),
                             ("style-loader", self._loader_loop)):
            t = threading.Thread(target=target, name=f"cartoon_cam-{name}", daemon=True)
            self._threads.append(t)
            t.start()

    def stop(self, timeout: float = 1.0) -> None:
        """Stop capture, inference and loading; join the threads (at most ``timeout`` s in all).

        The capture thread closes the source and the inference thread closes every backend as they
        exit. Idempotent. A thread still busy after ``timeout`` (a long model run) is logged and
        finishes on its own; it is a daemon and holds no lock anyone waits for.
        """
        if self._stopped:
            return
        self._stopped = True
        self._stop_event.set()
        self._capture_wake.set()
        with self._lock:
            srcs = [s for s in (self._source, self._next_source) if s is not None]
        for s in srcs:
            s.interrupt()
        with self._cond:
            self._cond.notify_all()
        with self._loader_cond:
            self._loader_cond.notify_all()
        for busy in (self._running_backend, self._warming_backend):
            if busy is not None:
                busy.cancel()  # a heavy style's frame can take seconds on a CPU
        deadline = time.perf_counter() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.perf_counter()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            log.warning("pipeline threads still running %.1f s after stop: %s", timeout, ", ".join(alive))
        if not self._started:
            self._source.close()
        self._source_state = "stopped"

    def join(self, timeout: float | None = None) -> bool:
        """Wait (after :meth:`stop`) until every thread has finished; True when none is left.

        For process exit: a heavy style's frame can outlast ``stop()``'s 1 s on a CPU, and a model
        still running while the interpreter shuts down is best avoided.
        """
        deadline = None if timeout is None else time.perf_counter() + timeout
        for t in self._threads:
            t.join(None if deadline is None else max(0.0, deadline - time.perf_counter()))
        return not self.threads_alive()

    @property
    def running(self) -> bool:
        return self._started and not self._stopped

    def threads_alive(self) -> list[str]:
        """Names of this pipeline's threads that are still running."""
        return [t.name for t in self._threads if t.is_alive()]

    def __enter__(self) -> Pipeline:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ outputs
    def latest_frame(self) -> Frame | None:
        """The newest captured frame (uint8 RGB HxWx3, read-only), or None before the first."""
        return self._latest_frame

    def latest_result(self) -> ResultFrame | None:
        """The newest cartoon, or None before the first."""
        return self._latest_result

    def add_sink(self, fn: Callable[[ResultFrame], None]) -> None:
        """Call ``fn(result)`` on the inference thread for every new result. ``fn`` must not block;
        if it raises, the error is logged and reported and ``fn`` is removed."""
        with self._lock:
            if fn not in self._sinks:
                self._sinks = [*self._sinks, fn]

    def remove_sink(self, fn: Callable[[ResultFrame], None]) -> None:
        with self._lock:
            self._sinks = [s for s in self._sinks if s != fn]

    def add_listener(self, fn: Callable[[PipelineEvent], None]) -> None:
        """Also send events to ``fn`` (called on pipeline threads; must not block)."""
        with self._lock:
            if fn not in self._listeners:
                self._listeners = [*self._listeners, fn]

    def remove_listener(self, fn: Callable[[PipelineEvent], None]) -> None:
        with self._lock:
            self._listeners = [f for f in self._listeners if f != fn]

    # ------------------------------------------------------------------ controls (non-blocking)
    def set_style(self, style: StyleRef) -> None:
        """Switch to ``style`` (id, path or loaded style file): loaded and warmed off the hot path, swapped between two
        frames. On failure the old style keeps running and a ``style_failed`` event says why."""
        with self._cond:
            self._wanted = style
            self._style_token += 1
            self._cond.notify_all()

    def set_backend(self, backend: str = "auto", device: str = "auto") -> None:
        """Run the current style on another backend/device (reloads it off the hot path)."""
        with self._cond:
            self._backend_choice, self._device_choice = backend, device
            self._style_token += 1
            self._cond.notify_all()

    def set_size(self, size: int | None) -> None:
        """Inference long side in pixels (``None``: the style's recommendation); next frame on."""
        self._size = _checked_size(size)

    def set_mirror(self, on: bool) -> None:
        """Flip frames left↔right at capture, so the cartoon, recordings and snapshots are mirrored
        too; frames say so (``Frame.mirrored``) and the virtual camera, which has a mirror setting
        of its own, undoes it."""
        self._mirror = bool(on)

    def set_strength(self, strength: float) -> None:
        """Blend of cartoon and original in every result: 1 = cartoon only, 0 = original."""
        self._strength = float(min(max(strength, 0.0), 1.0))

    def set_source(self, source: FrameSource) -> None:
        """Switch to ``source`` between two frames: the old one is closed, the new one opened on the
        capture thread (a failure there is reported and retried with back-off)."""
        if not self._started:
            old, self._source = self._source, source
            if old is not source:
                old.close()
            return
        with self._lock:
            self._next_source = source
            cur = self._source
        cur.interrupt()
        self._capture_wake.set()

    @property
    def source(self) -> FrameSource:
        """The source the capture thread is using (or about to use)."""
        return self._source

    @property
    def source_fps(self) -> float:
        """Nominal fps of the current source (30 when it does not say): pace recorders by this."""
        fps = self._source.fps
        return float(fps) if fps and fps > 0 else 30.0

    @property
    def source_state(self) -> str:
        """One of :data:`SOURCE_STATES`."""
        return self._source_state

    @property
    def mirror(self) -> bool:
        return self._mirror

    @property
    def size(self) -> int | None:
        return self._size

    @property
    def strength(self) -> float:
        return self._strength

    @property
    def requested_style(self) -> StyleRef:
        """The style last asked for (by :meth:`set_style`, or the fallback after a failure)."""
        return self._wanted

    @property
    def style_id(self) -> str:
        """Id of the style producing results now ("" before the first has loaded)."""
        return self._current_style_id

    @property
    def backend_choice(self) -> tuple[str, str]:
        return self._backend_choice, self._device_choice

    # ------------------------------------------------------------------ stats
    def mark_displayed(self, result: ResultFrame) -> None:
        """The UI calls this after painting ``result``; counts each seq once (end-to-end latency)."""
        now = time.perf_counter()
        with self._disp_lock:
            if result.seq <= self._last_displayed_seq:
                return
            self._last_displayed_seq = result.seq
            self._displayed += 1
        self._display_meter.mark(now)
        self._e2e.add(now - result.t_capture)

    def reset_latency(self) -> None:
        """Forget the latency samples so far (a benchmark measures the steady state only)."""
        self._e2e.reset()
        self._result_latency.reset()
        self._infer_ms.reset()

    def stats(self) -> PipelineStats:
        e2e = len(self._e2e) > 0
        lat = self._e2e if e2e else self._result_latency
        src = self._source
        return PipelineStats(
            capture_fps=self._capture_meter.rate(),
            inference_fps=self._infer_meter.rate(),
            display_fps=self._display_meter.rate(),
            latency_p50_ms=lat.percentile(50),
            latency_p95_ms=lat.percentile(95),
            dropped=self._dropped,
            frames_captured=self._captured,
            frames_processed=self._processed,
            style_id=self._current_style_id,
            backend=self._current_describe,
            source_state=self._source_state,
            inference_ms=self._infer_ms.mean(),
            result_latency_p50_ms=self._result_latency.percentile(50),
            result_latency_p95_ms=self._result_latency.percentile(95),
            frames_displayed=self._displayed,
            source=src.describe(),
            source_fps=self.source_fps,
            loading_style=self._loading,
        )

    # ------------------------------------------------------------------ internals
    def _emit(self, kind: EventKind, message: str, style: StyleRef = "", *, reason: str = "",
              retrying: bool = False, fallback: str = "") -> None:
        ev = PipelineEvent(EventKind(kind), message, style_text(style), reason, retrying, fallback)
        log.info("pipeline event %s: %s", kind, message)
        for fn in list(self._listeners):
            try:
                fn(ev)
            except Exception:
                log.exception("pipeline event listener %r failed", fn)

    def _report_error(self, message: str) -> None:
        """Emit an ``error`` event, at most once per ``_ERROR_REPEAT_S`` for the same text."""
        now = time.perf_counter()
        if now - self._last_error.get(message, -1e9) < _ERROR_REPEAT_S:
            return
        self._last_error[message] = now
        log.error("%s", message)
        self._emit(EventKind.ERROR, message, reason=message)

    def _stopping(self) -> bool:
        return self._stop_event.is_set()

    # -- capture thread --------------------------------------------------------------------------
    def _wait_capture(self, seconds: float) -> None:
        self._capture_wake.wait(seconds)
        self._capture_wake.clear()

    def _capture_loop(self) -> None:
        src = self._source
        opened = failing = ended = False
        first_attempt = True
        delay = self._reconnect_delay[0]
        seq = 0
        opens = 0  # source opens so far (see Frame.still)
        try:
            while not self._stopping():
                with self._lock:
                    new, self._next_source = self._next_source, None
                if new is not None:
                    src.close()
                    src = new
                    with self._lock:
                        self._source = src
                    opened = failing = ended = False
                    first_attempt = True
                    delay = self._reconnect_delay[0]
                    self._capture_wake.clear()
                if ended:
                    self._wait_capture(1.0)
                    continue
                if not opened:
                    try:
                        src.open()
                    except Exception as e:
                        if self._stopping() or self._next_source is not None:
                            continue
                        if first_attempt:
                            self._source_state = "failed"
                            reason = _sentence(e, cap=True)
                            self._emit(EventKind.SOURCE_FAILED, f"{reason} Retrying…", reason=reason, retrying=True)
                        first_attempt = False
                        failing = True
                        self._wait_capture(delay)
                        delay = min(delay * 2, self._reconnect_delay[1])
                        continue
                    opened, first_attempt = True, False
                    opens += 1  # a still picture's frames share this number until it is opened again
                    delay = self._reconnect_delay[0]
                    self._source_state = "live"
                    if failing:
                        failing = False
                        self._emit(EventKind.SOURCE_RECOVERED, f"{src.describe()} is back.")
                    else:
                        self._emit(EventKind.SOURCE_OPENED, src.describe())
                try:
                    img = src.read()
                except SourceEnded as e:
                    src.close()
                    opened, ended = False, True
                    self._source_state = "ended"
                    self._emit(EventKind.SOURCE_ENDED, _sentence(e, cap=True))
                    continue
                except Exception as e:
                    if self._stopping() or self._next_source is not None:
                        continue
                    src.close()
                    opened, failing = False, True
                    self._source_state = "reconnecting"
                    what = "Camera lost" if src.kind == "camera" else f"{src.name} lost"
                    self._emit(EventKind.SOURCE_LOST, f"{what} — reconnecting… ({_sentence(e, end='')})",
                               reason=_sentence(e, cap=True), retrying=True)
                    self._wait_capture(delay)
                    delay = min(delay * 2, self._reconnect_delay[1])
                    continue
                t = time.perf_counter()
                mirrored = self._mirror
                if mirrored:
                    img = cv2.flip(img, 1)
                frame = Frame(img, seq, t, mirrored, opens if src.kind == "image" else None)
                seq += 1
                with self._cond:
                    if self._mailbox is not None:
                        self._dropped += 1
                    self._mailbox = frame
                    self._latest_frame = frame
                    self._captured += 1
                    self._cond.notify_all()
                self._capture_meter.mark(t)
        except Exception as e:  # a bug: report, never hang the app
            log.exception("capture thread crashed")
            self._source_state = "failed"
            self._emit(EventKind.ERROR, f"Capture stopped: {_sentence(e, end='')}.", reason=_sentence(e, cap=True))
        finally:
            src.close()
            with self._lock:  # a switch asked for but not picked up before stop()
                pending, self._next_source = self._next_source, None
            if pending is not None and pending is not src:
                pending.close()

    # -- style loader thread -------------------------------------------------------------------------
    def _loader_loop(self) -> None:
        lower_thread_priority(self._worker_nice)
        from ..inference.backends import create_backend

        while True:
            with self._loader_cond:
                while not self._stopping() and self._load_request is None:
                    self._loader_cond.wait(0.5)
                if self._stopping():
                    return
                req, self._load_request = self._load_request, None
            self._loading = style_text(req.style)
            try:
                sf = req.style if isinstance(req.style, StyleFile) else self._load(req.style)
                b = create_backend(sf, backend=req.backend, device=req.device, size=req.size,
                                   threads=self.threads)
                self._warming_backend = b
                try:
                    b.warmup(*req.shape)
                except BaseException:
                    b.close()
                    raise
                finally:
                    self._warming_backend = None
                result = Loaded(req.token, req.key, req.style, b)
            except Exception as e:
                log.debug("loading style %s failed", style_text(req.style), exc_info=True)
                result = Loaded(req.token, req.key, req.style, None, e)
            finally:
                self._loading = ""
            with self._cond:
                if self._stopping():
                    if result.backend is not None:
                        result.backend.close()
                    return
                self._loaded.append(result)
                self._cond.notify_all()

    def _request_load(self, token: int, key: BackendKey, style: StyleRef, backend_choice: str,
                      device_choice: str) -> None:
        f = self._latest_frame
        shape = (f.image.shape[0], f.image.shape[1]) if f is not None else (256, 256)
        with self._loader_cond:
            self._load_request = LoadRequest(token, key, style, backend_choice, device_choice, self._size, shape)
            self._loading = style_text(style)
            self._loader_cond.notify_all()

    # -- inference thread ----------------------------------------------------------------------------
    def _inference_loop(self) -> None:
        lower_thread_priority(self._worker_nice)
        cache: OrderedDict[BackendKey, tuple[Backend, StyleRef]] = OrderedDict()  # key → (backend, style)
        backend: Backend | None = None
        current_key: BackendKey | None = None
        handled = -1

        def evict() -> None:
            for k in list(cache):
                if len(cache) <= self.cache_size:
                    break
                if k != current_key:
                    cache.pop(k)[0].close()

        def swap(key: BackendKey, b: Backend, style: StyleRef) -> None:
            nonlocal backend, current_key
            backend, current_key = b, key
            self._running_style = style
            self._passthrough = False
            cache[key] = (b, style)
            cache.move_to_end(key)
            self._current_style_id = b.style_id
            self._current_describe = b.describe()
            evict()
            self._emit(EventKind.STYLE_CHANGED, f"Style {self._current_style_id!r} on {self._current_describe}.", style)

        try:
            while True:
                with self._cond:
                    while not self._stopping():
                        can_run = backend is not None or self._passthrough
                        if (self._mailbox is not None and can_run) or self._loaded or self._style_token != handled:
                            break
                        self._cond.wait(0.5)
                    if self._stopping():
                        return
                    loaded, self._loaded = self._loaded, []
                    token, wanted = self._style_token, self._wanted
                    choice = (self._backend_choice, self._device_choice)
                    frame = None
                    if backend is not None or self._passthrough:
                        frame, self._mailbox = self._mailbox, None
                try:
                    # 1. styles that finished loading (a stale one is only cached)
                    for done in loaded:
                        if done.backend is not None:
                            if done.token == token:
                                swap(done.key, done.backend, done.style)
                            else:
                                cache[done.key] = (done.backend, done.style)
                                evict()
                        elif done.token == token:
                            self._on_style_failed(done.key, done.style, done.error, backend is not None,
                                                  current_key, done.token)
                    # 2. a new style request: from the cache at once, else via the loader
                    if token != handled:
                        handled = token
                        key = (style_key(wanted), *choice)
                        if key == current_key:
                            pass
                        elif key in cache:
                            swap(key, cache[key][0], wanted)
                        else:
                            self._emit(EventKind.STYLE_LOADING, f"Loading style {Path(style_text(wanted)).name}…", wanted)
                            self._request_load(token, key, wanted, *choice)
                    # 3. the newest frame
                    if frame is not None:
                        self._process(frame, backend)
                except Exception as e:  # a bug: report and keep going
                    log.exception("inference loop error")
                    self._report_error(f"Inference error: {_sentence(e, end='')}.")
        finally:
            with self._cond:
                leftovers = [done.backend for done in self._loaded if done.backend is not None]
                self._loaded = []
            for b in [*(b for b, _ in cache.values()), *leftovers]:
                try:
                    b.close()
                except Exception:
                    log.exception("closing a backend failed")

    def _on_style_failed(self, key: BackendKey, style: StyleRef, err: object, have_backend: bool,
                         running: BackendKey | None = None, token: int | None = None) -> None:
        """Keep the running style (and put the requested style and backend/device back to what
        runs, so the next change does not retry the failed choice); with none yet, fall back to
        :attr:`fallback_style`, then to pass-through."""
        msg = _sentence(err, end="") if isinstance(err, BaseException) else str(err)
        name = Path(key[0]).name
        if have_backend and running is not None:
            with self._cond:
                if token is None or self._style_token == token:  # else a newer request wins
                    if (self._backend_choice, self._device_choice) == key[1:]:
                        self._backend_choice, self._device_choice = running[1], running[2]
                    self._wanted = self._running_style
                    self._style_token += 1  # handled at once: the running key, nothing reloads
        if have_backend:
            self._emit(EventKind.STYLE_FAILED, f"Style {name!r} could not be loaded ({msg}); keeping {self._current_style_id!r}.",
                       style, reason=msg, fallback=self._current_style_id)
        elif self.fallback_style is not None and key[0] != self.fallback_style:
            fb = self.fallback_style
            self._emit(EventKind.STYLE_FAILED, f"Style {name!r} could not be loaded ({msg}); using {fb!r}.", style,
                       reason=msg, fallback=fb)
            with self._cond:
                self._wanted = fb
                self._style_token += 1
        else:
            self._emit(EventKind.STYLE_FAILED, f"No style could be loaded ({msg}); showing the original.", style,
                       reason=msg)
            self._current_style_id = "none"
            self._current_describe = "pass-through"
            self._passthrough = True  # results are the original frames: display and outputs go on

    def _process(self, frame: Frame, backend: Backend | None) -> None:
        t0 = time.perf_counter()
        # A still picture is cartoonized once, and again only when the style, strength, size or
        # mirror changes: its other frames reuse that cartoon (outputs still get every frame).
        still_key = None if frame.still is None else (
            frame.still, frame.mirrored, backend, self._size, self._strength)  # the backend itself: no id reuse
        memo = self._still_memo
        if still_key is not None and memo is not None and memo[0] == still_key and backend is not None:
            self._publish(frame, memo[1], memo[2], t0)
            return
        if backend is None:
            out = frame.image
            style_id = "none"
        else:
            style_id = backend.style_id
            size = self._size
            try:
                if backend.size != size:
                    backend.size = size
                self._running_backend = backend
                if self._stopping():
                    return
                out = backend.process(frame.image)
            except RunCancelled:
                return  # stop() cancelled it
            except Exception as e:
                log.debug("style %s failed on a frame", style_id, exc_info=True)
                self._report_error(f"Style {style_id!r} failed on a frame: {_sentence(e, end='')}.")
                out = frame.image
            finally:
                self._running_backend = None
        s = self._strength
        if s < 1.0 and out is not frame.image:
            out = cv2.addWeighted(out, s, frame.image, 1.0 - s, 0.0)
        if still_key is not None and out is not frame.image:
            self._still_memo = (still_key, out, style_id)
            self._still_inferred += 1
        self._publish(frame, out, style_id, t0)

    def _publish(self, frame: Frame, out: np.ndarray, style_id: str, t0: float) -> None:
        """Make ``out`` (the cartoon of ``frame``) the newest result and hand it to the sinks."""
        t1 = time.perf_counter()
        result = ResultFrame(frame, out, style_id, t1)
        with self._lock:
            self._latest_result = result
            self._processed += 1
            sinks = self._sinks
        self._infer_meter.mark(t1)
        self._infer_ms.add(t1 - t0)
        self._result_latency.add(t1 - frame.t_capture)
        for fn in sinks:
            try:
                fn(result)
            except Exception as e:
                log.exception("output sink %r failed; removed", fn)
                self.remove_sink(fn)
                self._report_error(f"An output stopped after an error: {_sentence(e, end='')}.")


def _checked_size(size: int | None) -> int | None:
    try:
        return check_inference_size(size, "inference size")
    except InputError as e:
        raise ValueError(str(e)) from None


def _sentence(e: object, end: str = ".", cap: bool = False) -> str:
    """First line of an exception's message (class name when it has none), ending in ``end``;
    ``cap``: capitalised, to start a sentence — unless it starts with a file name or path, which
    keeps its own spelling (``photo.png`` is not ``Photo.png``)."""
    text = first_line(e)
    text = text[:300]
    first = text.split(maxsplit=1)[0] if text.split() else ""
    if cap and not any(c in first for c in "./\\"):
        text = text[:1].upper() + text[1:]
    if end and not text.endswith((".", "!", "?", "…")):
        text += end
    return text


__all__ = ["EVENT_KINDS", "EventKind", "FALLBACK_STYLE", "SOURCE_STATES", "Pipeline", "PipelineEvent",
           "PipelineStats", "LoadRequest", "Loaded", "StyleRef", "lower_thread_priority", "style_key",
           "style_text"]
