"""The training ``Run`` on a toy model: cadence, resume, Ctrl-C and abort, metrics lines, export."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn as nn

from training.config import Config, ConfigError
from training.run import Run
from training.runtime import Interrupted, load_checkpoint


def _cfg(*, log_every: int = 1, ckpt_every: int = 0, val_every: int = 0) -> Config:
    cfg = Config()
    cfg.train.device, cfg.train.amp, cfg.train.progress = "cpu", "off", False
    cfg.train.log_every, cfg.train.ckpt_every, cfg.train.val_every = log_every, ckpt_every, val_every
    return cfg


class Toy:
    """A command in miniature: a linear model, Adam, random batches (from the torch RNG, so a resume
    that did not restore the RNG would see other batches). Records what the run calls."""

    def __init__(self, out: Path, cfg: Config, *, resume: str | None = None, stop_after: int | None = None,
                 command: str = "toy", fail_at: int | None = None, sigint_at: int | None = None,
                 abort_at: int | None = None) -> None:
        self.run = Run(command, cfg, out, resume=resume, stop_after=stop_after)
        self.run.create()
        self.run.seed()
        self.model = nn.Linear(3, 2)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=0.1)
        self.steps: list[int] = []
        self.ckpts: list[int] = []
        self.grids: list[int] = []
        self.exports: list[int] = []
        self.fail_at, self.sigint_at, self.abort_at = fail_at, sigint_at, abort_at
        self.start = self.run.register({"G": self.model, "opt": self.opt}, self.run.scalers("s"),
                                       meta=lambda step: {"note": f"toy {step}"},
                                       snapshot=lambda step, payload: self.ckpts.append(step))

    def step(self, i: int) -> dict[str, torch.Tensor]:
        if i == self.abort_at:  # a second Ctrl-C: the step never completes
            raise KeyboardInterrupt
        self.steps.append(i)
        loss = self.model(torch.randn(4, 3)).pow(2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        if i == self.sigint_at:
            signal.raise_signal(signal.SIGINT)  # the first Ctrl-C: this step still finishes
        if i == self.fail_at:
            loss = loss * float("nan")
        return {"loss": loss.detach()}

    def go(self, total: int, every: int = 100) -> dict[str, Any]:
        self.run.loop(total, self.step, every=every, fields=lambda i: {"phase": "toy", "lr": 0.1},
                      validate=self.grids.append, show=("loss",))
        return self.run.finish(self.export, extra={"extra": 1})

    def export(self, step: int) -> list[Path]:
        self.exports.append(step)
        return [self.run.dir.export / "toy.safetensors"]


def _metrics(out: Path) -> list[dict[str, Any]]:
    return [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines()]


def test_cadence_log_checkpoint_validate_and_export(tmp_path: Path) -> None:
    toy = Toy(tmp_path / "run", _cfg(log_every=3, ckpt_every=4, val_every=5))
    res = toy.go(10)
    assert toy.steps == list(range(10))
    assert [r["step"] for r in _metrics(tmp_path / "run")] == [3, 6, 9, 10]  # every 3rd, and the last
    assert toy.ckpts == [4, 8, 10]  # every 4th below the end, then the end
    assert toy.grids == [5, 10]
    assert toy.exports == [10]
    assert list(res) == ["steps", "total_steps", "finished", "exported", "seconds", "extra", "run_dir"]
    assert res["steps"] == res["total_steps"] == 10 and res["finished"] and res["extra"] == 1
    rec = _metrics(tmp_path / "run")[-1]
    assert set(rec) == {"step", "phase", "lr", "steps_per_s", "loss"} and rec["phase"] == "toy"
    assert (tmp_path / "run" / "config.toml").is_file() and (tmp_path / "run" / "env.json").is_file()


def test_the_commands_interval_is_the_default(tmp_path: Path) -> None:
    toy = Toy(tmp_path / "run", _cfg(log_every=100))
    toy.go(7, every=2)
    assert toy.ckpts == [2, 4, 6, 7] and toy.grids == [2, 4, 6, 7]
    assert [r["step"] for r in _metrics(tmp_path / "run")] == [7]


def test_checkpoint_holds_the_registered_state(tmp_path: Path) -> None:
    toy = Toy(tmp_path / "run", _cfg())
    toy.go(2)
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert set(ckpt) == {"format", "command", "step", "note", "G", "opt", "scalers", "rng", "config", "world_size"}
    assert ckpt["command"] == "toy" and ckpt["step"] == 2 and ckpt["note"] == "toy 2" and ckpt["world_size"] == 1
    assert set(ckpt["scalers"]) == {"s"}
    for k, v in toy.model.state_dict().items():
        assert torch.equal(ckpt["G"][k], v)


def test_stop_after_checkpoints_without_export_and_resume_continues_exactly(tmp_path: Path) -> None:
    full = Toy(tmp_path / "full", _cfg(ckpt_every=100))
    full.go(6)

    part = Toy(tmp_path / "part", _cfg(ckpt_every=100), stop_after=3)
    res = part.go(6)
    assert part.steps == [0, 1, 2] and part.ckpts == [3] and part.exports == [] and not res["finished"]
    saved_opt = load_checkpoint(tmp_path / "part" / "checkpoints" / "last.pt")["opt"]

    again = Toy(tmp_path / "part", _cfg(ckpt_every=100), resume="auto")
    assert again.start == 3
    restored = again.opt.state_dict()
    assert restored["state"].keys() == saved_opt["state"].keys()
    for k, s in restored["state"].items():  # the same Adam moments and step count
        for name, v in s.items():
            assert torch.equal(torch.as_tensor(v), torch.as_tensor(saved_opt["state"][k][name])), name
    again.go(6)
    assert again.steps == [3, 4, 5] and again.exports == [6]
    for k, v in full.model.state_dict().items():
        assert torch.equal(again.model.state_dict()[k], v), k  # same batches (RNG restored), same weights

    def losses(out: Path) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k != "steps_per_s"} for r in _metrics(out)]

    assert losses(tmp_path / "part") == losses(tmp_path / "full")


def test_ctrl_c_finishes_the_step_and_leaves_a_resumable_checkpoint(tmp_path: Path) -> None:
    full = Toy(tmp_path / "full", _cfg(ckpt_every=100))
    full.go(6)
    out = tmp_path / "run"
    toy = Toy(out, _cfg(ckpt_every=100), sigint_at=2)
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(Interrupted) as e:
        toy.go(6)
    assert e.value.step == 3 and toy.steps == [0, 1, 2] and toy.ckpts == [3] and toy.exports == []
    assert load_checkpoint(out / "checkpoints" / "last.pt")["step"] == 3
    assert signal.getsignal(signal.SIGINT) is handler  # the run's handler is gone again
    again = Toy(out, _cfg(ckpt_every=100), resume="auto")
    again.go(6)
    assert again.start == 3 and again.steps == [3, 4, 5]
    for k, v in full.model.state_dict().items():
        assert torch.equal(again.model.state_dict()[k], v), k


def test_abort_mid_step_keeps_the_last_checkpoint_and_metrics_are_written_once(tmp_path: Path) -> None:
    """A hard abort during step 6 (after the checkpoint of step 4 and the metrics of step 5): resume
    continues from 4, and metrics.jsonl ends with one line per step, none repeated."""
    out = tmp_path / "run"
    toy = Toy(out, _cfg(ckpt_every=4), abort_at=5)
    with pytest.raises(KeyboardInterrupt) as e:
        toy.go(8)
    assert not isinstance(e.value, Interrupted)
    assert [r["step"] for r in _metrics(out)] == [1, 2, 3, 4, 5]
    assert load_checkpoint(out / "checkpoints" / "last.pt")["step"] == 4
    assert not list((out / "checkpoints").glob("*.part"))
    again = Toy(out, _cfg(ckpt_every=4), resume="auto")
    again.go(8)
    assert again.start == 4 and again.steps == [4, 5, 6, 7]
    assert [r["step"] for r in _metrics(out)] == list(range(1, 9))


def test_resume_refuses_another_commands_checkpoint_and_a_changed_config(tmp_path: Path) -> None:
    out = tmp_path / "run"
    Toy(out, _cfg(), stop_after=1).go(4)
    with pytest.raises(ConfigError, match="not from 'other'"):
        Toy(out, _cfg(), resume="auto", command="other")
    changed = _cfg()
    changed.loss.pixel = 3.0
    with pytest.raises(ConfigError, match="loss.pixel"):
        Toy(out, changed, resume="auto")
    Toy(out, _cfg(log_every=5), resume="auto").go(4)  # a logging interval may change


def test_a_non_finite_loss_stops_the_run_at_its_log_step(tmp_path: Path) -> None:
    toy = Toy(tmp_path / "run", _cfg(log_every=2), fail_at=3)  # index 3 = step 4, a log step
    with pytest.raises(FloatingPointError, match="non-finite loss"):
        toy.go(6)
    assert toy.steps == [0, 1, 2, 3] and toy.exports == []


def test_a_checkpoint_from_before_a_loss_key_existed_still_resumes(tmp_path: Path) -> None:
    """docs/TRAINING.md, "Adding a loss": a new ``loss.*`` key defaults to 0, so an older run's config
    (without the key) is the same config and resumes."""
    out = tmp_path / "run"
    Toy(out, _cfg(), stop_after=2).go(4)
    last = out / "checkpoints" / "last.pt"
    ckpt = load_checkpoint(last)
    old_cfg = json.loads(ckpt["config"])
    del old_cfg["loss"]["shift"]  # as if written before loss.shift was added
    ckpt["config"] = json.dumps(old_cfg)
    torch.save(ckpt, last)
    again = Toy(out, _cfg(), resume="auto")
    assert again.start == 2
