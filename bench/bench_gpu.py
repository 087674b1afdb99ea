"""GPU benchmark of issue 12 (run by ``training/gpu_run.py bench``; ``--dry-run``: toy sizes on the CPU).

For AnimeGANv2 (the quality architecture, fp16, channels-last) at 1280x720 and 1920x1080:

* **network alone** on a device tensor: eager, CUDA graph, ``torch.compile`` (inductor) and compile +
  CUDA graphs (``reduce-overhead``), while time allows;
* **end to end** uint8 RGB numpy frame → uint8 RGB numpy frame: ``Backend.process`` as the app runs it
  (``TorchBackend``: pinned upload per frame), and a pipelined prototype (preallocated pinned buffers,
  uploads and downloads on side streams overlapping the next frame's network, optionally one CUDA
  graph for pre + network + post), which says what a faster backend would gain.

Also, for comparison: the lite architecture on CUDA, the four shipped ``*_lite.onnx`` styles through
ONNX Runtime on the CPU, and CartoonGAN (the teachers' architecture); with ``--teacher NPZ``, how far a
real teacher's fp16 output is from its fp32 output (the GPU distillation computes teacher outputs in fp16).
Speed does not depend on the weights, so the networks are seeded random ones.

Writes ``OUT/bench.json`` (after every measurement, so a run stopped early keeps what it measured)
and ``OUT/bench.md``: ms per frame, fps, TFLOP/s and the fraction of the fp16 dense peak.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cartoon_cam.errors import first_line  # noqa: E402
from cartoon_cam.inference.backends.torch_backend import TorchBackend, Uint8Wrapper  # noqa: E402
from cartoon_cam.inference.flops import torch_flops  # noqa: E402
from cartoon_cam.inference.registry import arch_info, create_model  # noqa: E402
from cartoon_cam.inference.style import StyleFile, StyleManifest  # noqa: E402

PEAK_FP16 = 989e12  # H200 SXM dense fp16/bf16 tensor-core FLOP/s (datasheet)
REPEATS = 3  # timed loops per measurement (median); 1 in a dry run
TARGETS = {"animeganv2 net 1280x720 fps": 300, "animeganv2 end-to-end 1920x1080 fps": 120}


def random_style(arch: str, seed: int = 0) -> StyleFile:
    """A style of ``arch`` with seeded random weights (in memory; nothing written)."""
    torch.manual_seed(seed)
    info = arch_info(arch)
    sd = {k: v.numpy() for k, v in create_model(arch).state_dict().items()}
    m = StyleManifest(id=f"bench_{arch}", name=arch, arch=arch, color=info.color, size_multiple=info.size_multiple)
    return StyleFile(m, None, tensors=sd)


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def time_loop(fn: Callable[[], Any], dev: torch.device, iters: int, warmup: int, repeats: int | None = None) -> float:
    """Median over ``repeats`` of the mean ms per call of ``fn`` over ``iters`` back-to-back calls
    (CUDA events on a GPU, so launches queue as in a video loop)."""
    for _ in range(warmup):
        fn()
    sync(dev)
    out = []
    for _ in range(repeats or REPEATS):
        if dev.type == "cuda":
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            for _ in range(iters):
                fn()
            b.record()
            b.synchronize()
            out.append(a.elapsed_time(b) / iters)
        else:
            t = time.perf_counter()
            for _ in range(iters):
                fn()
            out.append((time.perf_counter() - t) * 1000 / iters)
    return statistics.median(out)


class Pipelined:
    """Prototype of a faster CUDA frame loop: ``depth`` slots of pinned host and device uint8 buffers;
    per frame an upload on stream ``up``, pre + network + post on ``comp`` (eager or one CUDA graph
    per slot), a download on ``down``; frame *i*'s copies overlap frames *i±1*'s network."""

    def __init__(self, wrap: Uint8Wrapper, h: int, w: int, dev: torch.device, graph: bool, depth: int = 2) -> None:
        self.depth, self.dev = depth, dev
        shape = (1, h, w, 3)
        self.h_in = [torch.empty(shape, dtype=torch.uint8, pin_memory=True) for _ in range(depth)]
        self.h_out = [torch.empty(shape, dtype=torch.uint8, pin_memory=True) for _ in range(depth)]
        self.d_in = [torch.zeros(shape, dtype=torch.uint8, device=dev) for _ in range(depth)]
        self.d_out = [torch.empty(shape, dtype=torch.uint8, device=dev) for _ in range(depth)]
        self.up, self.comp, self.down = torch.cuda.Stream(dev), torch.cuda.Stream(dev), torch.cuda.Stream(dev)
        self.e_up = [torch.cuda.Event() for _ in range(depth)]
        self.e_comp = [torch.cuda.Event() for _ in range(depth)]
        self.e_down = [torch.cuda.Event() for _ in range(depth)]
        self.wrap = wrap
        self.graphs: list[torch.cuda.CUDAGraph] | None = None
        with torch.inference_mode():
            s = torch.cuda.Stream(dev)
            s.wait_stream(torch.cuda.current_stream(dev))
            with torch.cuda.stream(s):
                for k in range(depth):
                    for _ in range(3):
                        self.d_out[k].copy_(wrap(self.d_in[k]))
            torch.cuda.current_stream(dev).wait_stream(s)
            torch.cuda.synchronize(dev)
            if graph:
                self.graphs = []
                for k in range(depth):
                    g = torch.cuda.CUDAGraph()
                    with torch.cuda.graph(g):
                        self.d_out[k].copy_(wrap(self.d_in[k]))
                    self.graphs.append(g)
                torch.cuda.synchronize(dev)

    @torch.inference_mode()
    def run(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        """uint8 RGB HxWx3 frames → cartoonized frames (copies), in order."""
        out: list[np.ndarray] = []
        n, d = len(frames), self.depth
        for i in range(n + d):
            k = i % d
            if i >= d:  # frame i - d is in slot k: collect it, freeing the slot
                self.e_down[k].synchronize()
                out.append(self.h_out[k][0].numpy().copy())
            if i >= n:
                continue
            self.e_up[k].synchronize()  # the slot's pinned input is no longer being read
            self.h_in[k][0].numpy()[...] = frames[i]
            with torch.cuda.stream(self.up):
                self.up.wait_event(self.e_comp[k])  # the network is done with d_in[k]
                self.d_in[k].copy_(self.h_in[k], non_blocking=True)
                self.e_up[k].record(self.up)
            with torch.cuda.stream(self.comp):
                self.comp.wait_event(self.e_up[k])
                self.comp.wait_event(self.e_down[k])  # d_out[k] has been downloaded
                if self.graphs is not None:
                    self.graphs[k].replay()
                else:
                    self.d_out[k].copy_(self.wrap(self.d_in[k]))
                self.e_comp[k].record(self.comp)
            with torch.cuda.stream(self.down):
                self.down.wait_event(self.e_comp[k])
                self.h_out[k].copy_(self.d_out[k], non_blocking=True)
                self.e_down[k].record(self.down)
        return out


class Bench:
    """Collects results; writes ``bench.json`` after each one."""

    def __init__(self, out: Path, meta: dict[str, Any]) -> None:
        self.out, self.meta, self.rows = out, meta, []
        self.t0 = time.perf_counter()

    def add(self, **row: Any) -> None:
        ms, flops = row.get("ms"), row.pop("flops", None)
        if ms:
            row["fps"] = round(1000.0 / ms, 1)
            if flops:
                row["gflop"] = round(flops / 1e9, 1)
                row["tflops"] = round(flops / (ms / 1000) / 1e12, 1)
                row["peak_fraction"] = round(flops / (ms / 1000) / PEAK_FP16, 4)
            row["ms"] = round(ms, 3)
        self.rows.append(row)
        print(json.dumps(row), flush=True)
        self.write()

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def write(self) -> None:
        data = {**self.meta, "peak_fp16_tflops": PEAK_FP16 / 1e12, "targets": TARGETS,
                "seconds": round(self.elapsed(), 1), "rows": self.rows}
        (self.out / "bench.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
        cols = ["model", "what", "mode", "size", "precision", "ms", "fps", "tflops", "peak_fraction", "note"]
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in self.rows]
        head = f"GPU: {self.meta.get('gpu', 'none')} · torch {self.meta.get('torch')} · fp16 peak {PEAK_FP16 / 1e12:g} TFLOP/s\n\n"
        (self.out / "bench.md").write_text(head + "\n".join(lines) + "\n", encoding="utf-8")


def bench_network(b: Bench, model: str, style: StyleFile, dev: torch.device, sizes: list[tuple[int, int]],
                  modes: list[str], iters: int, warmup: int, budget_s: float) -> None:
    """The network alone on a device tensor, in each of ``modes`` while the budget lasts."""
    backend = TorchBackend(style, device=str(dev), fp16=dev.type == "cuda")
    net, prec = backend.net, backend.precision
    dtype = torch.float16 if prec == "fp16" else torch.float32
    for h, w in sizes:
        flops = torch_flops(style, h, w)
        x = torch.rand(1, 3, h, w, device=dev, dtype=dtype).mul_(2).sub_(1).contiguous(memory_format=torch.channels_last)
        for mode in modes:
            if b.elapsed() > budget_s:
                b.add(model=model, what="network", mode=mode, size=f"{w}x{h}", precision=prec, note="skipped: time budget")
                continue
            t = time.perf_counter()
            try:
                with torch.inference_mode():
                    if mode == "eager":
                        fn: Callable[[], Any] = lambda x=x: net(x)  # noqa: E731
                    elif mode == "cuda_graph":
                        s = torch.cuda.Stream(dev)
                        s.wait_stream(torch.cuda.current_stream(dev))
                        with torch.cuda.stream(s):
                            for _ in range(3):
                                net(x)
                        torch.cuda.current_stream(dev).wait_stream(s)
                        g = torch.cuda.CUDAGraph()
                        with torch.cuda.graph(g):
                            net(x)
                        fn = g.replay
                    else:
                        cmode = "reduce-overhead" if mode == "compile_graph" else "default"
                        cnet = torch.compile(net, mode=cmode, dynamic=False)
                        cnet(x)
                        fn = lambda x=x, cnet=cnet: cnet(x)  # noqa: E731
                    setup = time.perf_counter() - t
                    ms = time_loop(fn, dev, iters, warmup)
                b.add(model=model, what="network", mode=mode, size=f"{w}x{h}", precision=prec, ms=ms, flops=flops,
                      note=f"setup {setup:.1f} s")
            except Exception as e:  # noqa: BLE001 - a mode that fails is a result, not the end of the run
                b.add(model=model, what="network", mode=mode, size=f"{w}x{h}", precision=prec,
                      note=f"failed: {type(e).__name__}: {first_line(e, '')[:160]}")
    backend.close()


def frames_for(h: int, w: int, n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    return [np.ascontiguousarray(np.roll(base, 7 * i, axis=1)) for i in range(n)]


def bench_end_to_end(b: Bench, model: str, style: StyleFile, dev: torch.device, sizes: list[tuple[int, int]],
                     n_frames: int, pipelined: bool) -> None:
    """numpy uint8 frame → numpy uint8 frame: ``Backend.process`` (sequential) and the pipelined prototype."""
    backend = TorchBackend(style, device=str(dev), fp16=dev.type == "cuda")
    for h, w in sizes:
        flops = torch_flops(style, h, w)
        frames = frames_for(h, w, n_frames)
        backend.size = max(h, w)  # run the network at the frame's own size
        backend.warmup(h, w, runs=3)
        t = time.perf_counter()
        for f in frames:
            backend.process(f)
        ms = (time.perf_counter() - t) * 1000 / len(frames)
        b.add(model=model, what="end-to-end", mode="Backend.process", size=f"{w}x{h}", precision=backend.precision,
              ms=ms, flops=flops)
        if not pipelined:
            continue
        wrap = Uint8Wrapper(backend.net, style.manifest).eval()
        for graph in (False, True):
            mode = "pipelined+graph" if graph else "pipelined"
            try:
                p = Pipelined(wrap, h, w, dev, graph)
                p.run(frames[:4])
                torch.cuda.synchronize(dev)
                t = time.perf_counter()
                p.run(frames)
                ms = (time.perf_counter() - t) * 1000 / len(frames)
                ref = backend.process(frames[0])
                diff = float(np.abs(p.run(frames[:1])[0].astype(np.int16) - ref).mean())
                b.add(model=model, what="end-to-end", mode=mode, size=f"{w}x{h}", precision=backend.precision,
                      ms=ms, flops=flops, note=f"pinned buffers, side streams; mean |diff| vs process {diff:.3f}")
            except Exception as e:  # noqa: BLE001
                b.add(model=model, what="end-to-end", mode=mode, size=f"{w}x{h}",
                      note=f"failed: {type(e).__name__}: {first_line(e, '')[:160]}")
    backend.close()


def bench_lite_onnx(b: Bench, sizes: list[tuple[int, int]], runs: int) -> None:
    """The shipped real-time styles through ONNX Runtime on the CPU (as on a machine without a GPU)."""
    from cartoon_cam.inference.backends.onnx_backend import OnnxBackend
    from cartoon_cam.inference.style import read_style

    for path in sorted((REPO / "resources" / "styles").glob("*_lite.onnx")):
        backend = OnnxBackend(read_style(path), device="cpu")
        for h, w in sizes:
            backend.size = max(h, w)
            f = frames_for(h, w, 1)[0]
            backend.process(f)
            t = time.perf_counter()
            for _ in range(runs):
                backend.process(f)
            ms = (time.perf_counter() - t) * 1000 / runs
            b.add(model=path.stem, what="end-to-end", mode="onnxruntime CPU", size=f"{w}x{h}",
                  precision=backend.precision, ms=ms, note=backend.describe())
        backend.close()


def teacher_fp16_error(b: Bench, npz: Path, dev: torch.device, side: int) -> None:
    """Mean and max |fp16 − fp32| (uint8 levels) of a real teacher on a demo photo at ``side`` px."""
    import cv2

    from cartoon_cam.inference.catalog import load_style

    style = load_style(npz)
    img = cv2.imread(str(REPO / "resources" / "demo" / "astronaut.jpg"))[:, :, ::-1]
    s = side / max(img.shape[:2])
    img = np.ascontiguousarray(cv2.resize(img, (round(img.shape[1] * s / 8) * 8, round(img.shape[0] * s / 8) * 8),
                                          interpolation=cv2.INTER_AREA))
    outs = {}
    for fp16 in (False, True):
        with TorchBackend(style, device=str(dev), fp16=fp16) as t:
            t.size = max(img.shape[:2])
            outs[fp16] = (t.process(img).astype(np.int16), t.precision)
    d = np.abs(outs[True][0] - outs[False][0])
    b.add(model=f"cartoongan {npz.stem} (real weights)", what="fp16 vs fp32", mode="Backend.process",
          size=f"{img.shape[1]}x{img.shape[0]}", precision=outs[True][1],
          note=f"mean |diff| {d.mean():.3f}, p99.9 {np.percentile(d, 99.9):.0f}, max {d.max()} levels")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--dry-run", action="store_true", help="toy sizes on the CPU")
    p.add_argument("--teacher", type=Path, help="a CartoonGAN .npz: also measure its fp16 error")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile modes")
    p.add_argument("--budget-s", type=float, default=300.0, help="start no new compile/graph mode after this")
    a = p.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    cuda = torch.cuda.is_available() and not a.dry_run
    dev = torch.device("cuda", 0) if cuda else torch.device("cpu")
    torch.manual_seed(0)
    meta: dict[str, Any] = {"torch": torch.__version__, "device": str(dev), "dry_run": a.dry_run}
    if cuda:
        meta["gpu"] = torch.cuda.get_device_name(0)
        torch.backends.cudnn.benchmark = True
    b = Bench(a.out, meta)
    if a.dry_run:
        global REPEATS
        REPEATS = 1
        sizes, iters, warmup, n_frames, runs = [(40, 64)], 1, 1, 2, 1
        fast, slow = ["eager"], []
    else:
        sizes, iters, warmup, n_frames, runs = [(720, 1280), (1080, 1920)], 50, 10, 120, 5
        fast, slow = ["eager", "cuda_graph"], ([] if a.no_compile else ["compile", "compile_graph"])
    v2 = random_style("animeganv2")
    bench_network(b, "animeganv2", v2, dev, sizes, fast, iters, warmup, a.budget_s)
    bench_end_to_end(b, "animeganv2", v2, dev, sizes, n_frames, pipelined=cuda)
    for arch in ("lite", "cartoongan"):
        st = random_style(arch)
        bench_network(b, arch, st, dev, sizes, fast, iters, warmup, a.budget_s)
        bench_end_to_end(b, arch, st, dev, sizes, max(2, n_frames // 4), pipelined=False)
    bench_lite_onnx(b, sizes, runs)
    if a.teacher is not None:
        teacher_fp16_error(b, a.teacher, dev, 64 if a.dry_run else 512)
    if slow:  # last: compiling can take minutes; modes started after --budget-s are skipped
        bench_network(b, "animeganv2", v2, dev, sizes, slow, iters, warmup, a.budget_s)
    b.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
