"""Feature hints (training/hints.py): the teacher's cached 1/2-resolution features, whole-image
samples that carry them aligned, the hint term of a distillation step, and ``distill`` with it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from training.cli import main

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
TEACHER = SHARED / "models" / "cartoongan" / "hayao.npz"
PHOTOS = SHARED / "photos" / "train" / "kodak_mcmaster"
needs_shared = pytest.mark.skipif(not (TEACHER.is_file() and PHOTOS.is_dir()), reason="../shared is not present")


@needs_shared
def test_cached_features_are_the_teachers_own(tmp_path: Path) -> None:
    """The rest of the teacher's decoder, run on the cached float16 features, gives back the
    picture the app's own backend draws for that photo: they are the teacher's activations, in
    its colour order and aligned with the photo."""
    import cv2

    from cartoon_cam.inference.backends import create_backend
    from cartoon_cam.inference.catalog import load_style
    from cartoon_cam.inference.registry import create_model
    from training.hints import HintCache

    photo = cv2.imread(str(sorted(PHOTOS.iterdir())[0]))[:, :, ::-1]
    photo = np.ascontiguousarray(cv2.resize(photo, (128, 84), interpolation=cv2.INTER_AREA))  # RGB 84 x 128
    hc = HintCache(tmp_path, "cartoongan")
    assert hc.build(str(TEACHER), ["a"], lambda _k: photo, threads=2) == 1
    assert hc.build(str(TEACHER), ["a"], lambda _k: photo) == 0  # cached: nothing recomputed
    f = hc.load("a")
    assert f.dtype == np.float16 and f.shape == (128, 42, 64) and hc.channels("a") == 128
    assert float(np.asarray(f).min()) >= 0.0  # after the ReLU

    sf = load_style(str(TEACHER))
    net = create_model("cartoongan")
    net.load_state_dict({k: torch.from_numpy(np.asarray(v, np.float32)) for k, v in sf.tensors.items()})
    with torch.no_grad():
        y = torch.from_numpy(np.asarray(f, np.float32))[None]
        y = F.relu(net.in13_1(net.deconv02_2(net.deconv02_1(y))))
        bgr = torch.tanh(net.deconv03_1(net.refpad12_1(y)))[0].permute(1, 2, 0).numpy()
    ours = ((bgr[:, :, ::-1] + 1.0) * 127.5).round().clip(0, 255)
    backend = create_backend(sf, backend="auto", device="cpu")
    try:
        backend.size = 128
        theirs = backend.process(photo).astype(np.float64)
    finally:
        backend.close()
    assert ours.shape == theirs.shape == (84, 128, 3)
    diff = np.abs(ours - theirs)
    assert diff.mean() < 1.0 and np.percentile(diff, 99) < 6  # float16 features, nothing more


def test_whole_image_samples_carry_aligned_features() -> None:
    """A third array from the pair function (features at 1/2 resolution) is trimmed with the photo,
    from an even pixel; a mirrored sample carries none (C = 0)."""
    from training.data import PairCropDataset

    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (45, 70, 3), dtype=np.uint8)
    feats = np.ascontiguousarray(photo[::2, ::2].transpose(2, 0, 1)).astype(np.float16)  # 3 x 23 x 35

    def pair(idx: int, s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return photo, 255 - photo, feats

    ds = PairCropDataset(pair, 1, [1.0], 0, [(45, 70)], multiple=8)
    kinds = set()
    for seed in range(24):
        x, t, f = ds[(0, seed)]
        assert tuple(x.shape) == (3, 40, 64) and torch.allclose(x + t, torch.zeros_like(x), atol=1e-5)
        if f.shape[0] == 0:
            kinds.add("mirrored")
            assert tuple(f.shape) == (0, 20, 32)
            continue
        kinds.add("plain")
        assert tuple(f.shape) == (3, 20, 32)
        levels = (x[:, ::2, ::2] + 1.0) * 127.5  # the photo's even pixels, back in levels
        assert torch.allclose(f.float(), levels, atol=0.3)
    assert kinds == {"plain", "mirrored"}


def _tiny_step(feats: list[torch.Tensor], lw_hint: float = 1.0, steady: float = 0.0) -> tuple[dict, object, object]:
    from cartoon_cam.inference.registry import create_model
    from training.config import LossCfg
    from training.distill import distill_step
    from training.hints import FeatureGrab, HintAdapter, HintTerm

    torch.manual_seed(0)
    S = create_model("lite", widths=(8, 8, 8), n_blocks=1)
    hint = HintTerm(HintAdapter(8, 5), FeatureGrab(S.refine))
    hint.feats = feats
    opt = torch.optim.SGD(list(S.parameters()) + list(hint.adapter.parameters()), lr=0.0)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    x = [torch.rand(3, 32, 48) * 2 - 1, torch.rand(3, 24, 32) * 2 - 1]
    t = [torch.rand_like(a) * 2 - 1 for a in x]
    lw = LossCfg(hint=lw_hint, steady=steady)
    x_alt = [a + 0.01 for a in x] if steady else None
    rec = distill_step(S, S, None, None, None, x, t, opt, None, scaler, scaler, lw, torch.device("cpu"), None,
                       x_alt=x_alt, hint=hint)
    return rec, hint, S


def test_hint_term_is_the_adapters_error_on_the_main_pass() -> None:
    """The hint is the MSE between the adapted 1/2-resolution student features and the teacher's,
    averaged over the images that carry features; the extra passes (steadiness) are not grabbed;
    its gradient reaches the adapter and the student's encoder."""
    from training.hints import hint_loss

    feats = [torch.rand(5, 16, 24), torch.rand(5, 12, 16)]
    rec, hint, S = _tiny_step(feats, steady=1.0)
    assert len(hint.grab.outs) == 2 and [tuple(s.shape) for s in hint.grab.outs] == [(1, 8, 16, 24), (1, 8, 12, 16)]
    want = torch.stack([hint_loss(hint.adapter, s, f) for s, f in zip(hint.grab.outs, feats, strict=True)]).mean()
    assert rec["hint"].item() == pytest.approx(want.item(), rel=1e-5) and rec["hint"].item() > 0
    assert hint.adapter.proj.weight.grad is not None and hint.adapter.proj.weight.grad.abs().sum() > 0
    assert S.stem[0].weight.grad is not None and S.stem[0].weight.grad.abs().sum() > 0

    # a mirrored image (C = 0) adds nothing; with none left the term is 0 and the adapter learns nothing
    one, _, _ = _tiny_step([feats[0], torch.zeros(0, 12, 16)])
    assert one["hint"].item() == pytest.approx(hint_loss(hint.adapter, hint.grab.outs[0], feats[0]).item(), rel=1e-5)
    none, hint0, _ = _tiny_step([torch.zeros(0, 16, 24), torch.zeros(0, 12, 16)])
    assert none["hint"].item() == 0.0
    assert hint0.adapter.proj.weight.grad is None or hint0.adapter.proj.weight.grad.abs().sum() == 0


