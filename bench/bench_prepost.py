"""Pre/post-processing overhead of the backends alone (network replaced by identity).

Times ``Backend.process`` on a camera frame with the style's network swapped for an identity, so
what is left is exactly our work around the network: resize/pad planning, uint8 → float in the
network's colour order and range (channels-last), float → uint8, crop, copy out. Also times the
ONNX Runtime path with an identity graph with the same fused uint8 wrapper.

    python bench/bench_prepost.py [--input 1280x720] [--runs 30]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from cartoon_cam.inference.backends.torch_backend import TorchBackend
from cartoon_cam.inference.catalog import load_style

SHARED = Path(__file__).resolve().parents[2] / "shared" / "models"


class _Identity(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))  # gives the wrapper a dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _time(fn, runs: int) -> float:
    fn()
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", default="1280x720")
    ap.add_argument("--runs", type=int, default=30)
    a = ap.parse_args()
    w, h = (int(v) for v in a.input.split("x"))
    frame = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    print(f"| style (colour) | inference size | torch CPU pre/post ms (median of {a.runs}) |")
    print("|---|---|---|")
    for rel in ("animeganv2/random_seed0.pt", "cartoongan/hayao.npz"):
        style = load_style(SHARED / rel)
        b = TorchBackend(style, device="cpu")
        b._net = _Identity().to(memory_format=torch.channels_last)  # noqa: SLF001 - bench only
        b._wrap.net = b._net  # noqa: SLF001
        for size in (max(w, h), 640):
            b.size = size
            ms = _time(lambda b=b: b.process(frame), a.runs)
            print(f"| {style.manifest.id} ({style.manifest.color}) | {size} | {ms:.2f} |")
        b.close()


if __name__ == "__main__":
    main()
