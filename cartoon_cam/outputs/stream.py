"""Stream the cartoon live to a server: H.264 (+ AAC) over RTMP (FLV) or SRT / UDP (MPEG-TS), via PyAV.

* URL: ``rtmp://`` / ``rtmps://`` → FLV (YouTube, Twitch, nginx-rtmp, OBS ingest …); ``srt://`` and
  ``udp://`` → MPEG-TS. Anything else is an :class:`~cartoon_cam.errors.InputError` naming these
  (:func:`check_stream_url`); so is a scheme this FFmpeg build lacks (PyAV's wheels have no libsrt).
* Picture: like the recorder (cartoon / original / side by side, even size, BT.601), encoded by the
  first of :data:`~cartoon_cam.outputs.encoders.ENCODERS` that opens, with its low-latency options
  (libx264 ``veryfast`` + ``zerolatency``), bitrate-driven (``bitrate`` or about 0.15 bit/pixel), a
  keyframe every second so a viewer (or a reconnect) starts within one second.
* Threading and drops: :meth:`StreamOutput.submit` never blocks (the shared policy of
  :mod:`cartoon_cam.outputs.base`: a bounded queue, about one second, drops its oldest result and
  counts it). Results that arrive while the server is away are dropped and counted too. The
  connection, the encoder and the network writes run on the stream's own thread.
* The server goes away (connection refused / reset, broken pipe, a write timing out): the stream
  reports ``reconnecting`` and tries again after a back-off that doubles from ``backoff[0]`` to
  ``backoff[1]`` seconds, and again ``started`` once connected; each connection starts a fresh
  encoder at a keyframe, with timestamps from 0. TCP-based schemes are first checked with a plain
  socket connect (which releases the GIL: PyAV holds it while FFmpeg connects), so an unreachable
  host never stalls the other threads for longer than a refused connection takes.
* Reports: a ``stats`` event every ``stats_every`` seconds (bit rate over the last 3 s, frames sent,
  dropped) and :meth:`StreamOutput.stats` at any time.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import socket
import sys
import time
from fractions import Fraction
from urllib.parse import urlsplit

import av
import cv2
import numpy as np

from ..core.frames import ResultFrame
from ..errors import InputError, OutputError, brief
from .audio import AudioSource, AudioTrack, MicrophoneSource
from .base import EventHandler, RateMeter, ThreadedOutput
from .compose import check_layout, compose, even_size, resize_to
from .encoders import ENCODERS, auto_bitrate, choose_encoder, configure, pix_fmt

log = logging.getLogger(__name__)

#: URL scheme → container. The one place to add a scheme.
SCHEMES: dict[str, str] = {"rtmp": "flv", "rtmps": "flv", "srt": "mpegts", "udp": "mpegts"}
_DEFAULT_PORTS = {"rtmp": 1935, "rtmps": 443}
_TCP_SCHEMES = ("rtmp", "rtmps")
_NETWORK_ERRORS = (OSError, av.error.FFmpegError, EOFError)


@functools.lru_cache(maxsize=1)
def output_protocols() -> frozenset[str] | None:
    """The protocols this process's FFmpeg (PyAV's libavformat) can write to, or None when that
    can't be asked here (the library isn't found by name: only Linux is looked up)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import av.format  # noqa: F401 - loads libavformat

        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            libs = {line.split()[-1] for line in fh if "libavformat" in line and "/" in line}
        if not libs:
            return None
        lib = ctypes.CDLL(sorted(libs)[0])
        enum = lib.avio_enum_protocols
        enum.restype = ctypes.c_char_p
        enum.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int]
        opaque, names = ctypes.c_void_p(), []
        while (n := enum(ctypes.byref(opaque), 1)) is not None:
            names.append(n.decode())
        return frozenset(names)
    except (OSError, AttributeError, ValueError):
        return None


