"""A training run: the scaffolding ``train`` and ``distill`` share, so that each keeps only its
data, its models and its step.

A command uses one :class:`Run`, in this order::

    run = Run("distill", cfg, out, resume=..., stop_after=..., allow_change=...)  # setup, resume checkpoint
    run.create()                                       # RUN_DIR/config.toml, env.json
    ...data...
    run.seed()                                         # before the models are built
    ...models, optimisers, run.scalers(...)...
    start = run.register({"G": S, "opt_s": opt_s}, scalers, meta=...)   # what a checkpoint holds; resume
    ...DDP (run.wrap), loaders starting at ``start``...
    run.loop(total, step, every=..., fields=..., validate=...)          # steps, cadence, Ctrl-C
    return run.finish(export)                          # export when complete, summary

What the run owns:

* **setup**: distributed init (``torchrun``), device, logging to ``RUN_DIR/train.log``, CPU threads;
  on resume the checkpoint, refused when it is from another command or its config differs (except
  :data:`.config.RESUME_MUTABLE` keys, or with ``allow_change``);
* **checkpoints**: ``checkpoints/last.pt`` holds ``command``, ``step``, the command's ``meta``, the
  ``state_dict`` of every registered module and optimiser under its key, ``scalers``, ``rng``,
  ``config`` (JSON) and ``world_size``; a command's ``snapshot`` hook may keep more files (``train``'s
  ``epoch_XXXX.pt``). Written by rank 0 only, atomically (:func:`.runtime.save_checkpoint`);
* **cadence**, after the completed step ``s`` (1-based) of a loop that runs to ``end``: a
  ``metrics.jsonl`` line when ``s % train.log_every == 0`` or ``s == end``; below ``end``, a
  checkpoint when ``s % train.ckpt_every == 0`` and a validation grid when ``s % train.val_every == 0``
  (0 = the command's ``every``); after the loop, always a checkpoint and a grid of the last step;
* **Ctrl-C** (:class:`.runtime.StopRequest`): the step in progress finishes, is checkpointed, and
  :class:`.runtime.Interrupted` is raised (the CLI exits 130); ``--resume`` continues exactly;
* **export**: only once the whole schedule is done (not after ``stop_after``), on rank 0.

The step itself (data, forward, losses, optimiser updates) stays in the command: ``trainer.py``
(``init_step``, ``gan_step``) and ``distill.py`` (``distill_step``). Loss functions live in
``training/losses.py`` and their weights are ``loss.*`` keys in ``training/config.py``
(``LossCfg``); see docs/TRAINING.md, "Adding a loss".
"""

from __future__ import annotations

import functools
import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP

from .config import RESUME_MUTABLE, Config, ConfigError
from .runtime import (
    Interrupted,
    MetricsWriter,
    RunDir,
    StopRequest,
    Throughput,
    amp_dtype,
    barrier,
    dist_env,
    init_distributed,
    load_checkpoint,
    make_scaler,
    pick_device,
    progress,
    rng_state,
    save_checkpoint,
    seed_everything,
    set_rng_state,
    setup_logging,
    unwrap,
)

log = logging.getLogger("training")


class Stateful(Protocol):
    """A module or an optimiser: anything a checkpoint stores by its ``state_dict``."""

    def state_dict(self) -> Any: ...

    def load_state_dict(self, state: Any) -> Any: ...


def check_resume_config(ckpt_cfg_json: str, cfg: Config, allow_change: bool) -> None:
    """Refuse to resume with a config that differs from the checkpoint's, except in the
    :data:`.config.RESUME_MUTABLE` keys (or with ``allow_change``); the error lists the differences."""
    from .config import from_dict

    old = from_dict(json.loads(ckpt_cfg_json))
    if old.hash(ignore=RESUME_MUTABLE) != cfg.hash(ignore=RESUME_MUTABLE) and not allow_change:
        a, b = old.to_dict(), cfg.to_dict()
        diffs = [f"{s}.{k}: {a[s][k]!r} → {b[s][k]!r}" for s in a if isinstance(a[s], dict)
                 for k in a[s] if a[s][k] != b[s].get(k) and f"{s}.{k}" not in RESUME_MUTABLE and s not in RESUME_MUTABLE]
        raise ConfigError("resume: the configuration differs from the checkpoint's ("
                          + "; ".join(diffs) + "); pass --allow-config-change to accept")


def finite_items(rec: Mapping[str, torch.Tensor], step: int) -> dict[str, float]:
    """Loss tensors → floats; raises ``FloatingPointError`` on NaN/Inf (training diverged)."""
    vals = {k: float(v) for k, v in rec.items()}
    if not all(math.isfinite(v) for v in vals.values()):
        raise FloatingPointError(f"step {step}: non-finite loss {vals} (lower the learning rates or disable AMP)")
    return vals


