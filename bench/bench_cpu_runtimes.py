"""CPU runtimes side by side, in one process, interleaved rounds (the table in docs/PERFORMANCE.md,
"CPU runtimes").

    python bench/bench_cpu_runtimes.py [--rounds 5] [--frames 5] [--threads N] [--int8] [--extra STYLE …]

Every case takes the same 640x360 uint8 RGB camera frame end to end (``Backend.process``: resize,
pad, normalise, run, quantise, crop) except the reference port, which is timed as the published
port is used: a torch eager forward on a ready float tensor (plain NCHW, no channels-last).

Cases: the reference AnimeGANv2 port (our architecture, written from the published one — see
../shared/README.md — run as the port runs it), our AnimeGANv2 on ONNX Runtime and on OpenVINO,
AnimeGANv3 tiny (a peer real-time model) on both, ``hayao_lite`` on both (and OpenVINO bf16 where the
CPU has it), ``classic``. Rounds are interleaved (case A, B, C, … then again) so that load from
other processes spreads over every case, with a 0.2 s pause before each case so that the previous
runtime's idle workers (OpenVINO's spin for a while) don't steal from it; the median of the rounds'
per-frame means is reported. The sgemm peak is measured first, before any runtime is loaded.
``--int8``: also a static-QDQ int8 ``hayao_lite`` (calibrated on the demo photos) on both runtimes.
Models are read from ../shared (never copied).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared" / "models"

from cartoon_cam.commands.bench import camera_frame, machine  # noqa: E402
from cartoon_cam.errors import first_line  # noqa: E402
from cartoon_cam.inference.backends import create_backend  # noqa: E402
from cartoon_cam.inference.catalog import StyleCatalog  # noqa: E402
from cartoon_cam.inference.cpu import cpu_info, measured_peak_gflops  # noqa: E402
from cartoon_cam.inference.flops import style_flops  # noqa: E402


def reference_port(style: object, h: int, w: int) -> Callable[[], object]:
    """The AnimeGANv2 port as published users run it: eager torch, NCHW float32, [-1, 1] input."""
    import torch

    from cartoon_cam.inference.backends.torch_backend import build_torch_model

    net = build_torch_model(style).eval()  # type: ignore[arg-type]
    x = torch.rand(1, 3, h, w) * 2 - 1

    def run() -> None:
        with torch.no_grad():
            net(x)

    return run


def int8_style(style: object, photos: list[Path]) -> object:
    """``style`` quantised to int8 (static QDQ, per-channel weights) with ONNX Runtime's tools,
    calibrated on ``photos`` at 640x360."""
    import cv2
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    from cartoon_cam.inference.style import StyleFile

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = []
            for p in photos:
                img = cv2.resize(cv2.imread(str(p))[..., ::-1], (640, 360)).astype(np.float32)
                self.items.append({"input": (img.transpose(2, 0, 1)[None] / 127.5 - 1).astype(np.float32)})

        def get_next(self):  # noqa: ANN201
            return self.items.pop() if self.items else None

    import tempfile

    with tempfile.TemporaryDirectory() as d:
        src, dst = Path(d) / "f.onnx", Path(d) / "q.onnx"
        src.write_bytes(style.onnx_bytes)  # type: ignore[attr-defined]
        quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        op_types_to_quantize=["Conv"])
        data = dst.read_bytes()
    return StyleFile(style.manifest, None, None, data)  # type: ignore[attr-defined]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--frames", type=int, default=5, help="frames per case per round")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--int8", action="store_true")
    ap.add_argument("--skip-heavy", action="store_true", help="leave out the AnimeGANv2 cases (1-2 s a frame)")
    ap.add_argument("--extra", action="append", default=[], metavar="STYLE",
                    help="also this style (id or file, e.g. a previous version of a built-in) on both runtimes")
    args = ap.parse_args()

    peak = measured_peak_gflops()  # first, before any runtime's threads exist
    cat = StyleCatalog()
    frame = camera_frame(640, 360)
    cases: dict[str, tuple[Callable[[], object], float | None]] = {}
    keep: list[object] = []

    failed: dict[str, str] = {}

    def add(label: str, style: object, kind: str, precision: str = "fp32") -> None:
        try:
            _add(label, style, kind, precision)
        except Exception as e:  # noqa: BLE001 - a runtime that can't run a case is a result too
            failed[label] = first_line(e)[:120]

    def _add(label: str, style: object, kind: str, precision: str) -> None:
        if kind == "openvino" and precision != "fp32":
            from cartoon_cam.inference.backends.openvino_backend import OpenVinoBackend

            b = OpenVinoBackend(style, size=640, threads=args.threads, precision=precision)  # type: ignore[arg-type]
        else:
            b = create_backend(style, backend=kind, device="cpu", size=640, threads=args.threads)  # type: ignore[arg-type]
        keep.append(b)
        b.process(frame)  # warm-up (OpenVINO compiles for the size here); a failure is reported
        p = b.plan(360, 640)
        fl = style_flops(style, p.ih + p.ph, p.iw + p.pw)  # type: ignore[arg-type]
        cases[label] = ((lambda: b.process(frame)), fl)

    v2 = SHARED / "animeganv2" / "random_seed0.pt"
    tiny = SHARED / "animeganv3" / "AnimeGANv3_tiny_Cute.onnx"
    if not args.skip_heavy and v2.exists():
        st = cat.resolve(str(v2))
        cases["reference AnimeGANv2 port (torch eager)"] = (reference_port(st, 360, 640), style_flops(st, 360, 640))
        add("ours, AnimeGANv2 on ONNX Runtime", st, "onnx")
        add("ours, AnimeGANv2 on OpenVINO", st, "openvino")
    if tiny.exists():
        st = cat.resolve(str(tiny))
        add("AnimeGANv3 tiny (peer real-time model), ONNX Runtime", st, "onnx")
        add("AnimeGANv3 tiny, OpenVINO", st, "openvino")
    lite = cat.resolve("hayao_lite")
    add("ours, hayao_lite on ONNX Runtime", lite, "onnx")
    add("ours, hayao_lite on OpenVINO", lite, "openvino")
    from cartoon_cam.inference.backends.openvino_backend import cpu_supports_bf16

    if cpu_supports_bf16():
        add("ours, hayao_lite on OpenVINO bf16", lite, "openvino", "bf16")
    if args.int8:
        photos = sorted((REPO / "resources" / "demo").glob("*.jpg"))
        q = int8_style(lite, photos)
        add("ours, hayao_lite int8 (QDQ) on ONNX Runtime", q, "onnx")
        add("ours, hayao_lite int8 (QDQ) on OpenVINO", q, "openvino")
    for extra in args.extra:
        st = cat.resolve(extra)
        add(f"{Path(extra).name} on ONNX Runtime", st, "onnx")
        add(f"{Path(extra).name} on OpenVINO", st, "openvino")
    add("ours, classic", cat.resolve("classic"), "auto")

    for label, (fn, _) in cases.items():
        if label.startswith("reference"):
            fn()  # warm-up
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(args.rounds):
        for label, (fn, _) in cases.items():
            heavy = label.startswith(("reference", "ours, AnimeGANv2"))
            n = 1 if heavy else args.frames
            time.sleep(0.2)  # let the previous case's worker threads go idle (OpenVINO's spin a while)
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            times[label].append((time.perf_counter() - t0) * 1000 / n)
    info = cpu_info()
    print(f"# machine: {machine(args.threads)}")
    print(f"# fp32 peak: measured (sgemm) {peak:.0f} GFLOP/s; theoretical {info.describe()}")
    print(f"# 640x360 frame, {args.rounds} interleaved rounds; median of per-round means\n")
    ref = statistics.median(times[next(iter(times))]) if times else None
    print("| case, 640x360 frame | ms/frame | fps | vs the first row | GFLOP/s | % of measured peak |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, (_, fl) in cases.items():
        ms = statistics.median(times[label])
        gf = None if fl is None else fl / 1e9 / (ms / 1000)
        print(f"| {label} | {ms:.1f} | {1000 / ms:.1f} | {ref / ms:.1f}x | "
              f"{'-' if gf is None else f'{gf:.0f}'} | {'-' if gf is None else f'{100 * gf / peak:.0f}%'} |")
    for label, why in failed.items():
        print(f"| {label} | fails: {why} | | | | |")
    for b in keep:
        b.close()  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    sys.exit(main())
