"""Run mechanics shared by ``train`` and ``distill``: distributed setup, device and AMP, atomic
checkpoints with RNG state, metrics, validation grids, logging.

These are the parts; :class:`training.run.Run` puts them together (setup, resume, cadence,
checkpoints, export) so that the commands only supply their data, models and step."""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import math
import os
import platform
import random
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.distributed as dist

from .config import Config, to_toml

log = logging.getLogger("training")
CKPT_FORMAT = 1


# --------------------------------------------------------------------------- distributed


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def dist_env() -> DistInfo:
    """Rank/world size from the environment ``torchrun`` sets (single process otherwise)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    return DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))


def init_distributed(device: torch.device, info: DistInfo) -> None:
    """Join the process group when launched by ``torchrun``: NCCL on CUDA, gloo on CPU."""
    if info.enabled and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, timeout=_dt.timedelta(hours=3))


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def cleanup_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def pick_device(name: str, info: DistInfo) -> torch.device:
    """``auto`` → ``cuda:<local_rank>`` when CUDA is available, else CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(name)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' requested but CUDA is not available (use --device cpu)")
        if dev.index is None:
            dev = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(dev)
        torch.backends.cudnn.benchmark = True  # fixed training sizes: let cuDNN pick the fastest kernels
    return dev


def amp_dtype(mode: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype for ``mode`` (auto|off|bf16|fp16). ``auto``: bf16 (or fp16 without bf16
    support) on CUDA, off elsewhere; ``bf16`` also works on CPUs; ``fp16`` needs CUDA."""
    if mode == "off":
        return None
    if device.type != "cuda":
        if mode == "bf16":
            return torch.bfloat16
        if mode == "fp16":
            log.warning("AMP fp16 needs CUDA: running %s in float32", device)
        return None
    if mode == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if mode == "bf16" else torch.float16


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def make_scaler(device: torch.device, dtype: torch.dtype | None) -> torch.amp.GradScaler:
    """A GradScaler, enabled only for fp16 (one per optimiser; bf16 and fp32 need none)."""
    return torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)


def optimizer_step(
    loss: torch.Tensor, opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler, params: list[torch.nn.Parameter],
    grad_clip: float = 0.0,
) -> float:
    """Backward + (unscale + clip) + step + update with *this optimiser's own* scaler.
    Returns the gradient norm when clipping (else NaN)."""
    opt.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    norm = float("nan")
    if grad_clip > 0:
        scaler.unscale_(opt)
        norm = float(torch.nn.utils.clip_grad_norm_(params, grad_clip))
    scaler.step(opt)
    scaler.update()
    return norm


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for g in opt.param_groups:
        g["lr"] = float(lr)  # a plain float: checkpoints load with weights_only=True


def scheduled_lr(base: float, step: int, total: int, schedule: str, warmup: int) -> float:
    """Learning rate at ``step`` (stateless, so resuming needs no scheduler state)."""
    if warmup > 0 and step < warmup:
        return base * (step + 1) / warmup
    if schedule == "cosine" and total > warmup:
        t = (step - warmup) / max(1, total - warmup)
        return float(base * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t))))
    return float(base)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# --------------------------------------------------------------------------- Ctrl-C


class Interrupted(KeyboardInterrupt):
    """Raised after a graceful stop on Ctrl-C: the step in progress finished and ``step`` was checkpointed."""

    def __init__(self, step: int) -> None:
        super().__init__(f"interrupted after step {step}")
        self.step = step


class StopRequest:
    """Ctrl-C handling for a training loop (context manager, main thread only).

    The first SIGINT only sets :attr:`requested`, so the step in progress completes and the loop can
    checkpoint an exact state and stop. Another SIGINT at least ``grace_s`` later aborts at once
    (``KeyboardInterrupt``, no checkpoint); repeats within ``grace_s`` are ignored (``torchrun``
    forwards the terminal's SIGINT to workers that already got it).
    """

    def __init__(self, grace_s: float = 2.0) -> None:
        self.grace_s = grace_s
        self.requested = False
        self._t = 0.0
        self._old: Any = None
        self._installed = False

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._old)
            self._installed = False

    def _handle(self, signum: int, frame: Any) -> None:
        now = time.monotonic()
        if not self.requested:
            self.requested, self._t = True, now
        elif now - self._t >= self.grace_s:
            raise KeyboardInterrupt

    def agreed(self, info: DistInfo, device: torch.device) -> bool:
        """Whether to stop now; under DDP every rank must call this each step (they stop together)."""
        if not info.enabled:
            return self.requested
        flag = torch.tensor([float(self.requested)], device=device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())


# --------------------------------------------------------------------------- checkpoints


def rng_state() -> dict[str, Any]:
    """Python, numpy and torch (CPU + CUDA) RNG states, storable with ``weights_only`` loading."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        with contextlib.suppress(Exception):
            torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """``torch.save`` to a temp file in the same folder, fsync, then ``os.replace`` (atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save({"format": CKPT_FORMAT, **payload}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``, on CPU)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CKPT_FORMAT:
        raise ValueError(f"{path}: not a cartoon-cam-train checkpoint")
    return ckpt


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if hasattr(model, "module") else model


# --------------------------------------------------------------------------- run folder


class RunDir:
    """Layout of a run: ``config.toml``, ``env.json``, ``train.log``, ``metrics.jsonl``,
    ``samples/``, ``checkpoints/{last.pt, epoch_XXXX.pt}``, ``export/``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.ckpt_dir = self.root / "checkpoints"
        self.samples = self.root / "samples"
        self.export = self.root / "export"
        self.last = self.ckpt_dir / "last.pt"
        self.metrics = self.root / "metrics.jsonl"

    def create(self, cfg: Config, command: str) -> None:
        for d in (self.root, self.ckpt_dir, self.samples, self.export):
            d.mkdir(parents=True, exist_ok=True)
        (self.root / "config.toml").write_text(to_toml(cfg), encoding="utf-8")
        env = {
            "command": command, "argv": sys.argv, "python": platform.python_version(), "torch": torch.__version__,
            "cuda": torch.version.cuda, "platform": platform.platform(), "time": _dt.datetime.now().isoformat(),
            "world_size": int(os.environ.get("WORLD_SIZE", "1")),
        }
        (self.root / "env.json").write_text(json.dumps(env, indent=2), encoding="utf-8")


def setup_logging(run: RunDir | None, is_main: bool) -> None:
    """Log to stderr (main process only) and to ``RUN_DIR/train.log``."""
    logger = logging.getLogger("training")
    logger.setLevel(logging.INFO)
    for h in list(logger.handlers):
        if getattr(h, "_cartoon_cam_train", False):
            logger.removeHandler(h)
            h.close()
    logger.propagate = False
    if not is_main:  # other ranks stay quiet (warnings and errors still reach stderr)
        h = logging.StreamHandler(sys.stderr)
        h.setLevel(logging.ERROR)
        h._cartoon_cam_train = True  # type: ignore[attr-defined]
        logger.addHandler(h)
        return
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if run is not None:
        run.root.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(run.root / "train.log", encoding="utf-8"))
    for h in handlers:
        h.setFormatter(fmt)
        h._cartoon_cam_train = True  # type: ignore[attr-defined]
        logger.addHandler(h)


class MetricsWriter:
    """Appends one JSON object per line to ``metrics.jsonl``; optional TensorBoard mirror."""

    def __init__(self, path: Path, tensorboard_dir: Path | None = None) -> None:
        self.path = path
        self.tb = None
        if tensorboard_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(tensorboard_dir))
            except Exception as e:  # tensorboard is optional
                log.warning("TensorBoard disabled (%s); pip install tensorboard", e)

    def write(self, record: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")
        if self.tb is not None:
            step = int(record.get("step", 0))
            for k, v in record.items():
                if isinstance(v, (int, float)) and k != "step":
                    self.tb.add_scalar(k, v, step)

    def truncate_after(self, step: int) -> None:
        """Drop records of steps after ``step`` (on resume, so the log has no duplicates)."""
        if not self.path.is_file():
            return
        keep = [ln for ln in self.path.read_text(encoding="utf-8").splitlines()
                if ln.strip() and json.loads(ln).get("step", -1) <= step]
        self.path.write_text("".join(ln + "\n" for ln in keep), encoding="utf-8")

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def save_grid(path: Path, rows: list[list[np.ndarray]], cell: int = 0) -> None:
    """Write a grid of uint8 HxWx3 **RGB** images (one list per row) as JPEG; cells resized to the
    first image's size (or ``cell`` pixels high)."""
    h, w = rows[0][0].shape[:2]
    if cell:
        w, h = round(w * cell / h), cell
    lines = [np.concatenate([cv2.resize(im, (w, h), interpolation=cv2.INTER_AREA) if im.shape[:2] != (h, w)
                             else im for im in row], axis=1) for row in rows]
    grid = np.concatenate(lines, axis=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.ascontiguousarray(grid[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 90])


class Throughput:
    """Steps/s over the last logging window."""

    def __init__(self) -> None:
        self.t, self.n = time.perf_counter(), 0

    def tick(self) -> None:
        self.n += 1

    def rate(self) -> float:
        now = time.perf_counter()
        r = self.n / max(1e-9, now - self.t)
        self.t, self.n = now, 0
        return r


def progress(total: int, initial: int, enabled: bool, desc: str) -> Iterator[Any] | Any:
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, disable=None if enabled else True, desc=desc, dynamic_ncols=True)