def check_stream_url(url: str) -> tuple[str, str]:
    """``(scheme, container format)`` for a stream URL; :class:`InputError` when the scheme is not
    one of :data:`SCHEMES` or this FFmpeg build cannot write it."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    supported = ", ".join(f"{s}://" for s in SCHEMES)
    if scheme not in SCHEMES:
        raise InputError(f"cannot stream to {url!r}: unsupported URL (use one of {supported})")
    if not parts.hostname:
        raise InputError(f"cannot stream to {url!r}: the URL names no host")
    have = output_protocols()
    if have is not None and scheme not in have:
        usable = ", ".join(f"{s}://" for s in SCHEMES if s in have)
        raise InputError(f"cannot stream to {url!r}: this FFmpeg build (PyAV {av.__version__}) has no "
                         f"{scheme} protocol; use {usable}")
    return scheme, SCHEMES[scheme]


def describe(url: str) -> str:
    """The URL without credentials, stream key (its last path part) or query (an SRT passphrase):
    for messages, since keys are secrets."""
    p = urlsplit(url)
    host = p.hostname or ""
    port = f":{p.port}" if p.port else ""
    path = p.path.rsplit("/", 1)[0] + "/…" if p.path.strip("/") else ""  # the last part: the key
    return f"{p.scheme}://{host}{port}{path}"


class StreamOutput(ThreadedOutput[ResultFrame]):
    """Send results to ``url`` as a live H.264 (+ AAC) stream from a thread of its own.

    ``layout``: ``cartoon`` | ``original`` | ``side_by_side``. ``fps``: nominal rate (keyframe and
    rate-control hint; timing comes from capture times). ``bitrate``: video bit/s (default: about
    0.15 bit per pixel). ``audio``: ``True`` for the microphone or an :class:`AudioSource` (AAC,
    128 kbit/s). ``queue_size``: results waiting before the oldest is dropped. ``connect_timeout``:
    seconds one connection attempt (and one stalled write) may take. ``backoff``: (first, longest)
    wait between attempts. ``on_event`` is called on the stream's thread.
    """

    name = "stream"

    def __init__(self, url: str, *, layout: str = "cartoon", fps: float | None = None,
                 bitrate: int | None = None, audio: bool | AudioSource = False,
                 encoder: str | None = None, queue_size: int = 30, connect_timeout: float = 5.0,
                 backoff: tuple[float, float] = (0.5, 8.0), stats_every: float = 2.0,
                 on_event: EventHandler | None = None):
        super().__init__(queue_size=queue_size, on_event=on_event)
        self.url = url.strip()
        self.scheme, self.format = check_stream_url(self.url)
        self.where = describe(self.url)
        self.layout = check_layout(layout)
        self.fps = float(fps) if fps and fps > 0 else 30.0
        self.bitrate = int(bitrate) if bitrate else None
        self._candidates = [encoder] if encoder else list(ENCODERS)
        self.connect_timeout = float(connect_timeout)
        self.backoff = (float(backoff[0]), float(backoff[1]))
        self.stats_every = float(stats_every)
        self._audio_req = audio
        self._audio: AudioSource | None = None
        self._track: AudioTrack | None = None
        self._container = None
        self._vstream = None
        self._astream = None
        self._size: tuple[int, int] | None = None
        self._t0: float | None = None
        self._last_pts = -1
        self._last_seq: int | None = None
        self._delay = self.backoff[0]
        self._next_try = 0.0
        self._next_stats = 0.0
        self._meter = RateMeter(3.0)
        self.connections = 0
        self.frames_sent = 0
        self.encoder_name: str | None = None
        self.last_error: str | None = None

    # ------------------------------------------------------------------ the Output contract
    def _frames_done(self) -> int:
        return self.frames_sent

    def _bitrate(self) -> float | None:
        return self._meter.bps()

    def stats(self):
        s = super().stats()
        if s.state == "running" and self._container is None:
            from dataclasses import replace

            return replace(s, state="reconnecting")
        return s

    @property
    def connected(self) -> bool:
        return self._container is not None

    def _open(self) -> None:
        req = self._audio_req
        if req is False or req is None:
            return
        source: AudioSource = MicrophoneSource() if req is True else req
        try:
            source.start(self._on_audio)
        except OutputError as e:
            self._emit("warning", f"Streaming without sound: {e}.")
            return
        self._audio = source
        self._track = AudioTrack(source.sample_rate, source.channels)

    def _on_audio(self, samples: np.ndarray, t_first: float) -> None:
        track = self._track
        if track is not None:
            track.add(samples, t_first)

    def _ended(self) -> None:
        src, self._audio = self._audio, None
        if src is not None:
            src.stop()

    # ------------------------------------------------------------------ worker thread
    def _handle(self, result: ResultFrame) -> None:
        if result.seq == self._last_seq:  # the same capture twice (e.g. after a style switch)
            return
        rgb = compose(result, self.layout)
        if self._size is None:
            self._size = even_size(rgb.shape[1], rgb.shape[0])
        if self._container is None and not self._connect(result.t_capture):
            self.frames_dropped += 1  # nowhere to send it
            return
        w, h = self._size
        if rgb.shape[1] != w or rgb.shape[0] != h:
            rgb = rgb[:h, :w] if (rgb.shape[1] - w in (0, 1) and rgb.shape[0] - h in (0, 1)) \
                else resize_to(rgb, w, h)
        st = self._vstream
        tb = st.codec_context.time_base
        pts = max(self._last_pts + 1, round((result.t_capture - self._t0) / tb))
        yuv = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420)
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        if st.codec_context.pix_fmt != "yuv420p":
            frame = frame.reformat(format=st.codec_context.pix_fmt)
        frame.pts, frame.time_base = pts, tb
        self._last_pts, self._last_seq = pts, result.seq
        try:
            self._mux(st.encode(frame))
            self.frames_sent += 1
        except _NETWORK_ERRORS as e:
            self._lost(e)

    def _tick(self) -> None:
        if self._container is not None and self._track is not None and self._astream is not None:
            try:
                self._mux(self._track.encode(self._astream, self._t0))
            except _NETWORK_ERRORS as e:
                self._lost(e)
        now = time.perf_counter()
        if self.stats_every > 0 and now >= self._next_stats:
            if self._next_stats:  # not at the very start
                s = self.stats()
                self._emit("stats", f"Streaming to {self.where}: {s.bitrate_bps / 1e6:.2f} Mbit/s, "
                                    f"{s.frames} frames sent, {s.dropped} dropped"
                                    + ("" if self.connected else " (reconnecting)") + ".")
            self._next_stats = now + self.stats_every

    def _finish(self) -> None:
        if self._container is not None:
            try:
                if self._track is not None and self._astream is not None:
                    self._mux(self._track.encode(self._astream, self._t0, final=True))
                for st in (self._vstream, self._astream):
                    if st is not None:
                        self._mux(st.encode(None))
            except _NETWORK_ERRORS as e:
                log.info("stream: flushing at the end failed: %s", brief(e))
            self._close_container()
        self._emit("stopped", f"Stream to {self.where} ended: {self.frames_sent} frames sent, "
                              f"{self.frames_dropped} dropped.")

    def _failed(self, exc: BaseException) -> None:
        self._close_container()
        msg = str(exc) if isinstance(exc, OutputError) else f"the encoder failed ({self._reason(exc)})"
        self.last_error = msg
        self._emit("error", f"Streaming stopped: {msg}")

    # ------------------------------------------------------------------ connection
    def _mux(self, packets) -> None:
        for pkt in packets:
            size = pkt.size
            self._container.mux(pkt)
            self._meter.add(size)

    def _reason(self, exc: BaseException) -> str:
        """``exc``'s first line without the URL (PyAV names it, stream key and all)."""
        return brief(exc).replace(f": '{self.url}'", "").replace(self.url, self.where)

    def _reachable(self) -> str | None:
        """For TCP schemes: None when the server accepts a connection, else why not. A plain
        socket (releases the GIL, unlike PyAV's connect)."""
        if self.scheme not in _TCP_SCHEMES:
            return None
        p = urlsplit(self.url)
        try:
            port = p.port or _DEFAULT_PORTS[self.scheme]
            with socket.create_connection((p.hostname, port), timeout=self.connect_timeout):
                return None
        except (OSError, ValueError) as e:
            return self._reason(e)

    def _connect(self, t_first: float) -> bool:
        now = time.perf_counter()
        if now < self._next_try or self._stopping:
            return False
        reason = self._reachable()
        if reason is None:
            try:
                self._open_container()
            except OutputError:
                raise
            except _NETWORK_ERRORS as e:
                self._close_container()
                reason = self._reason(e)
        if reason is not None:
            self._retry_later(reason)
            return False
        self._t0, self._last_pts = t_first, -1
        if self._track is not None:
            self._track.restart()
        self.connections += 1
        self._delay = self.backoff[0]
        self.last_error = None
        again = " again" if self.connections > 1 else ""
        w, h = self._size
        sound = " with sound" if self._astream is not None else ""
        self._emit("started", f"Streaming{again} to {self.where} ({w}x{h} {self.encoder_name}{sound}).")
        return True

    def _open_container(self) -> None:
        w, h = self._size
        name, skipped = choose_encoder(w, h, self.fps, self._candidates)  # OutputError: none opens
        for k, v in skipped.items():
            log.info("encoder %s skipped: %s", k, v)
        t = self.connect_timeout
        opts = {"flush_packets": "1"}
        if self.format == "mpegts":
            opts["mpegts_flags"] = "resend_headers"
        c = av.open(self.url, mode="w", format=self.format, options=opts, timeout=(t, t))
        self._container = c
        st = c.add_stream(name, rate=Fraction(self.fps).limit_denominator(1001))
        configure(st.codec_context, name, w, h, self.fps, pix_fmt(av.codec.Codec(name, "w")) or "yuv420p",
                  bitrate=self.bitrate or auto_bitrate(w, h, self.fps))
        st.time_base = st.codec_context.time_base
        self._vstream, self.encoder_name = st, name
        self._astream = None
        if self._audio is not None:
            a = c.add_stream("aac", rate=self._audio.sample_rate)
            a.codec_context.layout = "mono" if self._audio.channels == 1 else "stereo"
            a.codec_context.format = "fltp"
            a.codec_context.bit_rate = 128_000
            a.time_base = Fraction(1, self._audio.sample_rate)
            self._astream = a
        c.start_encoding()  # connects (RTMP handshake) and writes the header now

    def _close_container(self) -> None:
        c, self._container = self._container, None
        self._vstream = self._astream = None
        if c is not None:
            with contextlib.suppress(Exception):
                c.close()

    def _lost(self, exc: BaseException) -> None:
        self._close_container()
        self._retry_later(f"the connection was lost ({self._reason(exc)})")

    def _retry_later(self, reason: str) -> None:
        delay = self._delay
        self._next_try = time.perf_counter() + delay
        self._delay = min(self.backoff[1], delay * 2)
        self.last_error = reason
        log.info("stream to %s: %s; retrying in %.1f s", self.where, reason, delay)
        self._emit("reconnecting", f"Stream to {self.where}: {reason}; retrying in {delay:.1f} s.")
