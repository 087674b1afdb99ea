"""Smoke ``distill`` (teacher = CartoonGAN Hayao from ../shared), optional terms, exact resume, eval."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from training.cli import main
from training.runtime import CKPT_FORMAT, load_checkpoint

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
TEACHER = SHARED / "models" / "cartoongan" / "hayao.npz"
PHOTOS = SHARED / "photos" / "train" / "kodak_mcmaster"

pytestmark = pytest.mark.skipif(not (TEACHER.is_file() and PHOTOS.is_dir()), reason="../shared is not present")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("teacher_cache")


def _args(out: Path, cache: Path, *extra: str) -> list[str]:
    return ["distill", "--teacher", str(TEACHER), "--photos", str(PHOTOS), "--max-photos", "6",
            "--preset", "ci_tiny", "--teacher-cache", str(cache), "--out", str(out), "--threads", "2", *extra]


@pytest.fixture(scope="module")
def distill_run(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("distill") / "run"
    assert main(_args(out, cache_dir)) == 0
    return out


def test_smoke_distill_exports_a_lite_style_the_app_runs(distill_run: Path) -> None:
    from cartoon_cam.inference.backends import create_backend
    from cartoon_cam.inference.style import read_style

    recs = [json.loads(ln) for ln in (distill_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == list(range(1, 7))
    assert all(np.isfinite(r["pixel"]) and np.isfinite(r["edge"]) for r in recs)
    held = (distill_run / "holdout.txt").read_text().split()
    assert len(held) == 2
    sf = read_style(distill_run / "export" / "hayao_lite.safetensors")
    assert sf.manifest.arch == "lite" and sf.manifest.tier == "lite" and sf.manifest.size_multiple == 8
    img = np.random.default_rng(1).integers(0, 256, (36, 52, 3), dtype=np.uint8)
    with create_backend(sf, device="cpu") as b:
        assert b.process(img).shape == img.shape
    grid = sorted((distill_run / "samples").glob("*.jpg"))
    assert grid  # photo | teacher | student rows


def test_run_folder_formats_are_stable(distill_run: Path) -> None:
    """What a resume (and ``eval --run``) of an existing run folder reads: keep these keys."""
    last = load_checkpoint(distill_run / "checkpoints" / "last.pt")
    assert set(last) == {"format", "command", "step", "teacher", "G", "opt_s", "scalers", "rng", "config", "world_size"}
    assert last["command"] == "distill" and last["teacher"] == str(TEACHER) and set(last["scalers"]) == {"s", "d"}
    recs = [json.loads(ln) for ln in (distill_run / "metrics.jsonl").read_text().splitlines()]
    assert all(set(r) == {"step", "phase", "lr", "steps_per_s", "pixel", "edge", "total"} for r in recs)
    assert {r["phase"] for r in recs} == {"distill"}
    assert set(json.loads((distill_run / "distill.json").read_text())) == {"teacher", "holdout", "cache"}


def test_teacher_cache_is_reused(cache_dir: Path, distill_run: Path) -> None:
    entries = list(cache_dir.glob("*/*.png"))
    assert len(entries) == 12  # the teacher ran once per photo and scale (6 photos x scales {1.0, 0.75})
    mtimes = {p: p.stat().st_mtime_ns for p in entries}
    out = cache_dir.parent / "again"
    assert main(_args(out, cache_dir, "--stop-after", "1")) == 0
    assert {p: p.stat().st_mtime_ns for p in cache_dir.glob("*/*.png")} == mtimes


def test_optional_terms_and_exact_resume(cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Resume after ``--stop-after`` and after Ctrl-C between D's and the student's update of step 2."""
    import training.distill as distill

    extra = ["--set", "loss.feat=0.1", "--set", "loss.gan=0.1", "--set", "loss.gan_blur=1", "--set", "model.d_crop=16",
             "--set", "loss.steady=1", "--set", "data.noise=4", "--size", "32", "--set", "train.steps=4"]
    full, part, intr = tmp_path / "full", tmp_path / "part", tmp_path / "intr"
    assert main(_args(full, cache_dir, *extra)) == 0
    assert main(_args(part, cache_dir, *extra, "--stop-after", "2")) == 0
    assert main(["distill", "--out", str(part), "--resume", "--threads", "2"]) == 0

    real_step, calls = distill.optimizer_step, []

    def step_then_ctrl_c(*args: Any, **kwargs: Any) -> float:
        norm = real_step(*args, **kwargs)
        calls.append(args[1])
        if len(calls) == 3:  # step 1: D, S; step 2: D → Ctrl-C before the student's update
            signal.raise_signal(signal.SIGINT)
        return norm

    monkeypatch.setattr(distill, "optimizer_step", step_then_ctrl_c)
    assert main(_args(intr, cache_dir, *extra)) == 130
    assert len(calls) == 4 and load_checkpoint(intr / "checkpoints" / "last.pt")["step"] == 2
    monkeypatch.undo()
    assert main(["distill", "--out", str(intr), "--resume", "--threads", "2"]) == 0

    recs = [json.loads(ln) for ln in (full / "metrics.jsonl").read_text().splitlines()]
    assert all(k in recs[-1] for k in ("feat", "g_adv", "d_loss", "steady"))
    a = load_checkpoint(full / "checkpoints" / "last.pt")
    for run in (part, intr):
        b = load_checkpoint(run / "checkpoints" / "last.pt")
        for net in ("G", "D"):
            for k in a[net]:
                assert torch.equal(a[net][k], b[net][k]), f"{run.name}: {net}.{k}"


