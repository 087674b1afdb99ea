"""``cartoon-cam live``: the live pipeline without a window, for streaming rigs and scripts.

Runs capture → style → outputs (recording, virtual camera, live stream, periodic snapshots; built
from :data:`cartoon_cam.outputs.registry.OUTPUTS` and run in an ``OutputSet``, like the window's),
prints the stats and each output's status every few seconds, and stops cleanly on Ctrl-C, SIGTERM, ``--duration`` or the end of a video file
(played once unless ``--loop``), finalising every output. A missing virtual-camera driver is
reported and the run goes on; so is a stream server that goes away (the stream reconnects).

Exit status: 0 when every requested output got something; 2 for a usage or input problem found
before anything opens (bad arguments, ``--record`` naming the source or an existing file without
``--overwrite``, a ``--stream`` URL of an unsupported scheme, a style that cannot run on the requested backend/device, a source over the size
limits); 1 when something failed while running (the recording failed or got no frame, no snapshot
could be written, nothing could be streamed, the style could not be loaded); 130 after Ctrl-C (everything is still finalised).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError
from ..files import check_output
from ..settings import resolution_arg

if TYPE_CHECKING:
    from ..inference.catalog import StyleCatalog
    from ..inference.style import StyleFile
from ..limits import describe_limits
from ._common import add_backend_args

NAME = "live"
HELP = "run the live pipeline headless: record, stream, feed a virtual camera, take snapshots"
EPILOG = (f"Limits: {describe_limits()}. Exit status: 0 ok; 2 usage or input error (nothing was "
          "opened); 1 runtime failure or a requested output that got nothing; 130 Ctrl-C.")
EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
FPS_REFRESH_S = 0.5  # how often the virtual camera's send rate follows the source's frame rate


def _positive(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be greater than 0")
    return v


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", default="camera", metavar="SRC",
                   help="demo | camera | camera:INDEX | camera:NAME | a video or image file (default: camera)")
    p.add_argument("--loop", action="store_true",
                   help="play a video file in a loop (default: once, then stop)")
    p.epilog = EPILOG
    p.add_argument("--style", default=None, metavar="STYLE",
                   help="style id (see `styles list`) or a model file (default: the window's default, "
                        "the best built-in this machine runs in real time)")
    add_backend_args(p)
    p.add_argument("--resolution", type=resolution_arg, default=None, metavar="WxH",
                   help="capture size to ask the camera (or the demo) for")
    p.add_argument("--fps", type=_positive, default=None, help="capture frame rate to ask for")
    p.add_argument("--mirror", action="store_true",
                   help="mirror the frames at capture (recording, snapshots; the virtual camera "
                        "follows --vcam-mirror only)")
    p.add_argument("--record", type=Path, default=None, metavar="OUT.mp4",
                   help="record to this MP4 file (never the source; an existing file only with --overwrite)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --record file")
    p.add_argument("--audio", action="store_true",
                   help="record / stream the microphone too (needs the 'audio' extra and an input device)")
    p.add_argument("--stream", default=None, metavar="URL",
                   help="stream live as H.264 (+ AAC with --audio): rtmp://… (FLV) or udp://… / srt://… "
                        "(MPEG-TS); reconnects when the server goes away")
    p.add_argument("--stream-bitrate", type=_positive, default=None, metavar="KBIT",
                   help="video bitrate of --stream in kbit/s (default: about 0.15 bit per pixel)")
    p.add_argument("--side-by-side", action="store_true",
                   help="outputs show original | cartoon instead of the cartoon alone")
    p.add_argument("--virtual-camera", action="store_true",
                   help="send to a virtual camera (needs the 'vcam' extra and a driver)")
    p.add_argument("--vcam-size", type=resolution_arg, default=(1280, 720), metavar="WxH",
                   help="virtual camera size, letterboxed (default: 1280x720)")
    p.add_argument("--vcam-mirror", action="store_true", help="mirror the virtual camera picture")
    p.add_argument("--snapshot-every", type=_positive, default=None, metavar="S",
                   help="save a snapshot every S seconds")
    p.add_argument("--snapshot-dir", type=Path, default=None, metavar="DIR",
                   help="snapshot folder (default: your Pictures/cartoon_cam)")
    p.add_argument("--snapshot-format", choices=("png", "jpeg"), default="png")
    p.add_argument("--duration", type=_positive, default=None, metavar="SECONDS",
                   help="stop after this many seconds (default: run until Ctrl-C / SIGTERM)")
    p.add_argument("--stats-every", type=float, default=2.0, metavar="S",
                   help="print stats every S seconds (0: never; default: 2)")


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:d}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


def _source_file(spec: str) -> Path | None:
    """The file a ``--source`` spec names, if it names one."""
    low = spec.strip().lower()
    if low == "demo" or low == "camera" or low.startswith("camera:"):
        return None
    p = Path(spec.strip()).expanduser()
    return p if p.exists() else None


def _choose_style(args: argparse.Namespace, say, catalog: StyleCatalog) -> str:
    """``--style``, or the window's default style (saying which)."""
    if args.style:
        return args.style
    style = catalog.default_style_id()
    say(f"style: {style} (the default on this machine; choose another with --style)")
    return style


