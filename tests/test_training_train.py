"""Smoke ``train`` on the AnimeGAN sample, exact resume, export → the app runs the result."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from training.cli import main
from training.runtime import load_checkpoint

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SAMPLE = SHARED / "photos" / "animegan_sample"

pytestmark = pytest.mark.skipif(not SAMPLE.is_dir(), reason="../shared/photos/animegan_sample is not present")

BASE = ["train", "--data", str(SAMPLE), "--style-name", "Target", "--preset", "ci_tiny", "--threads", "2"]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ci_tiny: 2 init steps + 2 GAN steps at 64x64, batch 2, uninterrupted."""
    out = tmp_path_factory.mktemp("train") / "run"
    assert main([*BASE, "--out", str(out)]) == 0
    return out


def test_smoke_train_writes_everything(smoke_run: Path) -> None:
    recs = [json.loads(ln) for ln in (smoke_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [1, 2, 3, 4]
    assert [r["phase"] for r in recs] == ["init", "init", "gan", "gan"]
    gan = recs[-1]
    for k in ("content", "style", "color", "tv", "g_adv", "d_real", "d_fake", "d_gray", "d_smooth", "d_total"):
        assert np.isfinite(gan[k]), k
    assert recs[0]["lr"] == 2e-4 and gan["lr"] == 2e-5
    assert (smoke_run / "config.toml").is_file() and (smoke_run / "env.json").is_file()
    assert sorted(p.name for p in (smoke_run / "samples").iterdir()) == ["step_0000002.jpg", "step_0000004.jpg"]
    assert (smoke_run / "checkpoints" / "epoch_0002.pt").is_file()
    ckpt = load_checkpoint(smoke_run / "checkpoints" / "last.pt")
    assert ckpt["step"] == 4 and ckpt["command"] == "train"
    assert not list((smoke_run / "checkpoints").glob("*.part"))  # atomic writes leave no temp files


def test_run_folder_formats_are_stable(smoke_run: Path) -> None:
    """What a resume (and ``export --ckpt``) of an existing run folder reads: keep these keys."""
    last = load_checkpoint(smoke_run / "checkpoints" / "last.pt")
    assert set(last) == {"format", "command", "step", "init_steps", "epoch", "G", "D", "opt_init", "opt_g", "opt_d",
                         "scalers", "rng", "config", "vgg", "world_size"}
    assert set(last["scalers"]) == {"init", "g", "d"} and last["init_steps"] == 2 and last["epoch"] == 2
    assert set(load_checkpoint(smoke_run / "checkpoints" / "epoch_0002.pt")) == {"format", "command", "step", "G",
                                                                                  "config"}
    recs = [json.loads(ln) for ln in (smoke_run / "metrics.jsonl").read_text().splitlines()]
    assert set(recs[0]) == {"step", "epoch", "phase", "lr", "steps_per_s", "content", "g_total"}
    assert {"step", "epoch", "phase", "lr", "steps_per_s", "d_total", "logit_real", "logit_fake"} <= set(recs[-1])
    assert json.loads((smoke_run / "env.json").read_text())["command"] == "train"


def test_export_runs_in_the_app(smoke_run: Path) -> None:
    from cartoon_cam.inference.backends import create_backend
    from cartoon_cam.inference.style import read_style

    sf = read_style(smoke_run / "export" / "target.safetensors")
    assert sf.manifest.arch == "animeganv2" and sf.manifest.tier == "quality" and sf.manifest.thumbnail
    assert "ci_tiny" in sf.manifest.source
    img = np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    with create_backend(sf, backend="torch", device="cpu") as b:
        out = b.process(img)
    assert out.shape == img.shape and out.dtype == np.uint8


def test_export_command_with_onnx(smoke_run: Path, tmp_path: Path) -> None:
    from cartoon_cam.inference.backends import create_backend
    from cartoon_cam.inference.style import read_style

    assert main(["export", "--ckpt", str(smoke_run / "checkpoints" / "epoch_0002.pt"), "--out", str(tmp_path),
                 "--id", "mine", "--name", "Mine", "--licence", "CC-BY-4.0", "--onnx", "--fp16"]) == 0
    st = read_style(tmp_path / "mine.safetensors")
    assert st.manifest.name == "Mine" and st.manifest.licence == "CC-BY-4.0" and st.manifest.precision == "fp16"
    onnx_style = read_style(tmp_path / "mine.onnx")
    assert onnx_style.manifest.arch == "onnx"
    img = np.full((40, 44, 3), 100, np.uint8)
    with create_backend(onnx_style, backend="onnx", device="cpu") as b:
        assert b.process(img).shape == img.shape


def _assert_same_run(smoke_run: Path, out: Path) -> None:
    """``out`` ended exactly like the uninterrupted ``smoke_run``: weights, optimisers, logged losses."""
    a = load_checkpoint(smoke_run / "checkpoints" / "last.pt")
    b = load_checkpoint(out / "checkpoints" / "last.pt")
    assert a["step"] == b["step"] == 4
    for net in ("G", "D"):
        assert a[net].keys() == b[net].keys()
        for k in a[net]:
            assert torch.equal(a[net][k], b[net][k]), f"{net}.{k}"
    for opt in ("opt_init", "opt_g", "opt_d"):
        for sa, sb in zip(a[opt]["state"].values(), b[opt]["state"].values(), strict=True):
            for k in sa:
                assert torch.equal(torch.as_tensor(sa[k]), torch.as_tensor(sb[k])), f"{opt}.{k}"

    def losses(run: Path) -> list[dict]:
        recs = [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines()]
        return [{k: v for k, v in r.items() if k != "steps_per_s"} for r in recs]

    assert losses(out) == losses(smoke_run)
    assert (out / "export" / "target.safetensors").is_file()


def test_resume_is_bit_identical(smoke_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main([*BASE, "--out", str(out), "--stop-after", "3"]) == 0  # 2 init + 1 GAN step, mid-epoch
    assert load_checkpoint(out / "checkpoints" / "last.pt")["step"] == 3
    assert not (out / "export").exists() or not list((out / "export").iterdir())
    assert main(["train", "--out", str(out), "--resume", "--threads", "2"]) == 0
    _assert_same_run(smoke_run, out)


def test_ctrl_c_finishes_the_step_then_resume_is_bit_identical(
    smoke_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """Ctrl-C between D's and G's update of step 3: G still updates, step 3 is checkpointed, exit 130."""
    import training.trainer as trainer

    real_step, calls = trainer.optimizer_step, []

    def step_then_ctrl_c(*args: Any, **kwargs: Any) -> float:
        norm = real_step(*args, **kwargs)
        calls.append(args[1])
        if len(calls) == 3:  # 2 init updates, then D's update of the first GAN step
            signal.raise_signal(signal.SIGINT)
        return norm

    monkeypatch.setattr(trainer, "optimizer_step", step_then_ctrl_c)
    out = tmp_path / "run"
    assert main([*BASE, "--out", str(out)]) == 130
    assert "interrupted after step 3" in capsys.readouterr().err
    assert len(calls) == 4  # G's update of step 3 ran; nothing after it
    assert load_checkpoint(out / "checkpoints" / "last.pt")["step"] == 3
    monkeypatch.undo()
    assert main(["train", "--out", str(out), "--resume", "--threads", "2"]) == 0
    _assert_same_run(smoke_run, out)


def test_resume_refuses_a_changed_config(smoke_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["train", "--out", str(smoke_run), "--resume", "--set", "loss.col=99"])
    assert rc == 2
    assert "loss.col" in capsys.readouterr().err


def test_missing_dataset_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--data", str(tmp_path / "none"), "--style-name", "X", "--preset", "ci_tiny",
                 "--out", str(tmp_path / "r")]) == 2
    assert "dataset folder not found" in capsys.readouterr().err


def test_whole_images_are_for_distill_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, "--out", str(tmp_path / "r"), "--size", "0"]) == 2
    assert "data.size 0 (whole images) is for distill only" in capsys.readouterr().err