def test_eval_psnr_ssim_speed_and_grid(distill_run: Path) -> None:
    import cv2

    grid = distill_run / "grid.jpg"
    assert main(["eval", "--run", str(distill_run), "--speed", "64x48", "--runs", "2", "--grid", str(grid)]) == 0
    res = json.loads((distill_run / "eval.json").read_text())
    assert res["photos"] == 2 and np.isfinite(res["psnr"]) and 0 < res["ssim"] <= 1
    assert res["psnr_min"] <= res["psnr"]
    assert res["width"] == 64 and res["height"] == 48 and res["ms_per_frame"] > 0
    img = cv2.imread(str(grid))
    assert img.shape == (2 * 256, 3 * 256, 3)  # 2 held-out photos x (photo | teacher | student)


def test_eval_with_nothing_to_measure_is_a_one_line_error(distill_run: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    style = next((distill_run / "export").glob("*.safetensors"))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["eval", "--style", str(style), "--photos", str(empty), "--speed", ""]) == 2
    assert "no readable photos under" in capsys.readouterr().err
    assert main(["eval", "--style", str(style), "--speed", ""]) == 2  # no teacher, no speed, no FID
    assert "nothing to evaluate" in capsys.readouterr().err


def test_export_style_rebuilds_the_onnx_style_with_the_same_manifest(distill_run: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """``export --style X.safetensors --onnx --out Y.onnx``: the ONNX style of a torch style, rebuilt
    from its weights (how the built-ins got the faster ``lite`` graph without retraining). Same
    manifest but the weights' checksum, same pictures; an existing file needs ``--overwrite``."""
    import dataclasses

    from cartoon_cam.inference.backends import create_backend
    from cartoon_cam.inference.style import read_style

    src = next((distill_run / "export").glob("*.safetensors"))
    out = tmp_path / "rebuilt.onnx"
    assert main(["export", "--style", str(src), "--onnx", "--out", str(out)]) == 0
    a, b = read_style(src).manifest, read_style(out).manifest
    assert b.arch == "onnx" and a.arch == "lite"
    same = {"id", "name", "description", "licence", "attribution", "source", "thumbnail", "tier", "recommended_size",
            "size_multiple", "color", "value_range"}
    assert {k: v for k, v in dataclasses.asdict(a).items() if k in same} == \
        {k: v for k, v in dataclasses.asdict(b).items() if k in same}
    img = np.random.default_rng(3).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    with create_backend(read_style(src), backend="torch", device="cpu") as t, \
            create_backend(read_style(out), backend="onnx", device="cpu") as o:
        assert np.abs(t.process(img).astype(int) - o.process(img).astype(int)).max() <= 2
    before = out.read_bytes()
    assert main(["export", "--style", str(src), "--onnx", "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err and out.read_bytes() == before
    assert main(["export", "--style", str(src), "--onnx", "--out", str(out), "--overwrite"]) == 0
    assert main(["export", "--style", str(src), "--out", str(tmp_path / "x.safetensors")]) == 2
    assert "--onnx and --out FILE.onnx" in capsys.readouterr().err


def test_whole_image_samples_keep_each_photo_and_its_teacher_aligned() -> None:
    from training.data import PairCropDataset, list_collate

    rng = np.random.default_rng(0)
    photos = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in ((45, 70), (64, 33))]

    def pair(idx: int, s: float) -> tuple[np.ndarray, np.ndarray]:
        assert s == 1.0
        return photos[idx], 255 - photos[idx]  # "teacher" = negative, so alignment is checkable

    ds = PairCropDataset(pair, 2, [1.0], 0, [(45, 70), (64, 33)], multiple=8)
    xs, ts = list_collate([ds[(0, 1)], ds[(1, 2)]])
    assert [tuple(x.shape) for x in xs] == [(3, 40, 64), (3, 64, 32)]  # whole image, trimmed to 8
    for x, t in zip(xs, ts, strict=True):
        assert torch.allclose(x + t, torch.zeros_like(x), atol=1e-5)  # p/127.5-1 + (255-p)/127.5-1 = 0


def test_whole_image_distillation_runs(cache_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "whole"
    assert main(_args(out, cache_dir, "--size", "0", "--stop-after", "2")) == 0
    recs = [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [1, 2] and all(np.isfinite(r["pixel"]) for r in recs)
    assert "crop whole images" in (out / "train.log").read_text()


def test_whole_image_steadiness_and_windowed_edge_promoting_gan(cache_dir: Path, tmp_path: Path) -> None:
    """The stage-4 terms on whole images (lists of differently sized photos): the steadiness term
    and a patch-GAN that sees 16-px windows, with edge-blurred teacher outputs as extra fakes."""
    out = tmp_path / "whole_terms"
    terms = ["--set", "loss.steady=5", "--set", "data.noise=6", "--set", "loss.gan=0.1", "--set", "loss.gan_blur=1",
             "--set", "model.d_crop=16"]
    assert main(_args(out, cache_dir, "--size", "0", "--stop-after", "2", *terms)) == 0
    recs = [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [1, 2]
    assert all(r["steady"] > 0 and np.isfinite(r["d_loss"]) and np.isfinite(r["g_adv"]) for r in recs)


def test_steadiness_term_measures_what_noise_changes() -> None:
    """``steady`` is the L1 between the student's outputs for two noisy copies: zero for the same
    copy, positive for another one, and its gradient makes the student less sensitive to noise."""
    from cartoon_cam.inference.registry import create_model
    from training.config import LossCfg
    from training.distill import add_noise, distill_step

    torch.manual_seed(0)
    S = create_model("lite", widths=(8, 8, 8), n_blocks=1)
    opt = torch.optim.SGD(S.parameters(), lr=0.0)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    x, t = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    lw = LossCfg(steady=1.0)
    dev = torch.device("cpu")
    same = distill_step(S, S, None, None, None, x, t, opt, None, scaler, scaler, lw, dev, None, x_alt=x.clone())
    other = distill_step(S, S, None, None, None, x, t, opt, None, scaler, scaler, lw, dev, None,
                         x_alt=add_noise(x, 6.0))
    assert same["steady"].item() == 0.0 < other["steady"].item()
    with pytest.raises(ValueError, match="x_alt"):
        distill_step(S, S, None, None, None, x, t, opt, None, scaler, scaler, lw, dev, None)


def test_the_ink_f1_term_is_added_with_its_weight_and_trains_the_student() -> None:
    """``ink_f1`` adds ``weight · (1 − soft ink F1)`` of each image to the step's loss (the same
    value :func:`training.losses.ink_f1_loss` gives), and its gradient reaches the student."""
    from cartoon_cam.inference.registry import create_model
    from training.config import LossCfg
    from training.distill import distill_step
    from training.losses import ink_f1_loss

    torch.manual_seed(0)
    S = create_model("lite", widths=(8, 8, 8), n_blocks=1)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    t = torch.full((1, 3, 32, 32), 0.8)
    t[..., 8:24, 16] = -0.8  # the teacher draws one dark stroke
    dev = torch.device("cpu")
    with torch.no_grad():
        want = ink_f1_loss(S(x), t).item()
    opt = torch.optim.SGD(S.parameters(), lr=0.0)
    plain = distill_step(S, S, None, None, None, x, t, opt, None, scaler, scaler, LossCfg(), dev, None)
    rec = distill_step(S, S, None, None, None, x, t, opt, None, scaler, scaler, LossCfg(ink_f1=2.0), dev, None)
    assert rec["ink_f1"].item() == pytest.approx(want, rel=1e-5) and want > 0
    assert rec["total"].item() == pytest.approx(plain["total"].item() + 2.0 * want, rel=1e-5)
    assert "ink_f1" not in plain
    S.zero_grad()
    ink_f1_loss(S(x), t).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in S.parameters())


def test_steadiness_without_noise_is_a_config_error(cache_dir: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_args(tmp_path / "r", cache_dir, "--set", "loss.steady=1", "--set", "data.noise=0")) == 2
    assert "data.noise" in capsys.readouterr().err


def _grows_into(cache_dir: Path, tmp_path: Path, seed: int, child: dict[str, object], log_line: str) -> Path:
    """``--init-from`` a perturbed ``lite`` (smooth_skip) into a student built with ``child`` (its
    arch_config) at learning rate 0: the student's first checkpoint draws exactly the parent's
    picture, and train.log names the growth. Returns the parent's checkpoint."""
    from cartoon_cam.inference.registry import create_model
    from training.export import run_generator
    from training.trainer import load_generator_weights

    torch.manual_seed(seed)
    parent = create_model("lite", smooth_skip=True).eval()
    for p in parent.parameters():
        p.data.add_(torch.randn_like(p) * 0.05)
    ckpt = tmp_path / "parent.pt"
    torch.save({"format": CKPT_FORMAT, "G": parent.state_dict()}, ckpt)
    out = tmp_path / "child"
    toml = ", ".join(f"{k} = {str(v).lower() if isinstance(v, bool) else list(v) if isinstance(v, tuple) else v}"
                     for k, v in child.items())
    assert main(_args(out, cache_dir, "--init-from", str(ckpt), "--set", f"model.arch_config={{{toml}}}",
                      "--set", "optim.lr=0", "--stop-after", "1")) == 0
    assert log_line in (out / "train.log").read_text()
    grown = create_model("lite", **child).eval()
    grown.load_state_dict(load_generator_weights(str(out / "checkpoints" / "last.pt")))
    img = np.ascontiguousarray(np.random.default_rng(seed).integers(0, 256, (48, 64, 3), dtype=np.uint8))
    np.testing.assert_array_equal(run_generator(grown, img), run_generator(parent, img))
    return ckpt


def test_a_grown_student_starts_from_its_parents_picture(cache_dir: Path, tmp_path: Path) -> None:
    """``--init-from`` a parent into a bigger student (stage 3 of the built-ins): the blocks the parent
    lacks start as the identity, so with the learning rate at 0 the exported student draws exactly
    the parent's picture (without ``grow_as_identity`` the fresh blocks would change it)."""
    _grows_into(cache_dir, tmp_path, 5, {"smooth_skip": True, "refine": 1, "n_blocks": 5}, "start as the identity")


def test_a_widened_student_starts_from_its_parents_picture(cache_dir: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """``--init-from`` a parent into a wider ``lite`` (issue 11's capacity probe): its weights are laid
    out for the new widths, so with the learning rate at 0 the exported student draws exactly the
    parent's picture; a parent wider than the student is a config error, not a silent crop."""
    ckpt = _grows_into(cache_dir, tmp_path, 7, {"smooth_skip": True, "widths": (24, 32, 96)},
                       "widened (new channels start as no-ops)")
    narrow = "model.arch_config={smooth_skip = true, widths = [8, 32, 64]}"
    assert main(_args(tmp_path / "narrow", cache_dir, "--init-from", str(ckpt), "--set", narrow,
                      "--stop-after", "1")) == 2
    assert "cannot widen" in capsys.readouterr().err


def test_a_bigger_student_is_pruned_only_when_asked(cache_dir: Path, tmp_path: Path) -> None:
    """``--init-from`` a bigger student (stage 3b of the built-ins drops the grown blocks for speed):
    refused by default (a weight the student lacks is an error), loaded without the extra blocks with
    ``model.init_prune``; every weight the smaller student has comes from the bigger one."""
    from cartoon_cam.inference.registry import create_model
    from training.trainer import load_generator_weights

    torch.manual_seed(6)
    big = create_model("lite", smooth_skip=True, refine=1, n_blocks=5)
    ckpt = tmp_path / "big.pt"
    torch.save({"format": CKPT_FORMAT, "G": big.state_dict()}, ckpt)
    small = ["--init-from", str(ckpt), "--set", "model.arch_config={smooth_skip = 5, smooth_input = 3}",
             "--set", "optim.lr=0", "--stop-after", "1"]
    assert main(_args(tmp_path / "refused", cache_dir, *small)) == 2
    out = tmp_path / "pruned"
    assert main(_args(out, cache_dir, *small, "--set", "model.init_prune=true")) == 0
    assert "pruned (not in this student): body.4, refine.0" in (out / "train.log").read_text()
    got = load_generator_weights(str(out / "checkpoints" / "last.pt"))
    want = big.state_dict()
    assert set(got) == {k for k in want if not k.startswith(("body.4.", "refine."))}
    for k, v in got.items():
        torch.testing.assert_close(v, want[k])