def test_the_adapter_starts_as_the_best_linear_read_out() -> None:
    """Teacher features that are an affine map of the student's are read out exactly (R² ≈ 1, hint
    ≈ 0); features unrelated to the student's explain next to nothing."""
    from cartoon_cam.inference.registry import create_model
    from training.hints import FeatureGrab, HintAdapter, fit_adapter, hint_loss

    torch.manual_seed(0)
    S = create_model("lite", widths=(8, 8, 8), n_blocks=1).eval()
    grab = FeatureGrab(S.refine)
    xs = [torch.rand(1, 3, 32, 48) * 2 - 1, torch.rand(1, 3, 24, 32) * 2 - 1]
    grab.on = True
    with torch.no_grad():
        for x in xs:
            S(x)
    grab.on = False
    halves = [o[0] for o in grab.outs]  # c1 x H/2 x W/2 each
    W, b = torch.randn(5, 8), torch.randn(5)
    exact = [(torch.einsum("oc,chw->ohw", W, s) + b[:, None, None]) for s in halves]
    ad = HintAdapter(8, 5)
    r2 = fit_adapter(ad, S, grab, list(zip(xs, exact, strict=True)), ridge=1e-9)
    assert r2 > 0.999 and grab.outs == [] and not grab.on
    assert all(hint_loss(ad, s[None], f).item() < 1e-6 * f.pow(2).mean().item() for s, f in zip(halves, exact, strict=True))
    noise = [torch.randn_like(f) for f in exact]
    assert fit_adapter(HintAdapter(8, 5), S, grab, list(zip(xs, noise, strict=True))) < 0.05


def test_hint_features_must_cover_the_student() -> None:
    from training.hints import HintAdapter, hint_loss

    with pytest.raises(ValueError, match="do not cover"):
        hint_loss(HintAdapter(8, 5), torch.rand(1, 8, 16, 24), torch.rand(5, 15, 24))


@needs_shared
def test_distill_with_hints_caches_features_and_keeps_the_adapter_out_of_the_style(tmp_path: Path) -> None:
    import onnx

    from training.runtime import load_checkpoint

    out, cache = tmp_path / "run", tmp_path / "cache"
    args = ["distill", "--teacher", str(TEACHER), "--photos", str(PHOTOS), "--max-photos", "4", "--preset", "ci_tiny",
            "--teacher-cache", str(cache), "--out", str(out), "--threads", "2", "--size", "0",
            "--set", "data.scales=[1.0]", "--set", "loss.hint=1", "--set", "data.hflip=false", "--onnx"]
    assert main(args) == 0
    recs = [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines()]
    assert recs and all(r["hint"] > 0 and np.isfinite(r["hint"]) for r in recs)
    assert "features explain" in (out / "train.log").read_text()  # the adapter started as a read-out
    feats = list(cache.glob("*/hint_in12_1/*.npy"))
    assert len(feats) == 2  # ci_tiny holds 2 of the 4 photos out: features of the 2 training photos
    ckpt = load_checkpoint(out / "checkpoints" / "last.pt")
    assert ckpt["hint_adapter"]["proj.weight"].shape[:2] == (128, 16)  # teacher's 128 ← student's c1
    (style,) = (out / "export").glob("*.onnx")
    names = {i.name for i in onnx.load(str(style)).graph.initializer}
    assert not any("proj" in n or "hint" in n for n in names)


@needs_shared
@pytest.mark.parametrize("extra, said", [(["--size", "64"], "whole images at scale 1"),
                                         (["--size", "0"], "whole images at scale 1")])
def test_hints_need_whole_images_at_scale_one(tmp_path: Path, extra: list[str], said: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    args = ["distill", "--teacher", str(TEACHER), "--photos", str(PHOTOS), "--max-photos", "4", "--preset", "ci_tiny",
            "--teacher-cache", str(tmp_path / "cache"), "--out", str(tmp_path / "run"), "--threads", "2",
            "--set", "loss.hint=1", *extra]
    assert main(args) == 2
    assert said in capsys.readouterr().err
