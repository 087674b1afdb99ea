"""Record results to an MP4 file (H.264 via PyAV) on an encoder thread of its own.

* Input: :class:`~cartoon_cam.core.frames.ResultFrame` objects handed to :meth:`Recorder.submit`
  (safe to use as a pipeline sink: it never blocks; a bounded queue drops the oldest and counts).
* Picture: the cartoon, the original, or original | cartoon side by side (``(H, 2W)``) at the source resolution,
  cropped to even dimensions; converted RGB → yuv420p (BT.601 limited range, tagged so).
* Time: presentation times come from the frames' capture times (``t_capture``), so a variable frame
  rate plays at the right speed; they are strictly increasing.
* Safety: fragmented MP4 (``empty_moov`` + fragments of at most 0.5 s, flushed as written), so a
  crash or kill loses at most about the last second. A write error (disk full, drive gone) stops the
  recording with a clear :class:`OutputEvent` and leaves the part already written playable.
* Encoders: the first of :data:`ENCODERS` that opens is used (``encoder_name`` says which).
* Audio (optional): AAC from an :class:`~cartoon_cam.outputs.audio.AudioSource` (the microphone when
  ``audio=True`` and ``sounddevice`` finds one; otherwise the recording goes on without sound and
  ``audio_status`` says why).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
import cv2
import numpy as np

from ..core.frames import ResultFrame
from ..errors import OutputError, first_line
from .audio import AudioSource, MicrophoneSource
from .compose import OutputEvent, check_layout, compose, describe_os_error, even_size, resize_to

log = logging.getLogger(__name__)

#: Tried in order; the first that opens wins. Hardware encoders are probed by opening them.
#: ``h264_v4l2m2m`` is left out on purpose: it would grab a /dev/video device (maybe a loopback).
ENCODERS: tuple[str, ...] = (
    "libx264", "h264_nvenc", "h264_qsv", "h264_amf", "h264_videotoolbox", "h264_mf",
    "libopenh264", "mpeg4",
)

_CODEC_OPTIONS: dict[str, dict[str, str]] = {
    # zerolatency: no lookahead and no B-frames, so packets leave the encoder at once (kill safety)
    "libx264": {"preset": "veryfast", "tune": "zerolatency"},
    "h264_nvenc": {"preset": "p4", "tune": "ll", "zerolatency": "1"},
    "h264_qsv": {"preset": "faster", "look_ahead": "0", "async_depth": "1"},
    "h264_amf": {"usage": "lowlatency"},
    "h264_videotoolbox": {"realtime": "1"},
}

#: Fragmented MP4: a playable file at every fragment boundary; fragments ≤ 0.5 s, written at once.
MUX_OPTIONS: dict[str, str] = {
    "movflags": "frag_keyframe+empty_moov+default_base_moof",
    "frag_duration": "500000",  # µs
    "flush_packets": "1",
    "max_interleave_delta": "500000",  # µs: don't hold video back waiting for audio
}

VIDEO_TIME_BASE = Fraction(1, 90000)
AUDIO_FRAME = 1024  # AAC samples per frame

_probe_cache: dict[tuple[str, int, int], str | None] = {}
_probe_lock = threading.Lock()


def _pix_fmt(codec: av.codec.Codec) -> str | None:
    names = [f.name for f in (codec.video_formats or ())]
    if not names or "yuv420p" in names:
        return "yuv420p"
    return "nv12" if "nv12" in names else None


def _configure(ctx, name: str, w: int, h: int, fps: float, pix_fmt: str, crf: int) -> None:
    ctx.width, ctx.height, ctx.pix_fmt = w, h, pix_fmt
    ctx.time_base = Fraction(1, 1000) if name == "mpeg4" else VIDEO_TIME_BASE  # mpeg4: denom ≤ 65535
    ctx.framerate = Fraction(fps).limit_denominator(1001)
    ctx.gop_size = max(1, round(fps))  # a keyframe about every second
    ctx.max_b_frames = 0
    ctx.colorspace, ctx.color_range = 6, 1  # SMPTE 170M (BT.601) matrix, limited ("MPEG") range
    ctx.color_primaries, ctx.color_trc = 1, 1  # BT.709 primaries / transfer (sRGB-like webcams)
    opts = dict(_CODEC_OPTIONS.get(name, {}))
    if name == "libx264":
        opts["crf"] = str(crf)
    else:  # bitrate-driven encoders: ~0.15 bit per pixel
        ctx.bit_rate = int(min(40e6, max(2e6, 0.15 * w * h * fps)))
    ctx.options = opts


def _try_open(name: str, w: int, h: int, fps: float) -> str | None:
    try:
        codec = av.codec.Codec(name, "w")
    except Exception:
        return "not in this FFmpeg build"
    pix = _pix_fmt(codec)
    if pix is None:
        return "no 4:2:0 input format"
    try:
        ctx = av.CodecContext.create(codec)
        _configure(ctx, name, w, h, fps, pix, 23)
        ctx.open()
        if name not in ("libx264", "mpeg4"):  # hardware: make sure a frame really encodes
            frame = av.VideoFrame(w, h, pix)
            frame.pts = 0
            ctx.encode(frame)
            ctx.encode(None)
    except Exception as e:
        return first_line(e)
    return None


def probe_encoder(name: str, w: int = 640, h: int = 480, fps: float = 30.0) -> str | None:
    """``None`` when encoder ``name`` opens for ``w`` x ``h``, else the reason it can't be used.
    Results are cached per (name, size) for the process."""
    key = (name, w, h)
    with _probe_lock:
        if key not in _probe_cache:
            _probe_cache[key] = _try_open(name, w, h, fps)
        return _probe_cache[key]


def choose_encoder(w: int, h: int, fps: float = 30.0,
                   candidates: Sequence[str] | None = None) -> tuple[str, dict[str, str]]:
    """The first encoder of ``candidates`` (default :data:`ENCODERS`) that opens, and the reasons the
    ones before it were skipped. Raises :class:`OutputError` listing every reason when none opens."""
    skipped: dict[str, str] = {}
    for name in candidates or ENCODERS:
        reason = probe_encoder(name, w, h, fps)
        if reason is None:
            return name, skipped
        skipped[name] = reason
    raise OutputError("no video encoder could be opened: "
                      + "; ".join(f"{k}: {v}" for k, v in skipped.items()))


class _OutputFile:
    """Unbuffered, non-seekable writer for the muxer that remembers the first write error."""

    def __init__(self, fh: BinaryIO):
        self._fh = fh
        self.bytes_written = 0
        self.error: OSError | None = None

    def write(self, data) -> int:
        if self.error is not None:
            raise self.error
        mv = memoryview(data).cast("B")
        done = 0
        try:
            while done < len(mv):
                n = self._fh.write(mv[done:])
                done += len(mv) - done if n is None else n
        except OSError as e:
            self.error = e
            raise
        self.bytes_written += done
        return done

    def flush(self) -> None:
        pass

    def truncate(self, size: int) -> None:
        """Cut the file back to ``size`` bytes (drop a half-written fragment); best effort."""
        try:
            self._fh.truncate(size)
        except (OSError, AttributeError, ValueError):
            log.debug("could not truncate the recording", exc_info=True)

    def close(self) -> None:
        try:
            self._fh.close()
        except OSError as e:
            self.error = self.error or e


def _default_opener(path: Path, overwrite: bool = False) -> BinaryIO:
    """Open ``path`` for the muxer: a new file (``FileExistsError`` if one is there) unless
    ``overwrite``. ``open`` gives it the usual ``0666 & ~umask`` permissions."""
    return open(path, "wb" if overwrite else "xb", buffering=0)  # noqa: SIM115 - closed by _OutputFile


@dataclass(frozen=True)
class RecordingInfo:
    """What a finished recording holds."""

    path: Path
    frames: int
    dropped: int
    duration_s: float
    encoder: str | None
    audio: bool
    error: str | None


class Recorder:
    """Encode results into ``path`` (MP4) on a thread of its own.

    ``layout``: ``cartoon`` | ``original`` | ``side_by_side``. ``fps``: the nominal frame rate (a
    rate-control and keyframe hint; timing comes from capture times). ``encoder``: one name or a
    list to try instead of :data:`ENCODERS`. ``queue_size``: results waiting for the encoder before
    the oldest is dropped. ``audio``: ``True`` for the microphone or an :class:`AudioSource`.
    ``on_event(OutputEvent)`` is called on the recorder's threads (marshal it to a GUI yourself).
    ``opener(path) -> binary file`` opens the output (tests inject failing files). An existing
    ``path`` is never replaced unless ``overwrite`` (the window names its files uniquely).
    A recording that ends with nothing in it (no frames, or a disk full from the first byte)
    leaves no file behind.
    """

    def __init__(self, path: str | Path, *, layout: str = "cartoon", fps: float | None = None,
                 encoder: str | Sequence[str] | None = None, crf: int = 23, queue_size: int = 32,
                 audio: bool | AudioSource = False,
                 on_event: Callable[[OutputEvent], None] | None = None,
                 opener: Callable[[Path], BinaryIO] | None = None, overwrite: bool = False):
        self.path = Path(path)
        self.overwrite = bool(overwrite)
        self.layout = check_layout(layout)
        self.fps = float(fps) if fps and fps > 0 else 30.0
        self._candidates = [encoder] if isinstance(encoder, str) else (list(encoder) if encoder else None)
        self.crf = int(crf)
        self._queue: deque[ResultFrame] = deque()
        self._queue_size = max(1, int(queue_size))
        self._audio_req = audio
        self._on_event = on_event
        self._opener = opener or (lambda p: _default_opener(p, self.overwrite))

        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._running = False
        self._t_start: float | None = None
        self._t_stop: float | None = None
        self._file: _OutputFile | None = None
        self._container = None
        self._vstream = None
        self._astream = None
        self._size: tuple[int, int] | None = None
        self._t0: float | None = None
        self._last_pts = -1
        self._last_seq: int | None = None
        self._last_t: float | None = None
        self._good_size = 0
        self._muxed_t: float | None = None
        self._saved_t: float | None = None
        self.frames_written = 0
        self.frames_dropped = 0
        self.encoder_name: str | None = None
        self.error: OutputError | None = None
        # audio
        self._audio: AudioSource | None = None
        self.audio_status = "off"
        self._audio_blocks: deque[tuple[np.ndarray, float]] = deque(maxlen=500)
        self._audio_pending = np.zeros((0, 1), np.float32)
        self._audio_next: int | None = None
        self.audio_frames = 0

    # ---------------------------------------------------------------- public API
    def start(self) -> Recorder:
        """Open the file and start the encoder thread. Raises :class:`OutputError` if the file can't
        be created (bad folder, no permission, read-only drive)."""
        if self._thread is not None:
            raise RuntimeError("a Recorder can be started once")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"cannot start recording: {describe_os_error(e, self.path)}") from e
        try:
            self._file = _OutputFile(self._opener(self.path))
        except FileExistsError:
            raise OutputError(f"cannot start recording: {self.path} exists "
                              "(use --overwrite to replace it)") from None
        except OSError as e:
            raise OutputError(f"cannot start recording: {describe_os_error(e, self.path)}") from e
        try:
            self._container = av.open(self._file, mode="w", format="mp4", options=dict(MUX_OPTIONS))
        except Exception as e:
            self._file.close()
            raise OutputError(f"cannot start recording to {self.path}: {e}") from e
        self._start_audio()
        self._t_start = time.perf_counter()
        self._running = True
        self._thread = threading.Thread(target=self._run, name="cartoon_cam-recorder", daemon=True)
        self._thread.start()
        return self

    def submit(self, result: ResultFrame) -> bool:
        """Queue ``result`` for encoding; never blocks. Returns False when not recording."""
        with self._cond:
            if not self._running or self._stopping:
                return False
            if len(self._queue) >= self._queue_size:
                self._queue.popleft()
                self.frames_dropped += 1
            self._queue.append(result)
            self._cond.notify()
        return True

    def stop(self, timeout: float = 10.0) -> RecordingInfo:
        """Encode what is queued, finalise the file and return what was recorded. Idempotent."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("recorder thread did not finish within %.1f s", timeout)
        self._stop_audio()
        if self._t_stop is None:
            self._t_stop = time.perf_counter()
        return self.info

    close = stop

    def __enter__(self) -> Recorder:
        return self.start() if self._thread is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def is_recording(self) -> bool:
        return self._running and not self._stopping

    @property
    def is_finalising(self) -> bool:
        """True while the encoder thread is still writing after :meth:`stop` (which timed out)."""
        return self._stopping and self._thread is not None and self._thread.is_alive()

    @property
    def elapsed(self) -> float:
        """Seconds since :meth:`start` (frozen when the recording ends)."""
        if self._t_start is None:
            return 0.0
        end = self._t_stop if self._t_stop is not None else time.perf_counter()
        return max(0.0, end - self._t_start)

    @property
    def duration(self) -> float:
        """Seconds of video written so far (capture time of the last frame minus the first)."""
        if self._t0 is None or self._last_t is None:
            return 0.0
        return self._last_t - self._t0

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def info(self) -> RecordingInfo:
        return RecordingInfo(self.path, self.frames_written, self.frames_dropped, self.duration,
                             self.encoder_name, self._astream is not None,
                             None if self.error is None else str(self.error))

    # ---------------------------------------------------------------- events
    def _emit(self, kind: str, message: str) -> None:
        if self._on_event is None:  # nobody listens: the log is the only place it shows
            if kind in ("error", "warning"):
                log.log(logging.ERROR if kind == "error" else logging.WARNING, "%s", message)
            return
        try:
            self._on_event(OutputEvent("recorder", kind, message, self.path))
        except Exception:
            log.exception("recorder event handler failed")

    # ---------------------------------------------------------------- audio
    def _start_audio(self) -> None:
        req = self._audio_req
        if req is False or req is None:
            return
        source: AudioSource = MicrophoneSource() if req is True else req
        try:
            source.start(self._on_audio)
        except OutputError as e:
            self.audio_status = f"no sound: {e}"
            self._emit("warning", f"Recording without sound: {e}.")
            return
        self._audio = source
        self._audio_pending = np.zeros((0, source.channels), np.float32)
        self.audio_status = f"recording sound from {source.name}"

    def _stop_audio(self) -> None:
        src, self._audio = self._audio, None
        if src is not None:
            src.stop()

    def _on_audio(self, samples: np.ndarray, t_first: float) -> None:
        self._audio_blocks.append((samples, t_first))  # deque(maxlen): drops oldest when stalled

    def _encode_audio(self, final: bool = False) -> None:
        st = self._astream
        if st is None or self._t0 is None:
            return
        sr = st.codec_context.sample_rate
        while self._audio_blocks:
            block, t = self._audio_blocks.popleft()
            if self._audio_next is None:  # first block: place it relative to the first video frame
                start = round((t - self._t0) * sr)
                if start < 0:
                    block = block[-start:]
                    start = 0
                self._audio_next = start
            else:  # keep the stream contiguous; repair drift beyond 0.1 s (lost blocks, clock skew)
                expected = self._t0 + (self._audio_next + len(self._audio_pending)) / sr
                drift = t - expected
                if drift > 0.1:
                    gap = np.zeros((round(drift * sr), block.shape[1]), np.float32)
                    self._audio_pending = np.concatenate([self._audio_pending, gap])
                elif drift < -0.1:
                    block = block[round(-drift * sr):]
            if len(block):
                self._audio_pending = np.concatenate([self._audio_pending, block])
        layout = "mono" if st.codec_context.channels == 1 else "stereo"
        while len(self._audio_pending) >= AUDIO_FRAME or (final and len(self._audio_pending)):
            chunk = self._audio_pending[:AUDIO_FRAME]
            self._audio_pending = self._audio_pending[AUDIO_FRAME:]
            planar = np.ascontiguousarray(chunk.T[: st.codec_context.channels], dtype=np.float32)
            frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout=layout)
            frame.sample_rate = sr
            frame.pts = self._audio_next
            frame.time_base = Fraction(1, sr)
            self._audio_next += len(chunk)
            self._mux(st.encode(frame))
            self.audio_frames += 1

    # ---------------------------------------------------------------- encoder thread
    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    if not self._queue and not self._stopping:
                        self._cond.wait(0.1)
                    item = self._queue.popleft() if self._queue else None
                    done = item is None and self._stopping
                if item is not None:
                    self._encode_video(item)
                self._encode_audio()
                if done:
                    break
            self._finish()
        except OSError as e:
            self._fail(describe_os_error(self._file.error or e, self.path))
        except OutputError as e:
            self._fail(str(e))
        except Exception as e:  # encoder/muxer failure
            if self._file is not None and self._file.error is not None:
                self._fail(describe_os_error(self._file.error, self.path))
            else:
                log.exception("recording failed")
                self._fail(f"the encoder failed ({e})")
        finally:
            with self._cond:
                self._running = False
                self._queue.clear()
            if self._t_stop is None:
                self._t_stop = time.perf_counter()

    def _open_streams(self, w: int, h: int) -> None:
        name, skipped = choose_encoder(w, h, self.fps, self._candidates)
        for k, v in skipped.items():
            log.info("encoder %s skipped: %s", k, v)
        codec = av.codec.Codec(name, "w")
        st = self._container.add_stream(name, rate=Fraction(self.fps).limit_denominator(1001))
        _configure(st.codec_context, name, w, h, self.fps, _pix_fmt(codec) or "yuv420p", self.crf)
        st.time_base = st.codec_context.time_base
        self._vstream = st
        self.encoder_name = name
        if self._audio is not None:
            a = self._container.add_stream("aac", rate=self._audio.sample_rate)
            a.codec_context.layout = "mono" if self._audio.channels == 1 else "stereo"
            a.codec_context.format = "fltp"
            a.codec_context.bit_rate = 128_000
            a.time_base = Fraction(1, self._audio.sample_rate)
            self._astream = a
        what = "H.264" if name != "mpeg4" else "MPEG-4 Part 2: no H.264 encoder is available"
        sound = f"; {self.audio_status}" if self._astream is not None else ""
        self._emit("started", f"Recording {w}x{h} to {self.path} with {name} ({what}{sound}).")

    def _encode_video(self, result: ResultFrame) -> None:
        if result.seq == self._last_seq:  # the same capture twice (e.g. after a style switch)
            return
        rgb = compose(result, self.layout)
        if self._size is None:
            self._size = even_size(rgb.shape[1], rgb.shape[0])
            self._t0 = result.t_capture
            self._open_streams(*self._size)
        w, h = self._size
        if rgb.shape[1] != w or rgb.shape[0] != h:
            if rgb.shape[1] - w in (0, 1) and rgb.shape[0] - h in (0, 1):
                rgb = rgb[:h, :w]  # odd source size: crop one pixel
            else:  # the source changed size mid-recording: keep the file's size
                rgb = resize_to(rgb, w, h)
        st = self._vstream
        tb = st.codec_context.time_base
        pts = round((result.t_capture - self._t0) / tb)
        if pts <= self._last_pts:
            pts = self._last_pts + 1
        yuv = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420)
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        if st.codec_context.pix_fmt != "yuv420p":
            frame = frame.reformat(format=st.codec_context.pix_fmt)
        frame.pts, frame.time_base = pts, tb
        packets = st.encode(frame)
        self._last_pts, self._last_seq, self._last_t = pts, result.seq, result.t_capture
        self.frames_written += 1
        self._mux(packets)

    def _mux(self, packets) -> None:
        """Mux ``packets``; remember where the file last ended on a complete fragment."""
        for pkt in packets:
            before = self._file.bytes_written
            self._container.mux(pkt)
            if self._file.bytes_written != before:  # a fragment (or the header) went to disk
                self._good_size = self._file.bytes_written
                self._saved_t = self._muxed_t
        self._muxed_t = self._last_t

    def _finish(self) -> None:
        """Flush the encoders and close the file (normal end)."""
        if self._vstream is None:  # nothing arrived: leave no empty file behind
            self._close_quietly()
            with contextlib.suppress(OSError):
                self.path.unlink()
            self._emit("warning", f"Nothing was recorded to {self.path} (no frames arrived).")
            return
        self._encode_audio(final=True)
        for st in (self._vstream, self._astream):
            if st is not None:
                self._mux(st.encode(None))
        self._container.close()
        self._container = None
        self._file.close()
        if self._file.error is not None:
            raise self._file.error
        self._emit("stopped", f"Saved {self.duration:.1f} s ({self.frames_written} frames) to {self.path}.")

    def _close_quietly(self) -> None:
        c, self._container = self._container, None
        if c is not None:
            try:
                c.close()
            except Exception:
                log.debug("closing the container after an error failed", exc_info=True)
        if self._file is not None:
            self._file.close()

    def _remove_empty(self) -> None:
        """Delete the output when it holds nothing playable (best effort; custom openers may not
        have made a file at ``path`` at all)."""
        with contextlib.suppress(OSError):
            if self.path.is_file():
                self.path.unlink()
                log.info("removed the empty recording %s", self.path)

    def _fail(self, reason: str) -> None:
        if self._file is not None and self._file.error is not None:
            self._file.truncate(self._good_size)  # end the file on its last complete fragment
        self._close_quietly()
        if self._good_size == 0:  # not one complete fragment: an empty or unplayable file
            self._remove_empty()
        saved_s = 0.0 if self._saved_t is None or self._t0 is None else self._saved_t - self._t0
        saved = (f" The first {saved_s:.1f} s were saved to {self.path}."
                 if self._saved_t is not None else "")
        self.error = OutputError(f"Recording stopped: {reason}.{saved}")
        self._emit("error", str(self.error))
