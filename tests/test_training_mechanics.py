"""GAN-step wiring, Ctrl-C handling, teacher-cache keys, unreadable images, all-or-nothing export."""

from __future__ import annotations

import hashlib
import logging
import signal
import time
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from training import losses as L
from training.cli import main
from training.config import Config, LossCfg
from training.distill import TeacherCache, split_photos
from training.prep import check_layout
from training.runtime import StopRequest
from training.trainer import GanNets, gan_step

torch.set_num_threads(1)


# --------------------------------------------------------------------------- GAN step wiring


class _RecordingD(nn.Module):
    """Patch logits = channel mean x ``w`` (so each logit says which image it came from); records inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(()))
        self.calls: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(x.detach().clone())
        return x.mean(1, keepdim=True) * self.w


class _RecordingVGG(nn.Module):
    """Features = 2x; records inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(x.detach().clone())
        return 2.0 * x


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.equal(a, b)


def test_gan_step_feeds_d_and_vgg_the_right_images() -> None:
    torch.manual_seed(0)
    n = 2
    G, D, vgg = nn.Conv2d(3, 3, 1), _RecordingD(), _RecordingVGG()
    fakes: list[torch.Tensor] = []
    G.register_forward_hook(lambda m, i, o: fakes.append(o.detach().clone()))
    photo = torch.rand(n, 3, 16, 16) * 2 - 1
    anime = torch.rand(n, 3, 16, 16) * 2 - 1
    anime_gray = L.rgb_to_gray(anime).contiguous()
    smooth_gray = L.rgb_to_gray(torch.rand(n, 3, 16, 16) * 2 - 1).contiguous()
    opt_g, opt_d = torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3)
    off = torch.amp.GradScaler("cpu", enabled=False)
    rec = gan_step(GanNets(G, D, G, D, vgg), photo, anime, anime_gray, smooth_gray, opt_g, opt_d, off, off,
                   LossCfg(), torch.device("cpu"), None)
    assert len(fakes) == 1
    fake = fakes[0]

    # D step: real = colour anime; fakes = generated, grayscale anime, grayscale smoothed anime
    d_inputs = torch.cat(D.calls[:-1]).split(n)
    expected = [anime, anime_gray, fake, smooth_gray]
    assert len(d_inputs) == 4 and all(sum(_same(x, e) for x in d_inputs) == 1 for e in expected)
    logit = {k: v.mean(1, keepdim=True) for k, v in
             {"real": anime, "gray": anime_gray, "fake": fake, "smooth": smooth_gray}.items()}  # w = 1 before D's update
    assert float(rec["d_real"]) == pytest.approx(float((logit["real"] - 1).pow(2).mean()), rel=1e-6)
    for term in ("fake", "gray", "smooth"):
        assert float(rec[f"d_{term}"]) == pytest.approx(float(logit[term].pow(2).mean()), rel=1e-6), term
    # G step: the generated batch against the updated D
    assert _same(D.calls[-1], fake) and float(D.w.detach()) != 1.0
    assert float(rec["g_adv"]) == pytest.approx(float((logit["fake"] * D.w.detach() - 1).pow(2).mean()), rel=1e-6)

    # VGG sees photo, generated and grayscale anime (never the colour anime)
    assert len(vgg.calls) == 3
    assert all(sum(_same(c, e) for c in vgg.calls) == 1 for e in (photo, fake, anime_gray))
    assert not any(_same(c, anime) for c in vgg.calls)
    assert float(rec["content"]) == pytest.approx(float(F.l1_loss(2 * fake, 2 * photo)), rel=1e-6)
    assert float(rec["style"]) == pytest.approx(float(L.style_loss(2 * anime_gray, 2 * fake)), rel=1e-6)
    assert float(rec["style"]) != pytest.approx(float(L.style_loss(2 * anime, 2 * fake)), rel=1e-3)
    assert float(rec["color"]) == pytest.approx(float(L.color_loss(photo, fake)), rel=1e-6)


# --------------------------------------------------------------------------- Ctrl-C


def test_stop_request_flags_first_ctrl_c_and_aborts_on_a_later_one() -> None:
    before = signal.getsignal(signal.SIGINT)
    with StopRequest(grace_s=0.2) as stop:
        assert not stop.requested
        signal.raise_signal(signal.SIGINT)
        assert stop.requested
        signal.raise_signal(signal.SIGINT)  # a repeat within the grace period (torchrun forwarding) is ignored
        time.sleep(0.25)
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before


# --------------------------------------------------------------------------- teacher cache key


