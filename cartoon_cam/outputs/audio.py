"""Microphone input for recordings (optional: needs the ``audio`` extra, i.e. ``sounddevice``).

An :class:`AudioSource` delivers blocks of ``float32`` samples shaped ``(n, channels)`` in
``[-1, 1]`` together with the ``time.perf_counter()`` of the block's first sample, on its own thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from fractions import Fraction
from typing import Protocol

import numpy as np

from ..errors import OutputError

log = logging.getLogger(__name__)

#: ``callback(samples, t_first)``: float32 ``(n, channels)``, perf_counter time of ``samples[0]``.
AudioCallback = Callable[[np.ndarray, float], None]


class AudioSource(Protocol):
    """A live audio input. ``start`` may raise :class:`OutputError`; ``stop`` is idempotent."""

    sample_rate: int
    channels: int
    name: str

    def start(self, callback: AudioCallback) -> None: ...

    def stop(self) -> None: ...


def _sounddevice():
    try:
        import sounddevice as sd  # optional extra "audio"
    except ImportError as e:
        raise OutputError(
            "microphone recording needs the optional 'sounddevice' package "
            "(pip install 'cartoon-cam[audio]')"
        ) from e
    except OSError as e:  # the module is there but the PortAudio library is not
        raise OutputError(f"microphone recording needs the PortAudio library ({e})") from e
    return sd


class MicrophoneSource:
    """The default input device through ``sounddevice`` (PortAudio)."""

    def __init__(self, sample_rate: int = 48000, channels: int = 1, device: str | int | None = None):
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.device = device
        self.name = "microphone"
        self._stream = None

    def start(self, callback: AudioCallback) -> None:
        sd = _sounddevice()
        sr = self.sample_rate

        def _cb(indata, frames, _time_info, status) -> None:  # PortAudio's thread
            if status:
                log.debug("microphone: %s", status)
            callback(np.array(indata, dtype=np.float32, copy=True), time.perf_counter() - frames / sr)

        try:
            info = sd.query_devices(self.device, kind="input")
            self.name = str(info.get("name", "microphone"))
            self._stream = sd.InputStream(samplerate=sr, channels=self.channels, dtype="float32",
                                          device=self.device, callback=_cb)
            self._stream.start()
        except Exception as e:
            self._stream = None
            raise OutputError(f"cannot open the microphone ({e})") from e

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:  # pragma: no cover - device vanished
                log.debug("closing the microphone failed", exc_info=True)


class ToneSource:
    """A synthetic source (sine tone) for tests and demos: blocks of ``block`` samples in real time."""

    def __init__(self, sample_rate: int = 48000, channels: int = 1, freq: float = 440.0,
                 block: int = 960):
        self.sample_rate, self.channels, self.freq, self.block = sample_rate, channels, freq, block
        self.name = "tone"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, callback: AudioCallback) -> None:
        self._stop.clear()

        def loop() -> None:
            n, t0 = 0, time.perf_counter()
            while not self._stop.is_set():
                t = (n + np.arange(self.block)) / self.sample_rate
                s = (0.2 * np.sin(2 * np.pi * self.freq * t)).astype(np.float32)
                callback(np.repeat(s[:, None], self.channels, axis=1), t0 + n / self.sample_rate)
                n += self.block
                delay = t0 + n / self.sample_rate - time.perf_counter()
                if delay > 0:
                    self._stop.wait(delay)

        self._thread = threading.Thread(target=loop, name="cartoon_cam-tone-audio", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1.0)
            self._thread = None


class AudioTrack:
    """Audio blocks from an :class:`AudioSource` turned into a contiguous AAC track (used on an
    output's worker thread; :meth:`add` may be called from the source's thread).

    Blocks wait in a ``deque(maxlen=500)`` (about 10 s: the oldest go when the worker stalls). The
    first block is placed relative to the video's first frame (``t0``); after that the track stays
    contiguous, and a drift beyond 0.1 s (lost blocks, clock skew) is repaired with silence or a cut.
    """

    FRAME = 1024  # AAC samples per frame

    def __init__(self, sample_rate: int, channels: int):
        self.sample_rate, self.channels = int(sample_rate), int(channels)
        self._blocks: deque[tuple[np.ndarray, float]] = deque(maxlen=500)
        self.restart()

    def restart(self) -> None:
        """Start a new track (a new file or connection): the next block is placed afresh."""
        if hasattr(self, "_blocks"):
            self._blocks.clear()  # sound from before (e.g. while a stream was reconnecting)
        self._pending = np.zeros((0, self.channels), np.float32)
        self._next: int | None = None
        self.frames = 0

    def add(self, samples: np.ndarray, t_first: float) -> None:
        self._blocks.append((samples, t_first))

    def encode(self, stream, t0: float | None, final: bool = False) -> list:
        """Packets for what arrived, encoded by ``stream`` (AAC, fltp); ``final`` flushes the tail."""
        import av

        if t0 is None:
            return []
        sr = self.sample_rate
        while self._blocks:
            block, t = self._blocks.popleft()
            if self._next is None:
                start = round((t - t0) * sr)
                if start < 0:
                    block, start = block[-start:], 0
                self._next = start
            else:
                drift = t - (t0 + (self._next + len(self._pending)) / sr)
                if drift > 0.1:
                    gap = np.zeros((round(drift * sr), block.shape[1]), np.float32)
                    self._pending = np.concatenate([self._pending, gap])
                elif drift < -0.1:
                    block = block[round(-drift * sr):]
            if len(block):
                self._pending = np.concatenate([self._pending, block])
        ch = stream.codec_context.channels
        layout = "mono" if ch == 1 else "stereo"
        packets: list = []
        while self._next is not None and (len(self._pending) >= self.FRAME or (final and len(self._pending))):
            chunk, self._pending = self._pending[: self.FRAME], self._pending[self.FRAME:]
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk.T[:ch], dtype=np.float32),
                                               format="fltp", layout=layout)
            frame.sample_rate = sr
            frame.pts = self._next
            frame.time_base = Fraction(1, sr)
            self._next += len(chunk)
            packets.extend(stream.encode(frame))
            self.frames += 1
        return packets