def _check_style_runs(style: str, args: argparse.Namespace, catalog: StyleCatalog) -> StyleFile:
    """Load the style and build (and close) its backend once, so a style that cannot run on the
    requested backend/device is a usage error (exit 2) before anything opens, never a silent
    fallback. Returns the loaded style, which the pipeline then runs (it is not loaded twice)."""
    from ..inference.backends import create_backend

    sf = catalog.resolve(style)  # an unknown style or a broken file fails here, with its reason
    b = create_backend(sf, backend=args.backend, device=args.device, size=args.size)
    b.close()
    return sf


def run(args: argparse.Namespace) -> int:
    from ..core.pipeline import Pipeline, PipelineEvent
    from ..core.sources import open_source
    from ..outputs.compose import OutputEvent
    from ..outputs.registry import KINDS, OutputOptions, OutputSet
    from ..outputs.stream import check_stream_url
    from ..outputs.virtual_camera import VirtualCameraError

    quiet = bool(getattr(args, "quiet", False))

    def say(text: str) -> None:
        if quiet and not text.startswith("cartoon-cam: error"):
            return  # -q: errors only
        print(text, file=sys.stderr, flush=True)

    # ---- every check that can fail before anything opens (exit 2)
    if args.audio and args.record is None and args.stream is None:
        raise InputError("--audio needs --record or --stream")
    if args.snapshot_dir is not None and args.snapshot_every is None:
        raise InputError("--snapshot-dir needs --snapshot-every")
    if args.stream_bitrate is not None and args.stream is None:
        raise InputError("--stream-bitrate needs --stream")
    if args.stream is not None:
        check_stream_url(args.stream)  # an unsupported scheme names the supported ones
    src_file = _source_file(args.source)
    if args.record is not None:
        check_output(args.record, inputs=[src_file] if src_file else [], overwrite=args.overwrite,
                     what="--record")
    if args.snapshot_dir is not None and args.snapshot_dir.exists() and not args.snapshot_dir.is_dir():
        raise InputError(f"--snapshot-dir {args.snapshot_dir} is not a folder")
    layout = "side_by_side" if args.side_by_side else "cartoon"
    w, h = args.resolution or (None, None)
    source = open_source(args.source, width=w, height=h, fps=args.fps, loop=args.loop)
    from ..inference.catalog import StyleCatalog

    catalog = StyleCatalog()
    try:
        style = _check_style_runs(_choose_style(args, say, catalog), args, catalog)
    except BaseException:
        source.close()
        raise

    stop = threading.Event()
    status = {"code": EXIT_OK, "why": ""}
    seen = {"opened": False, "snapshots": 0, "snapshot_errors": 0}

    def fail(code: int, why: str) -> None:
        if status["code"] == EXIT_OK:
            status["code"], status["why"] = code, why

    def on_pipeline_event(ev: PipelineEvent) -> None:
        say(f"[{ev.kind}] {ev.message}")
        if ev.kind in ("source_opened", "source_recovered"):
            seen["opened"] = True
        if ev.kind == "source_ended":
            status["why"] = status["why"] or "the source ended"
            stop.set()
        if ev.kind == "style_failed":  # no silent fallback: the style asked for is the one that runs
            fail(EXIT_FAIL, "the style could not be loaded")
            stop.set()

    def on_output_event(ev: OutputEvent) -> None:
        if ev.kind == "stats":  # the status line shows these
            return
        if ev.kind in ("error", "warning"):
            say(f"cartoon-cam: {ev.kind}: {ev.message}")
        else:
            say(f"[{ev.output}] {ev.message}")
        if ev.output == "snapshot":
            seen["snapshots" if ev.kind == "saved" else "snapshot_errors"] += 1
        if ev.output == "recorder" and ev.kind == "error":
            fail(EXIT_FAIL, "the recording failed")
            stop.set()
        if ev.output == "stream" and ev.kind == "error":
            fail(EXIT_FAIL, "the stream failed")
            stop.set()

    pipeline = Pipeline(source, style, load=catalog.resolve, backend=args.backend, device=args.device,
                        size=args.size, mirror=args.mirror, on_event=on_pipeline_event,
                        fallback_style=None)
    opts = OutputOptions(on_event=on_output_event, fps=source.fps, layout=layout,
                         record_path=args.record, audio=args.audio and args.record is not None,
                         overwrite=args.overwrite, vcam_size=args.vcam_size, vcam_mirror=args.vcam_mirror,
                         stream_url=args.stream, stream_audio=args.audio and args.stream is not None,
                         stream_bitrate=int(args.stream_bitrate * 1000) if args.stream_bitrate else None,
                         snapshot_dir=args.snapshot_dir, snapshot_format=args.snapshot_format)
    outputs = OutputSet(pipeline)
    snaps = None
    previous = {}
    interrupted = {"sigint": False}

    def on_signal(signum, _frame) -> None:
        status["why"] = signal.Signals(signum).name
        interrupted["sigint"] = interrupted["sigint"] or signum == signal.SIGINT
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    t_start = time.perf_counter()
    try:
        # before the pipeline starts: a bad path fails fast (exit 2); the stream connects on its thread
        for name, wanted in (("recorder", args.record is not None), ("stream", args.stream is not None)):
            if wanted:
                outputs.attach(KINDS[name].build(opts).open())
        pipeline.start()
        if args.virtual_camera:
            _wait_source(pipeline, stop, 5.0)  # so the camera opens at the source's real rate
            opts.fps = pipeline.source_fps
            vcam = KINDS["virtual_camera"].build(opts).open()
            try:
                vcam.wait_open(10.0)
                outputs.attach(vcam)
            except VirtualCameraError:
                vcam.close()  # already reported through on_output_event; go on without it
        if args.snapshot_every:
            snaps = outputs.attach(KINDS["snapshot"].build(opts).open())  # saved on request, below
        _loop(args, pipeline, outputs, stop, t_start, status)
        if pipeline.source_state == "ended":
            _drain(pipeline, 2.0)  # the last frames reach the outputs before they are finalised
    finally:
        pipeline.stop(timeout=2.0)
        recorder, stream = outputs.get("recorder"), outputs.get("stream")
        outputs.close_all(timeout=15.0)
        for sig, handler in previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, handler)
    took = time.perf_counter() - t_start
    why = f" ({status['why']})" if status["why"] else ""
    say(f"stopped after {took:.1f} s{why}")
    never = "" if seen["opened"] else " (the source never opened)"
    if recorder is not None:
        if recorder.error is None and recorder.frames_written:
            info = recorder.info
            say(f"recorded {info.frames} frames, {info.duration_s:.1f} s, {info.dropped} dropped "
                f"({info.encoder}) to {info.path}")
        elif recorder.error is None:
            say(f"cartoon-cam: error: nothing was recorded to {args.record}{never}; no file was left")
            fail(EXIT_FAIL, "nothing was recorded")
    if stream is not None:
        s = stream.stats()
        if s.frames:
            say(f"streamed {s.frames} frames, {s.dropped} dropped, {stream.connections} connection(s) "
                f"to {stream.where}")
        elif s.state != "failed":
            last = f": {stream.last_error}" if stream.last_error else ""
            say(f"cartoon-cam: error: nothing was streamed to {stream.where}{never}{last}")
            fail(EXIT_FAIL, "nothing was streamed")
    if snaps is not None and seen["snapshots"] == 0:
        what = (f"{seen['snapshot_errors']} failed" if seen["snapshot_errors"]
                else f"no frame was ready{never}")
        say(f"cartoon-cam: error: no snapshot was written to {snaps.folder} ({what})")
        fail(EXIT_FAIL, "no snapshot was written")
    if interrupted["sigint"] and status["code"] == EXIT_OK:
        return EXIT_INTERRUPTED
    return int(status["code"])


