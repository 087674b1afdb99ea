"""Training throughput (steps/s) of the real step functions on synthetic tensors; prints a table.

    python bench/bench_training.py                      # defaults: CPU, a few small configurations
    python bench/bench_training.py --device cuda --amp auto --cases gan:256:12 distill-lite:192:16

A case is ``kind:size:batch`` with kind ``init`` | ``gan`` (AnimeGANv2 generator + D + VGG19) |
``distill-lite`` | ``distill-animeganv2`` (pixel + edge losses). VGG weights are random (the speed
does not depend on them). No data loading is timed (see ``metrics.jsonl`` of a real run for that).
"""

from __future__ import annotations

import argparse
import time

import torch

from cartoon_cam.inference.registry import create_model
from training.config import LossCfg
from training.discriminator import Discriminator
from training.distill import distill_step
from training.runtime import amp_dtype, make_scaler
from training.trainer import GanNets, gan_step, init_step
from training.vgg import load_vgg


def bench_case(kind: str, size: int, batch: int, device: torch.device, amp: str, steps: int,
               warmup: int) -> float:
    """Median-free simple mean: steps/s over ``steps`` steps after ``warmup`` steps."""
    dtype = amp_dtype(amp, device)
    lw = LossCfg()
    g = torch.Generator().manual_seed(0)

    def img() -> torch.Tensor:
        return (torch.rand(batch, 3, size, size, generator=g) * 2 - 1).to(device)

    if kind in ("init", "gan"):
        G = create_model("animeganv2").train().to(device)
        D = Discriminator().train().to(device)
        vgg = load_vgg("random").to(device)
        nets = GanNets(G, D, G, D, vgg)
        opt_g = torch.optim.Adam(G.parameters(), 2e-5, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(D.parameters(), 4e-5, betas=(0.5, 0.999))
        sg, sd = make_scaler(device, dtype), make_scaler(device, dtype)
        p, a, ag, sm = img(), img(), img(), img()

        def step() -> None:
            if kind == "init":
                init_step(nets, p, opt_g, sg, lw, device, dtype)
            else:
                gan_step(nets, p, a, ag, sm, opt_g, opt_d, sg, sd, lw, device, dtype)
    else:
        S = create_model(kind.split("-", 1)[1]).train().to(device)
        opt = torch.optim.Adam(S.parameters(), 5e-4)
        ss, sd = make_scaler(device, dtype), make_scaler(device, dtype)
        x, t = img(), img()

        def step() -> None:
            distill_step(S, S, None, None, None, x, t, opt, None, ss, sd, lw, device, dtype)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(warmup):
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--amp", default="off", choices=["auto", "off", "bf16", "fp16"])
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--cases", nargs="+", default=["init:64:2", "gan:64:2", "gan:128:2", "distill-lite:192:16",
                                                   "distill-animeganv2:128:4"])
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"device {device}, amp {args.amp}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"| {'case':<22} | {'size':>4} | {'batch':>5} | {'steps/s':>8} | {'images/s':>8} |")
    print(f"|{'-' * 24}|{'-' * 6}|{'-' * 7}|{'-' * 10}|{'-' * 10}|")
    for case in args.cases:
        kind, size, batch = case.split(":")
        r = bench_case(kind, int(size), int(batch), device, args.amp, args.steps, args.warmup)
        print(f"| {kind:<22} | {size:>4} | {batch:>5} | {r:8.3f} | {r * int(batch):8.2f} |", flush=True)


if __name__ == "__main__":
    main()