def test_gan_step_under_bf16_autocast_with_per_optimizer_scalers() -> None:
    """The AMP code path on CPU: bf16 autocast, enabled GradScalers (one per optimiser), clipping."""
    from cartoon_cam.inference.registry import create_model
    from training.config import LossCfg
    from training.discriminator import Discriminator
    from training.trainer import GanNets, finite_items, gan_step
    from training.vgg import load_vgg

    torch.manual_seed(0)
    G, D = create_model("animeganv2").train(), Discriminator(ch=16).train()
    nets = GanNets(G, D, G, D, load_vgg("random"))
    opt_g, opt_d = torch.optim.Adam(G.parameters(), 1e-4), torch.optim.Adam(D.parameters(), 1e-4)
    sg, sd = torch.amp.GradScaler("cpu", init_scale=2.0**8), torch.amp.GradScaler("cpu", init_scale=2.0**4)
    before_g, before_d = G.out_layer[0].weight.clone(), D.net[1].parametrizations.weight.original.clone()
    imgs = [torch.rand(2, 3, 32, 32) * 2 - 1 for _ in range(4)]
    rec = gan_step(nets, *imgs, opt_g, opt_d, sg, sd, LossCfg(), torch.device("cpu"), torch.bfloat16, grad_clip=10.0)
    vals = finite_items(rec, 0)
    assert {"g_adv", "content", "style", "color", "tv", "d_real", "d_fake", "d_gray", "d_smooth"} <= set(vals)
    assert not torch.equal(G.out_layer[0].weight, before_g)
    assert not torch.equal(D.net[1].parametrizations.weight.original, before_d)
    assert sg.get_scale() == 2.0**8 and sd.get_scale() == 2.0**4  # each optimiser kept its own scaler
    assert all(p.requires_grad for p in D.parameters())


class _TinyFeatures(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean((2, 3)), x.std((2, 3))], 1)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_eval_fid_kid_of_a_train_run(smoke_run: Path, tmp_path: Path) -> None:
    feat = tmp_path / "feat.pt"
    torch.jit.script(_TinyFeatures()).save(str(feat))
    out = tmp_path / "eval.json"
    assert main(["eval", "--run", str(smoke_run), "--inception", str(feat), "--speed", "", "--n", "3",
                 "--max-side", "64", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["n_generated"] == 3 and res["n_style"] == 10
    for k in ("fid_style", "kid_style", "fid_photo", "kid_photo"):
        assert np.isfinite(res[k]), k