def _wait_source(pipeline, stop: threading.Event, timeout: float) -> None:
    """Wait (at most ``timeout`` s) until the source has opened, failed or ended."""
    end = time.perf_counter() + timeout
    while pipeline.source_state == "starting" and not stop.is_set() and time.perf_counter() < end:
        stop.wait(0.02)


def _drain(pipeline, timeout: float) -> None:
    """Wait (at most ``timeout`` s) until the newest captured frame has been styled."""
    end = time.perf_counter() + timeout
    while time.perf_counter() < end and pipeline.running:
        f, r = pipeline.latest_frame(), pipeline.latest_result()
        if f is None or (r is not None and r.seq >= f.seq):
            return
        time.sleep(0.01)


def _loop(args, pipeline, outputs, stop: threading.Event, t_start: float, status: dict) -> None:
    deadline = t_start + args.duration if args.duration else None
    next_stats = t_start + args.stats_every if args.stats_every > 0 else None
    snaps, vcam = outputs.get("snapshot"), outputs.get("virtual_camera")
    next_snap = t_start + args.snapshot_every if snaps is not None else None
    next_fps = t_start + FPS_REFRESH_S if vcam is not None else None
    last_snap_seq = -1
    while not stop.is_set():
        now = time.perf_counter()
        if deadline is not None and now >= deadline:
            status["why"] = status["why"] or f"--duration {args.duration:g} s"
            break
        if next_fps is not None and now >= next_fps:
            next_fps += FPS_REFRESH_S
            vcam.fps = pipeline.source_fps  # known once the source has opened; follows it after
        if next_snap is not None and now >= next_snap:
            next_snap += args.snapshot_every
            r = pipeline.latest_result()
            if r is not None and r.seq != last_snap_seq:
                last_snap_seq = r.seq
                snaps.submit(r)
        if next_stats is not None and now >= next_stats:
            next_stats += args.stats_every
            if not getattr(args, "quiet", False):
                print(_stats_line(now - t_start, pipeline, outputs), flush=True)
        wake = [t for t in (deadline, next_stats, next_snap, next_fps) if t is not None]
        stop.wait(max(0.0, min(wake) - time.perf_counter()) if wake else 1.0)


def _ms(v: float) -> str:
    """``  42 ms``, or ``   - ms`` before there is anything to measure (never ``nan``)."""
    return "   - ms" if v != v else f"{v:4.0f} ms"  # v != v: NaN


def _stats_line(elapsed: float, pipeline, outputs=None) -> str:
    """The pipeline's stats, then a few words per running output (bitrate and drops for a stream)."""
    s = pipeline.stats()
    parts = [
        f"{_clock(elapsed)}",
        f"capture {s.capture_fps:5.1f} fps",
        f"cartoon {s.inference_fps:5.1f} fps",
        f"latency p50 {_ms(s.latency_p50_ms)} p95 {_ms(s.latency_p95_ms)}",
        f"dropped {s.dropped}",
        f"style {s.style_id or '-'}",
    ]
    return " | ".join(parts + (outputs.status() if outputs is not None else []))
