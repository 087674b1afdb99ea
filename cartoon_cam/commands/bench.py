"""``cartoon-cam bench``: style × backend × size → ms/frame, fps, GFLOP/s and how close to the CPU's peak.

For each case it times the *network alone* (:meth:`Backend.network_fn`: PyTorch forward on a ready
float tensor, the ONNX Runtime / OpenVINO graph on a ready input) and the *end-to-end*
``Backend.process`` on a camera-sized uint8 frame (resize, pad, normalise, run, quantise, crop,
resize back), so the overhead of our pre/post processing is visible. GFLOP/s are the network's
FLOPs over the network-alone time, and "% peak" divides them by this CPU's measured fp32 peak (a
large sgemm, see :mod:`cartoon_cam.inference.cpu`). It also says which backend ``auto`` picks.

``--pipeline``: the live pipeline instead, headless, on the demo source (or ``--source``) for
``--seconds`` per case: capture → cartoon-ready latency p50/p95, cartoon fps, dropped frames and
the process's CPU use.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ONNX_EXTRA, InputError, module_installed
from ..settings import resolution_arg

if TYPE_CHECKING:
    from ..core.pipeline import Pipeline
    from ..inference.backends import Backend
    from ..inference.catalog import StyleCatalog
    from ..inference.style import StyleFile

NAME = "bench"
HELP = "measure inference speed (ms/frame, fps, GFLOP/s, share of the CPU peak) per style, backend and size"


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("--style", action="append", dest="styles", metavar="STYLE",
                   help="style id or model file (repeatable; default: every listed style)")
    p.add_argument("--backend", action="append", dest="backends",
                   choices=["torch", "onnx", "openvino", "openvino-bf16", "classic", "auto"],
                   help="backends to compare (repeatable; default: every one installed that can run the "
                        "style; openvino-bf16: OpenVINO in bfloat16, on CPUs that have it)")
    p.add_argument("--size", action="append", dest="sizes", type=int, metavar="N",
                   help="inference long side in pixels (repeatable; default: 256, 640 and 1280)")
    p.add_argument("--input", type=resolution_arg, default=(1280, 720), metavar="WxH", help="camera frame size (default 1280x720)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    p.add_argument("--seconds", type=float, default=2.0, help="time budget per case (default 2 s)")
    p.add_argument("--min-frames", type=int, default=3, help="at least this many timed frames per case")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch / ONNX Runtime")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p.add_argument("--no-peak", action="store_true", help="skip measuring the CPU's sgemm peak (1 s)")
    p.add_argument("--pipeline", action="store_true",
                   help="run the live pipeline headless instead: latency p50/p95, cartoon fps, CPU use")
    p.add_argument("--source", default=None, metavar="FILE",
                   help="--pipeline: a video or picture as the camera (default: the moving demo source)")
    p.add_argument("--fps", type=float, default=30.0, help="--pipeline: demo source frame rate (default 30)")
    p.add_argument("--encode", action="store_true",
                   help="--pipeline: also encode the cartoon as H.264 (the recorder, into a temporary "
                        "file deleted afterwards), as a recording or streaming rig would")


@dataclass
class Row:
    style: str
    backend: str
    device: str
    precision: str
    size: str
    gflop: float | None
    model_ms: float | None
    e2e_ms: float
    peak_gflops: float | None = None

    @property
    def fps(self) -> float:
        return 1000.0 / self.e2e_ms

    @property
    def gflops(self) -> float | None:
        """Network FLOPs over the network-alone time (end to end when that wasn't measured)."""
        ms = self.model_ms or self.e2e_ms
        return None if self.gflop is None else self.gflop / (ms / 1000.0)

    @property
    def peak_share(self) -> float | None:
        g = self.gflops
        return None if g is None or not self.peak_gflops else g / self.peak_gflops

    @property
    def overhead_ms(self) -> float | None:
        """End to end minus the network alone. Both are medians of separate runs, so noise can make
        the difference negative when the overhead is tiny: it is shown as 0, never below."""
        return None if self.model_ms is None else max(0.0, self.e2e_ms - self.model_ms)

    @property
    def e2e_share(self) -> float | None:
        return None if self.model_ms is None else min(1.0, self.model_ms / self.e2e_ms)


def _time(fn: Callable[[], object], seconds: float, min_frames: int) -> float:
    """Median ms per call, after one warm-up call."""
    fn()
    times: list[float] = []
    t_end = time.perf_counter() + seconds
    while len(times) < min_frames or time.perf_counter() < t_end:
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
        if len(times) >= 200:
            break
    return statistics.median(times)


def camera_frame(w: int, h: int) -> np.ndarray:
    """A deterministic, textured uint8 RGB frame of a camera's size."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 // w, y * 255 // h, (x // 32 + y // 32) % 2 * 180 + 40], -1).astype(np.int16)
    img += rng.integers(-20, 20, (h, w, 3), dtype=np.int16)
    return np.ascontiguousarray(np.clip(img, 0, 255).astype(np.uint8))


def _make_backend(style: StyleFile, kind: str, size: int, device: str, threads: int | None) -> Backend:
    from ..inference.backends import create_backend

    if kind == "openvino-bf16":
        from ..inference.backends.openvino_backend import OpenVinoBackend

        return OpenVinoBackend(style, device=device, size=size, threads=threads, precision="bf16")
    return create_backend(style, backend=kind if kind != "classic" else "auto", device=device,
                          size=size, threads=threads)


def bench_case(style: StyleFile, kind: str, size: int, frame: np.ndarray, device: str, seconds: float,
               min_frames: int, threads: int | None = None, peak: float | None = None) -> Row:
    from ..inference.backends.base import pad, resize
    from ..inference.flops import style_flops

    b = _make_backend(style, kind, size, device, threads)
    try:
        p = b.plan(*frame.shape[:2])
        padded = np.ascontiguousarray(pad(resize(frame, p.iw, p.ih), p.ph, p.pw))
        fn = b.network_fn(padded)
        model_ms = _time(fn, seconds / 2, min_frames) if b.name != "classic" else None
        e2e_ms = _time(lambda: b.process(frame), seconds, min_frames)
        try:
            fl = style_flops(style, padded.shape[0], padded.shape[1])
        except ImportError:  # FLOP counting needs torch / onnx: the timing stands without it
            fl = None
        name = b.name + ("-auto" if kind == "auto" else "")
        return Row(style.id, name, b.device, b.precision, f"{padded.shape[1]}x{padded.shape[0]}",
                   None if fl is None else fl / 1e9, model_ms, e2e_ms, peak)
    finally:
        b.close()


def format_table(rows: list[Row], markdown: bool) -> str:
    head = ("style", "backend", "device", "prec", "net size", "GFLOP", "model ms", "e2e ms", "fps",
            "GFLOP/s", "% peak", "pre/post ms", "e2e/model")

    def f(v: float | None, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)

    body = [(r.style, r.backend, r.device.replace("ExecutionProvider", ""), r.precision, r.size,
             f(r.gflop, ".1f"), f(r.model_ms, ".1f"), f"{r.e2e_ms:.1f}", f"{r.fps:.1f}", f(r.gflops, ".1f"),
             "-" if r.peak_share is None else f"{100 * r.peak_share:.0f}%", f(r.overhead_ms, ".1f"), "-" if r.e2e_share is None else f"{100 * r.e2e_share:.0f}%") for r in rows]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in body]
        return "\n".join(lines)
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) if i > 4 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     for r in [head, *body])


def machine(threads: int | None = None) -> str:
    """One line naming the CPU, GPU and runtime versions (imports nothing that isn't installed)."""
    from importlib import metadata

    from ..inference.cpu import cpu_info

    versions = []
    for dist in ("onnxruntime", "onnxruntime-gpu", "openvino", "torch"):
        try:
            versions.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            continue
    gpu = "no GPU"
    try:
        import torch
    except ImportError:  # an install without the torch extra: ONNX Runtime's view of the machine
        from ..inference.backends import ort_gpu_available

        versions.append("torch not installed")
        if ort_gpu_available():
            gpu = "ONNX Runtime GPU provider"
    else:
        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    return (f"{cpu_info().describe()}; {gpu}; Python {platform.python_version()}, {', '.join(versions)}; "
            f"threads {threads or 'runtime default'}")


def _kinds(st: StyleFile, wanted: list[str] | None) -> list[str]:
    """The backend kinds to bench for style ``st``: ``wanted`` (or every installed one) that can run it."""
    from ..inference.backends import openvino_installed

    if st.manifest.arch == "classic":
        return ["classic"]
    graph_only = st.tensors is None
    ov = openvino_installed()
    default = [k for k in ("torch", "onnx", "openvino") if not (k == "torch" and graph_only)
               and not (k == "openvino" and not ov)]
    kinds = wanted or default
    return [k for k in kinds if k != "classic" and not (k == "torch" and graph_only)]


def run(args: argparse.Namespace) -> int:
    from ..inference.catalog import StyleCatalog

    if args.threads:
        try:
            import torch
        except ImportError:  # ONNX Runtime gets --threads through create_backend
            pass
        else:
            torch.set_num_threads(args.threads)
    cat = StyleCatalog()
    styles = [cat.resolve(s) for s in (args.styles or cat.ids())]
    if args.pipeline:
        return run_pipeline(args, styles, cat)
    sizes = args.sizes or [256, 640, 1280]
    if any(s < 16 for s in sizes):
        raise InputError("sizes must be at least 16 pixels")
    frame = camera_frame(*args.input)
    rows: list[Row] = []
    print(f"# machine: {machine(args.threads)}", flush=True)
    peak = None
    if not args.no_peak:
        from ..inference.cpu import measured_peak_gflops

        peak = measured_peak_gflops()
        print(f"# measured fp32 peak (1536² sgemm, numpy BLAS): {peak:.0f} GFLOP/s; % peak = network GFLOP/s / this",
              flush=True)
    print(f"# input frame {args.input[0]}x{args.input[1]}; size = network long side\n", flush=True)
    autos: list[str] = []
    for st in styles:
        for kind in _kinds(st, args.backends):
            for size in sizes:
                if st.manifest.fixed_size and size != sizes[0]:
                    continue  # a fixed-size model runs at one size only
                rows.append(bench_case(st, kind, size, frame, args.device, args.seconds, args.min_frames,
                                       args.threads, peak))
                r = rows[-1]  # progress on stderr; the table goes to stdout once, at the end
                print(f"measured {r.style} / {r.backend} / {r.size}: {r.e2e_ms:.1f} ms", file=sys.stderr,
                      flush=True)
        if st.manifest.arch != "classic" and args.device in ("auto", "cpu"):
            autos.append(_auto_line(st, sizes[0], args.device, args.threads))
    print(format_table(rows, args.markdown))
    if autos:
        print("\n" + "\n".join(autos))
    if any(r.gflop is None and r.backend == "onnxruntime" for r in rows) and not module_installed("onnx"):
        print(f"# GFLOP of ONNX styles: not counted (it needs the onnx package: {ONNX_EXTRA})")
    return 0


def _auto_line(st: StyleFile, size: int, device: str, threads: int | None) -> str:
    from ..inference.backends import create_backend

    b = create_backend(st, backend="auto", device=device, size=size, threads=threads)
    try:
        how = b.choice.describe() if b.choice is not None else "the only runtime installed"
        return f"auto runs {st.id} at size {size} on {b.describe()}: {how}"
    finally:
        b.close()


def run_pipeline(args: argparse.Namespace, styles: list[StyleFile], cat: StyleCatalog) -> int:
    """``--pipeline``: each style (x backend) in the live pipeline, headless, for ``--seconds``
    (the styles loaded already; ``cat`` loads any other the pipeline is asked for)."""
    from ..core.pipeline import Pipeline
    from ..core.sources import DemoSource

    print(f"# machine: {machine(args.threads)}", flush=True)
    w, h = args.input
    print(f"# live pipeline, headless: {'source ' + args.source if args.source else f'demo source {w}x{h} @ {args.fps:g} fps'}; "
          f"{args.seconds:g} s per case after warm-up\n", flush=True)
    head = ("style", "backend", "threads", "encode", "size", "capture fps", "cartoon fps", "latency p50 ms",
            "latency p95 ms", "inference ms", "dropped", "CPU (cores)")
    rows = []
    for st in styles:
        kinds = ["auto"] if st.manifest.arch == "classic" else (args.backends or ["auto"])
        for kind in kinds:
            for size in (args.sizes or [None]):
                if args.source:
                    from ..core.sources import open_source

                    src = open_source(args.source)
                else:
                    src = DemoSource(w, h, args.fps)
                p = Pipeline(src, st, load=cat.resolve, backend=kind,
                             size=size, threads=args.threads)
                rec = None
                if args.encode:
                    import tempfile

                    from ..outputs.recorder import Recorder

                    tmpdir = tempfile.mkdtemp(prefix="cartoon_cam-bench-")
                    rec = Recorder(f"{tmpdir}/bench.mp4", fps=args.fps).start()
                    p.add_sink(rec.submit)
                p.start()
                try:
                    res = measure_pipeline(p, args.seconds)
                finally:
                    p.stop()
                    if rec is not None:
                        rec.stop()
                        import shutil

                        shutil.rmtree(tmpdir, ignore_errors=True)
                rows.append((st.id, res["backend"] or kind, str(args.threads or "default"),
                             "H.264" if args.encode else "-",
                             str(size or "style's"), f"{res['capture_fps']:.1f}", f"{res['cartoon_fps']:.1f}",
                             f"{res['p50']:.0f}", f"{res['p95']:.0f}", f"{res['inference_ms']:.1f}",
                             str(res["dropped"]), f"{res['cpu_cores']:.2f}"))
                print(f"measured {st.id} / {rows[-1][1]}: {res['cartoon_fps']:.1f} fps", file=sys.stderr, flush=True)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows]
    print("\n".join(lines))
    return 0


def measure_pipeline(p: Pipeline, seconds: float, settle: float = 1.0, timeout: float = 120.0) -> dict[str, object]:
    """Wait for the first cartoon, let the pipeline settle, then measure it for ``seconds``:
    capture / cartoon fps, capture → ready latency p50/p95 (ms), inference ms, drops, and the
    process's CPU time over wall time (in cores: 2.0 = two cores busy)."""
    deadline = time.perf_counter() + timeout
    while p.latest_result() is None or p.stats().loading_style:
        if time.perf_counter() > deadline:
            raise TimeoutError("the pipeline produced no cartoon in time")
        time.sleep(0.02)
    time.sleep(settle)
    p.reset_latency()
    s0 = p.stats()
    c0, w0 = time.process_time(), time.perf_counter()
    time.sleep(seconds)
    s1 = p.stats()
    c1, w1 = time.process_time(), time.perf_counter()
    dt = w1 - w0
    return {"capture_fps": (s1.frames_captured - s0.frames_captured) / dt,
            "cartoon_fps": (s1.frames_processed - s0.frames_processed) / dt,
            "p50": s1.result_latency_p50_ms, "p95": s1.result_latency_p95_ms,
            "inference_ms": s1.inference_ms, "dropped": s1.dropped - s0.dropped,
            "cpu_cores": (c1 - c0) / dt, "backend": s1.backend}
