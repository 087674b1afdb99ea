"""Output throughput: the recorder's encoder thread (compose + RGB→yuv420p + H.264 + mux) at 720p
and 1080p, cartoon and side by side; plus the virtual camera's letterbox and snapshot writes.

Frames are the demo source's pictures (Ken Burns over photos) cartoonized by the ``classic`` style,
so the encoder sees realistic content. Prints a markdown table (docs/PERFORMANCE.md, "Outputs").

    python bench/bench_outputs.py [--frames 90] [--encoder libx264] [--sizes 1280x720 1920x1080]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import av
    import cv2

    return (f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, PyAV {av.__version__} (FFmpeg "
            f"{av.library_versions['libavcodec']}), OpenCV {cv2.__version__}")


def make_results(w: int, h: int, n: int):
    from cartoon_cam.core.frames import Frame, ResultFrame
    from cartoon_cam.core.sources import DemoSource
    from cartoon_cam.inference.backends import create_backend
    from cartoon_cam.inference.catalog import load_style

    src = DemoSource(w, h, fps=30)
    src.open()
    backend = create_backend(load_style("classic"))
    try:
        pics = [src.render(i * 3) for i in range(n)]
        cartoons = [backend.process(p) for p in pics]
    finally:
        src.close()
        backend.close()
    return [ResultFrame(Frame(p, i, 100.0 + i / 30), c, "classic") for i, (p, c) in
            enumerate(zip(pics, cartoons, strict=True))]


def bench_recorder(results, layout: str, encoder: str | None, folder: Path) -> dict:
    from cartoon_cam.outputs.recorder import Recorder

    path = folder / f"bench_{layout}.mp4"
    rec = Recorder(path, layout=layout, fps=30, encoder=encoder, queue_size=len(results) + 1)
    rec.start()
    rec.submit(results[0])  # first frame: encoder probe + open, not counted
    while rec.frames_written < 1:
        time.sleep(0.001)
    t0 = time.perf_counter()
    for r in results[1:]:
        rec.submit(r)
    info = rec.stop(timeout=600)
    dt = time.perf_counter() - t0
    n = len(results) - 1
    assert info.frames == len(results) and info.dropped == 0, info
    mbps = path.stat().st_size * 8 / (len(results) / 30) / 1e6
    return {"fps": n / dt, "ms": dt / n * 1000, "encoder": info.encoder, "mbps": mbps}


def bench_call(fn, n: int) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=90)
    ap.add_argument("--encoder", default=None, help="force one encoder (default: the fallback chain)")
    ap.add_argument("--sizes", nargs="+", default=["1280x720", "1920x1080"])
    args = ap.parse_args()

    from cartoon_cam.outputs.snapshot import SnapshotWriter
    from cartoon_cam.outputs.virtual_camera import VirtualCamera

    print(f"Machine: {machine()}\n")
    print("| source | layout | encoded size | encoder | fps | ms/frame | Mbit/s @30 fps |")
    print("|---|---|---|---|---:|---:|---:|")
    extra = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            w, h = (int(v) for v in size.split("x"))
            results = make_results(w, h, args.frames)
            for layout in ("cartoon", "side_by_side"):
                r = bench_recorder(results, layout, args.encoder, Path(tmp))
                ew = w * (2 if layout == "side_by_side" else 1)
                print(f"| {w}x{h} | {layout} | {ew}x{h} | {r['encoder']} | {r['fps']:.1f} | "
                      f"{r['ms']:.1f} | {r['mbps']:.1f} |", flush=True)
            res = results[len(results) // 2]
            for layout in ("cartoon", "side_by_side"):
                vc = VirtualCamera(width=1280, height=720, layout=layout)
                ms = bench_call(lambda res=res, vc=vc: vc.render(res), 30)
                extra.append(f"| virtual camera compose + letterbox → 1280x720 | {w}x{h} {layout} | {ms:.2f} |")
            for fmt in ("png", "jpeg"):
                sw = SnapshotWriter(Path(tmp) / "snaps", fmt=fmt)
                ms = bench_call(lambda res=res, sw=sw: sw.save_now(res), 5)
                extra.append(f"| snapshot {fmt.upper()} (encode + atomic write) | {w}x{h} cartoon | {ms:.1f} |")
    print("\n| other output work | input | ms |")
    print("|---|---|---:|")
    print("\n".join(extra))
    print(f"\n{np.__name__} {np.__version__}; frames per run: {args.frames}")


if __name__ == "__main__":
    main()
