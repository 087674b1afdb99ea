"""The outputs the app offers, listed once, and the set of running ones (no Qt).

:data:`OUTPUTS` is where a new output goes: write a class that fits
:class:`~cartoon_cam.outputs.base.Output` (usually a :class:`~cartoon_cam.outputs.base.ThreadedOutput`),
then add one :class:`OutputKind` line here. The window (``ui/outputs_controller.py``) and
``cartoon-cam live`` (``commands/live.py``) both build outputs from these kinds with one
:class:`OutputOptions`, run them in an :class:`OutputSet` (open → pipeline sink → close, one
deadline for all) and show :meth:`OutputSet.status` in their status line / tooltips.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .audio import AudioSource
from .base import EventHandler, Output


@dataclass
class OutputOptions:
    """What the outputs are asked to do; the window fills it from its settings, ``live`` from its
    arguments. Fields an output doesn't use are ignored by it."""

    on_event: EventHandler | None = None
    fps: float | None = None
    layout: str = "cartoon"  # the default for every output below left at None
    # recorder
    record_path: Path | None = None
    record_layout: str | None = None
    audio: bool | AudioSource = False
    overwrite: bool = False
    record_crf: int = 23  # x264 quality: lower is better and bigger
    # virtual camera
    vcam_size: tuple[int, int] = (1280, 720)
    vcam_layout: str | None = None
    vcam_mirror: bool = False
    camera_factory: Any = None
    # stream
    stream_url: str | None = None
    stream_layout: str | None = None
    stream_bitrate: int | None = None
    stream_audio: bool | AudioSource = False
    # snapshots
    snapshot_dir: Path | None = None
    snapshot_format: str = "png"
    snapshot_layout: str | None = None


def _recorder(o: OutputOptions) -> Output:
    from .recorder import Recorder

    if o.record_path is None:
        raise ValueError("a recording needs a path")
    return Recorder(o.record_path, layout=o.record_layout or o.layout, fps=o.fps, audio=o.audio,
                    on_event=o.on_event, overwrite=o.overwrite, crf=o.record_crf)


def _virtual_camera(o: OutputOptions) -> Output:
    from .virtual_camera import VirtualCamera

    return VirtualCamera(width=o.vcam_size[0], height=o.vcam_size[1], fps=o.fps,
                         layout=o.vcam_layout or o.layout, mirror=o.vcam_mirror,
                         camera_factory=o.camera_factory, on_event=o.on_event)


def _stream(o: OutputOptions) -> Output:
    from .stream import StreamOutput

    if not o.stream_url:
        raise ValueError("a stream needs a URL")
    return StreamOutput(o.stream_url, layout=o.stream_layout or o.layout, fps=o.fps,
                        bitrate=o.stream_bitrate, audio=o.stream_audio, on_event=o.on_event)


def _snapshot(o: OutputOptions) -> Output:
    from .snapshot import SnapshotWriter

    return SnapshotWriter(o.snapshot_dir, fmt=o.snapshot_format, layout=o.snapshot_layout or o.layout,
                          on_event=o.on_event)


def _frames_status(word: str, what: str = "frames") -> Callable[[Output], str]:
    def status(out: Output) -> str:
        s = out.stats()
        state = "" if s.state == "running" else f" {s.state}"
        return f"{word}{state} {s.frames} {what}" + (f" ({s.dropped} dropped)" if s.dropped else "")

    return status


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:d}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


def _recorder_status(out: Output) -> str:
    s = out.stats()
    state = "REC" if s.state == "running" else f"rec {s.state}"
    return f"{state} {_clock(getattr(out, 'elapsed', 0.0))} {s.frames} frames ({s.dropped} dropped)"


def _stream_status(out: Output) -> str:
    s = out.stats()
    rate = f"{(s.bitrate_bps or 0) / 1e6:.2f} Mbit/s"
    return f"stream {s.state} {rate} {s.frames} frames ({s.dropped} dropped)"


@dataclass(frozen=True)
class OutputKind:
    """One output the app offers. ``name``: its ``Output.name`` / ``OutputEvent.output``.
    ``label``: the window's action. ``build(options)``: a new, unopened output. ``status(out)``:
    a few words for a status line. ``sink``: fed every result (False: snapshots are requests)."""

    name: str
    label: str
    build: Callable[[OutputOptions], Output]
    status: Callable[[Output], str]
    sink: bool = True


#: Every output, in the order the window's toolbar and live's status line show them.
OUTPUTS: tuple[OutputKind, ...] = (
    OutputKind("snapshot", "Snapshot", _snapshot, _frames_status("snapshots", "saved"), sink=False),
    OutputKind("recorder", "Record", _recorder, _recorder_status),
    OutputKind("virtual_camera", "Virtual camera", _virtual_camera, _frames_status("vcam", "sent")),
    OutputKind("stream", "Stream", _stream, _stream_status),
)
KINDS: dict[str, OutputKind] = {k.name: k for k in OUTPUTS}


class OutputSet:
    """The running outputs of one window or one ``live`` run, fed by one pipeline.

    :meth:`attach` makes an opened output a sink of the pipeline (unless its kind says it isn't);
    :meth:`detach` removes it (the caller closes it, maybe on another thread); :meth:`close_all`
    detaches and closes every one within one overall deadline. Not thread-safe: use it from one
    thread (the GUI thread, or live's main thread). Nothing here blocks except :meth:`close_all`.
    """

    def __init__(self, pipeline: Any):
        self.pipeline = pipeline
        self._outputs: dict[str, Output] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._outputs

    def get(self, name: str) -> Output | None:
        return self._outputs.get(name)

    def items(self) -> list[tuple[str, Output]]:
        return list(self._outputs.items())

    def attach(self, out: Output) -> Output:
        """Register ``out`` (already opened) and feed it the pipeline's results."""
        old = self._outputs.get(out.name)
        if old is not None and old is not out:
            raise RuntimeError(f"a {out.name} output is already running")
        self._outputs[out.name] = out
        kind = KINDS.get(out.name)
        if kind is None or kind.sink:
            self.pipeline.add_sink(out.submit)
        return out

    def detach(self, name: str) -> Output | None:
        """Stop feeding the output ``name`` and forget it; returns it (not closed) or None."""
        out = self._outputs.pop(name, None)
        if out is not None:
            self.pipeline.remove_sink(out.submit)
        return out

    def close_all(self, timeout: float = 10.0) -> list[Output]:
        """Detach and close every output, all within ``timeout`` s; returns those still finishing."""
        deadline = time.perf_counter() + timeout
        late = []
        for name in list(self._outputs):
            out = self.detach(name)
            if out is None:
                continue
            out.close(max(0.0, deadline - time.perf_counter()))
            if getattr(out, "finishing", False):
                late.append(out)
        return late

    def status(self) -> list[str]:
        """A few words per running output, in :data:`OUTPUTS` order."""
        order = {k.name: i for i, k in enumerate(OUTPUTS)}
        parts = []
        for name, out in sorted(self._outputs.items(), key=lambda kv: order.get(kv[0], len(order))):
            kind = KINDS.get(name)
            parts.append(kind.status(out) if kind else f"{name} {out.stats().state}")
        return parts