class Run:
    """One ``train`` or ``distill`` run in ``out`` (see the module docstring for the order of calls).

    Construction does the setup: distributed init, device (:attr:`device`), logging, CPU threads,
    and with ``resume`` (``"auto"`` = ``out/checkpoints/last.pt``, or a path) loads and checks the
    checkpoint into :attr:`ckpt` (``None`` for a fresh run). ``stop_after``: end the loop (with a
    checkpoint, without export) once that many steps are done.
    """

    def __init__(self, command: str, cfg: Config, out: str | Path, *, resume: str | None = None,
                 stop_after: int | None = None, allow_change: bool = False) -> None:
        self.t_start = time.perf_counter()
        self.command, self.cfg, self.stop_after = command, cfg, stop_after
        self.info = dist_env()
        self.device = pick_device(cfg.train.device, self.info)
        init_distributed(self.device, self.info)
        self.dir = RunDir(out)
        setup_logging(self.dir, self.info.is_main)
        if cfg.train.threads > 0:
            torch.set_num_threads(cfg.train.threads)
        self.ckpt: dict[str, Any] | None = None
        if resume:
            self.ckpt = load_checkpoint(self.dir.last if resume == "auto" else resume)
            if self.ckpt.get("command") != command:
                raise ConfigError(f"resume: that checkpoint is not from '{command}'")
            check_resume_config(self.ckpt["config"], cfg, allow_change)
        self.start = 0  # first step of this process's loop (the checkpoint's step on resume)
        self.step = 0  # steps completed (after :meth:`loop`)
        self.total = 0  # steps of the whole schedule
        self.metrics: MetricsWriter | None = None
        self._state: dict[str, Stateful] = {}
        self._scalers: dict[str, torch.amp.GradScaler] = {}
        self._meta: Callable[[int], dict[str, Any]] | None = None
        self._snapshot: Callable[[int, dict[str, Any]], None] | None = None
        self._validate: Callable[[int], None] | None = None

    # ----------------------------------------------------------------- setup

    def create(self) -> None:
        """Write ``config.toml`` and ``env.json`` (rank 0), then wait for every rank."""
        if self.info.is_main:
            self.dir.create(self.cfg, self.command)
        barrier(self.info)

    def seed(self) -> None:
        """Seed Python, numpy and torch with ``train.seed`` (call it right before building the models)."""
        seed_everything(self.cfg.train.seed)

    @functools.cached_property
    def dtype(self) -> torch.dtype | None:
        """Autocast dtype for ``train.amp`` on this device (``None`` = float32)."""
        return amp_dtype(self.cfg.train.amp, self.device)

    def scalers(self, *names: str) -> dict[str, torch.amp.GradScaler]:
        """One GradScaler per optimiser, by name (enabled for fp16 only)."""
        return {k: make_scaler(self.device, self.dtype) for k in names}

    def wrap(self, module: nn.Module) -> nn.Module:
        """``module`` in DDP when launched by ``torchrun`` (else ``module`` itself)."""
        if not self.info.enabled:
            return module
        return DDP(module, device_ids=[self.device.index] if self.device.type == "cuda" else None)

    # ----------------------------------------------------------------- checkpoints

    def register(
        self, state: Mapping[str, Stateful], scalers: Mapping[str, torch.amp.GradScaler], *,
        meta: Callable[[int], dict[str, Any]] | None = None,
        snapshot: Callable[[int, dict[str, Any]], None] | None = None,
        phase: Callable[[int], str] | None = None,
    ) -> int:
        """Declare what every checkpoint holds and, on resume, load it back; returns the step to
        start from (0 for a fresh run).

        ``state``: checkpoint key → plain (not DDP) module or optimiser. ``scalers``: AMP scalers by
        name (stored under ``scalers``). ``meta(step)``: more keys for the checkpoint (JSON-like
        values). ``snapshot(step, payload)``: called after each ``last.pt`` is written, to keep
        other files. ``phase(step)``: named in the "resumed" log line.
        """
        self._state, self._scalers = dict(state), dict(scalers)
        self._meta, self._snapshot = meta, snapshot
        ckpt = self.ckpt
        if ckpt is None:
            return 0
        for k, obj in self._state.items():
            obj.load_state_dict(ckpt[k])
        for k, s in self._scalers.items():
            s.load_state_dict(ckpt["scalers"][k])
        set_rng_state(ckpt["rng"])
        self.start = self.step = int(ckpt["step"])
        if phase is None:
            log.info("resumed from step %d", self.start)
        else:
            log.info("resumed from step %d (%s)", self.start, phase(self.start))
        if int(ckpt.get("world_size", 1)) != self.info.world_size:
            log.warning("resuming a %d-process run with %d processes: the data order (and the epoch length) "
                        "differ from the uninterrupted run", int(ckpt.get("world_size", 1)), self.info.world_size)
        return self.start

    def checkpoint(self, step: int) -> None:
        """Write ``checkpoints/last.pt`` after ``step`` completed steps (rank 0; others return)."""
        if not self.info.is_main:
            return
        payload: dict[str, Any] = {"command": self.command, "step": step, **(self._meta(step) if self._meta else {})}
        for k, obj in self._state.items():
            payload[k] = unwrap(obj).state_dict() if isinstance(obj, nn.Module) else obj.state_dict()
        payload.update(scalers={k: s.state_dict() for k, s in self._scalers.items()}, rng=rng_state(),
                       config=self.cfg.to_json(), world_size=self.info.world_size)
        save_checkpoint(self.dir.last, payload)
        if self._snapshot is not None:
            self._snapshot(step, payload)

    def validate(self, step: int) -> None:
        """The command's validation grid after ``step`` (rank 0 only)."""
        if self.info.is_main and self._validate is not None:
            self._validate(step)

    # ----------------------------------------------------------------- the loop

    def loop(
        self, total: int, step: Callable[[int], Mapping[str, torch.Tensor]], *, every: int,
        fields: Callable[[int], dict[str, Any]], validate: Callable[[int], None] | None = None,
        show: tuple[str, ...] = (),
    ) -> int:
        """Run steps ``start .. min(total, stop_after) - 1``; returns the steps completed.

        ``step(i)`` runs step ``i`` (0-based: fetch its batch, update) and returns its detached loss
        tensors; they become floats (NaN/Inf raise ``FloatingPointError``) only on a log step.
        ``fields(i)``: what else goes into that step's ``metrics.jsonl`` line (phase, lr, ...).
        ``every``: checkpoint / grid interval when ``train.ckpt_every`` / ``train.val_every`` is 0.
        ``validate(s)``: write the grid after ``s`` completed steps. ``show``: losses on the progress bar.
        """
        tc = self.cfg.train
        self.total, self._validate = total, validate
        end = total if self.stop_after is None else min(total, self.stop_after)
        ckpt_every, val_every = tc.ckpt_every or every, tc.val_every or every
        if self.info.is_main:
            self.metrics = MetricsWriter(self.dir.metrics, self.dir.root / "tb" if tc.tensorboard else None)
            if self.start:
                self.metrics.truncate_after(self.start)  # lines after the checkpoint are logged again
        bar = progress(end, self.start, tc.progress and self.info.is_main, self.command)
        thr = Throughput()
        done = self.start
        try:
            with StopRequest() as stop:
                for i in range(self.start, end):
                    rec = step(i)
                    thr.tick()
                    done = self.step = i + 1  # steps completed
                    bar.update(1)
                    if done % tc.log_every == 0 or done == end:
                        vals = finite_items(rec, i)
                        if self.metrics is not None:
                            self.metrics.write({"step": done, **fields(i), "steps_per_s": thr.rate(), **vals})
                        bar.set_postfix({k: f"{v:.3g}" for k, v in vals.items() if k in show})
                    if done >= end:  # the last step: checkpointed and validated below
                        continue
                    if done % ckpt_every == 0:
                        self.checkpoint(done)
                    if done % val_every == 0:
                        self.validate(done)
                    if stop.agreed(self.info, self.device):  # every rank asks, so they stop together
                        log.warning("interrupted: step %d finished; saving a checkpoint", done)
                        self.checkpoint(done)
                        raise Interrupted(done)
        except KeyboardInterrupt as e:
            if not isinstance(e, Interrupted):
                log.warning("aborted during step %d: no checkpoint of it (--resume continues from the last one)",
                            done + 1)
            raise
        finally:
            bar.close()
        self.checkpoint(done)
        self.validate(done)
        return done

    # ----------------------------------------------------------------- the end

    def finish(self, export: Callable[[int], list[Path]], *, note: str = "",
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Export (rank 0, only when the whole schedule is done) and return the run's summary:
        ``steps``, ``total_steps``, ``finished``, ``exported``, ``seconds``, ``extra``, ``run_dir``.
        ``note`` ends the final log line."""
        exported = export(self.step) if self.info.is_main and self.step >= self.total else []
        barrier(self.info)
        if self.metrics is not None:
            self.metrics.close()
        elapsed = time.perf_counter() - self.t_start
        log.info("%s: %d steps done in %.1f s%s", self.command, self.step, elapsed, note)
        return {"steps": self.step, "total_steps": self.total, "finished": self.step >= self.total,
                "exported": [str(p) for p in exported], "seconds": elapsed, **(extra or {}),
                "run_dir": str(self.dir.root)}