def test_teacher_cache_key_is_the_teacher_checksum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "teacher.npz"
    f.write_bytes(b"weights")
    file_key = hashlib.sha256(hashlib.sha256(b"weights").hexdigest().encode()).hexdigest()[:16]
    assert TeacherCache(tmp_path, str(f), 256).dir.name == f"{file_key}_m256"  # unchanged: old caches stay valid

    import cartoon_cam.inference.catalog as catalog

    sha = {"mine": "a" * 64}
    monkeypatch.setattr(catalog, "load_style",
                        lambda t: SimpleNamespace(manifest=SimpleNamespace(sha256=sha[t], to_json=lambda: t)))
    first = TeacherCache(tmp_path, "mine", 0).dir
    sha["mine"] = "b" * 64  # same id, other weights (re-imported style)
    assert TeacherCache(tmp_path, "mine", 0).dir != first
    sha["renamed"] = "a" * 64  # other id, same weights
    assert TeacherCache(tmp_path, "renamed", 0).dir == first
    assert first.name != hashlib.sha256(b"id:mine").hexdigest()[:16] + "_m0"


def test_weightless_style_teacher_is_keyed_by_its_manifest(tmp_path: Path) -> None:
    from cartoon_cam.inference.catalog import load_style

    m = load_style("classic").manifest
    ident = "style:" + (m.sha256 or hashlib.sha256(m.to_json().encode()).hexdigest())
    assert TeacherCache(tmp_path, "classic", 0).dir.name == hashlib.sha256(ident.encode()).hexdigest()[:16] + "_m0"


# --------------------------------------------------------------------------- unreadable images


def _img(seed: int, size: int = 64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.full((size, size, 3), 180, np.uint8)
    cv2.rectangle(img, (8, 8), (40, 30), tuple(int(v) for v in rng.integers(0, 256, 3)), -1)
    cv2.circle(img, (44, 44), 12, tuple(int(v) for v in rng.integers(0, 256, 3)), -1)
    return img


def _dataset(root: Path, style: str = "Mine", n: int = 3) -> None:
    for sub in ("train_photo", f"{style}/style", f"{style}/smooth"):
        (root / sub).mkdir(parents=True)
        for i in range(n):
            cv2.imwrite(str(root / sub / f"{i}.png"), _img(i + 10 * len(sub)))
        (root / sub / "zzz_corrupt.jpg").write_bytes(b"not a jpeg at all")


@pytest.fixture
def training_log(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    monkeypatch.setattr(logging.getLogger("training"), "propagate", True)  # setup_logging turns it off
    caplog.set_level(logging.WARNING, logger="training")
    return caplog


def test_check_layout_verify_skips_unreadable_images(tmp_path: Path, training_log: pytest.LogCaptureFixture) -> None:
    _dataset(tmp_path)
    assert len(check_layout(tmp_path, "Mine")["photo"]) == 4  # listing alone does not decode
    files = check_layout(tmp_path, "Mine", verify=True)
    assert all(len(files[k]) == 3 and all("corrupt" not in p.name for p in files[k])
               for k in ("photo", "style", "smooth"))
    assert sum("skipping 1 unreadable" in r.getMessage() for r in training_log.records) == 3
    for p in (tmp_path / "train_photo").glob("?.png"):
        p.unlink()
    with pytest.raises(FileNotFoundError, match="no readable images"):
        check_layout(tmp_path, "Mine", verify=True)


def test_split_photos_skips_unreadable(tmp_path: Path, training_log: pytest.LogCaptureFixture) -> None:
    _dataset(tmp_path)
    train, hold = split_photos(tmp_path / "train_photo", seed=0, holdout=1)
    assert len(train) == 2 and len(hold) == 1 and all("corrupt" not in p.name for p in train + hold)
    assert any("skipping 1 unreadable" in r.getMessage() for r in training_log.records)


def test_train_survives_a_corrupt_image(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "run"
    _dataset(data)
    assert main(["train", "--data", str(data), "--style-name", "Mine", "--preset", "ci_tiny", "--threads", "2",
                 "--no-progress", "--out", str(out)]) == 0
    assert "skipping 1 unreadable" in (out / "train.log").read_text()
    assert (out / "export" / "mine.safetensors").is_file()


def test_unreadable_image_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "frames"
    src.mkdir()
    (src / "bad.png").write_bytes(b"\x89PNG broken")
    assert main(["prep", "--data", str(tmp_path / "d"), "--style-name", "S", "--style-src", str(src)]) == 2
    err = capsys.readouterr().err
    assert "cannot read image" in err and "Traceback" not in err


# --------------------------------------------------------------------------- export


def test_failed_onnx_check_leaves_export_empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import onnx

    from cartoon_cam.inference.registry import create_model
    from training.export import export_generator

    cfg = Config()
    cfg.model.arch, cfg.export.id, cfg.export.onnx = "lite", "mine", True
    sd = create_model("lite").state_dict()
    out = tmp_path / "export"

    def broken(*a: object, **k: object) -> None:
        raise onnx.checker.ValidationError("forced failure")

    monkeypatch.setattr(onnx.checker, "check_model", broken)
    with pytest.raises(onnx.checker.ValidationError):
        export_generator(sd, cfg, out, source="test")
    assert not out.exists() or not list(out.iterdir())
    monkeypatch.undo()
    paths = export_generator(sd, cfg, out, source="test")
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths) == ["mine.onnx", "mine.safetensors"]
