"""``cartoon-cam bench``: style × backend × size → ms/frame, fps, GFLOP/s.

For each case it times the *network alone* (PyTorch forward on a ready float tensor, or the ONNX
Runtime session on a ready input) and the *end-to-end* ``Backend.process`` on a camera-sized uint8
frame (resize, pad, normalise, run, quantise, crop, resize back), so the overhead of our pre/post
processing is visible.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ONNX_EXTRA, InputError, module_installed

NAME = "bench"
HELP = "measure inference speed (ms/frame, fps, GFLOP/s) per style, backend and size"


def _wh(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 1280x720, got {text!r}") from None
    return w, h


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("--style", action="append", dest="styles", metavar="STYLE",
                   help="style id or model file (repeatable; default: every listed style)")
    p.add_argument("--backend", action="append", dest="backends", choices=["torch", "onnx", "classic"],
                   help="backends to compare (repeatable; default: every one that can run the style)")
    p.add_argument("--size", action="append", dest="sizes", type=int, metavar="N",
                   help="inference long side in pixels (repeatable; default: 256, 640 and 1280)")
    p.add_argument("--input", type=_wh, default=(1280, 720), metavar="WxH", help="camera frame size (default 1280x720)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    p.add_argument("--seconds", type=float, default=2.0, help="time budget per case (default 2 s)")
    p.add_argument("--min-frames", type=int, default=3, help="at least this many timed frames per case")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch / ONNX Runtime")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")


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

    @property
    def fps(self) -> float:
        return 1000.0 / self.e2e_ms

    @property
    def gflops(self) -> float | None:
        return None if self.gflop is None else self.gflop / (self.e2e_ms / 1000.0)

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


def _model_fn(backend: object, padded: np.ndarray) -> Callable[[], object] | None:
    """The network alone, on a ready input, for the backend kinds we know."""
    name = backend.name  # type: ignore[attr-defined]
    if name == "torch":
        import torch

        net = backend.net  # type: ignore[attr-defined]
        dev = next(net.parameters()).device
        dtype = next(net.parameters()).dtype
        x = torch.zeros(1, 3, padded.shape[0], padded.shape[1], device=dev, dtype=dtype)
        x = x.contiguous(memory_format=torch.channels_last)  # as TorchBackend feeds it

        def run() -> None:
            with torch.inference_mode():
                net(x)
            if dev.type == "cuda":
                torch.cuda.synchronize()

        return run
    if name == "onnxruntime":
        feed = padded[None] if backend._fused else backend._preprocess(padded).copy()  # type: ignore[attr-defined]
        sess, iname = backend._sess, backend._in_name  # type: ignore[attr-defined]
        return lambda: sess.run(None, {iname: feed})
    if name == "classic":
        return lambda: backend._infer(padded)  # type: ignore[attr-defined]
    return None


def bench_case(style: object, kind: str, size: int, frame: np.ndarray, device: str, seconds: float,
               min_frames: int) -> Row:
    from ..inference.backends import create_backend
    from ..inference.backends.base import pad, resize
    from ..inference.flops import style_flops

    b = create_backend(style, backend=kind if kind != "classic" else "auto", device=device, size=size)  # type: ignore[arg-type]
    try:
        p = b.plan(*frame.shape[:2])
        padded = np.ascontiguousarray(pad(resize(frame, p.iw, p.ih), p.ph, p.pw))
        fn = _model_fn(b, padded)
        model_ms = _time(fn, seconds / 2, min_frames) if fn else None
        e2e_ms = _time(lambda: b.process(frame), seconds, min_frames)
        fl = style_flops(style, padded.shape[0], padded.shape[1])  # type: ignore[arg-type]
        return Row(style.id, b.name, b.device, b.precision, f"{padded.shape[1]}x{padded.shape[0]}",  # type: ignore[attr-defined]
                   None if fl is None else fl / 1e9, model_ms, e2e_ms)
    finally:
        b.close()


def format_table(rows: list[Row], markdown: bool) -> str:
    head = ("style", "backend", "device", "prec", "net size", "GFLOP", "model ms", "e2e ms", "fps",
            "GFLOP/s", "pre/post ms", "e2e/model")

    def f(v: float | None, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)

    body = [(r.style, r.backend, r.device.replace("ExecutionProvider", ""), r.precision, r.size,
             f(r.gflop, ".1f"), f(r.model_ms, ".1f"), f"{r.e2e_ms:.1f}", f"{r.fps:.1f}", f(r.gflops, ".1f"),
             f(r.overhead_ms, ".1f"), "-" if r.e2e_share is None else f"{100 * r.e2e_share:.0f}%") for r in rows]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in body]
        return "\n".join(lines)
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) if i > 4 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     for r in [head, *body])


def machine() -> str:
    """One line: CPU, cores, GPU (as PyTorch sees it, when installed) and library versions."""
    import os

    import onnxruntime

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
    except OSError:
        pass
    try:
        import torch
    except ImportError:  # an install without the torch extra: ONNX Runtime's view of the machine
        from ..inference.backends import _ort_gpu

        gpu = "ONNX Runtime GPU provider" if _ort_gpu() else "no GPU"
        return (f"{cpu}, {os.cpu_count()} logical cores, {gpu}; Python {platform.python_version()}, "
                f"torch not installed, onnxruntime {onnxruntime.__version__}")
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{cpu}, {os.cpu_count()} logical cores, {gpu}; Python {platform.python_version()}, "
            f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, threads {torch.get_num_threads()}")


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
    sizes = args.sizes or [256, 640, 1280]
    if any(s < 16 for s in sizes):
        raise InputError("sizes must be at least 16 pixels")
    frame = camera_frame(*args.input)
    rows: list[Row] = []
    print(f"# machine: {machine()}\n# input frame {args.input[0]}x{args.input[1]}; size = network long side\n",
          flush=True)
    for st in styles:
        if st.manifest.arch == "classic":
            kinds = ["classic"]
        elif st.tensors is None:
            kinds = ["onnx"]
        else:
            kinds = [k for k in (args.backends or ["torch", "onnx"]) if k != "classic"]
        for kind in kinds:
            for size in sizes:
                if st.manifest.fixed_size and size != sizes[0]:
                    continue  # a fixed-size model runs at one size only
                rows.append(bench_case(st, kind, size, frame, args.device, args.seconds, args.min_frames))
                r = rows[-1]  # progress on stderr; the table goes to stdout once, at the end
                print(f"measured {r.style} / {r.backend} / {r.size}: {r.e2e_ms:.1f} ms", file=sys.stderr,
                      flush=True)
    print(format_table(rows, args.markdown))
    if any(r.gflop is None and r.backend == "onnxruntime" for r in rows) and not module_installed("onnx"):
        print(f"# GFLOP of ONNX styles: not counted (it needs the onnx package: {ONNX_EXTRA})")
    return 0
