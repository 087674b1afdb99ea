"""Microphone input for recordings (optional: needs the ``audio`` extra, i.e. ``sounddevice``).

An :class:`AudioSource` delivers blocks of ``float32`` samples shaped ``(n, channels)`` in
``[-1, 1]`` together with the ``time.perf_counter()`` of the block's first sample, on its own thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
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
