"""Every backend honours the one interface; the factory picks and reports honestly."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from cartoon_cam.errors import BackendError
from cartoon_cam.inference.backends import create_backend
from cartoon_cam.inference.backends.onnx_backend import providers_for
from cartoon_cam.inference.backends.torch_backend import TorchBackend
from cartoon_cam.inference.catalog import load_style, probe_frame
from cartoon_cam.inference.registry import arch_info, create_model, list_archs
from cartoon_cam.inference.style import StyleFile, StyleManifest, read_style, write_torch_style


def arch_style(tmp_path: Path, arch: str, scale: float = 1.0, **arch_config) -> StyleFile:
    torch.manual_seed(1)
    net = create_model(arch, **arch_config)
    sd = {k: v * scale if v.is_floating_point() else v for k, v in net.state_dict().items()}
    info = arch_info(arch)
    m = StyleManifest(id=f"t_{arch}", name=arch, arch=arch, arch_config=arch_config, color=info.color,
                      size_multiple=info.size_multiple)
    return read_style(write_torch_style(tmp_path / f"{arch}.safetensors", sd, m))


@pytest.mark.parametrize("arch", list_archs())
def test_registered_arch_maps_image_to_image(arch: str) -> None:
    net = create_model(arch)
    m = arch_info(arch).size_multiple
    x = torch.rand(1, 3, 6 * m, 10 * m) * 2 - 1
    with torch.inference_mode():
        y = net(x)
    assert y.shape == x.shape and float(y.abs().max()) <= 1.0


def test_animeganv2_size_matches_paper() -> None:
    n = sum(p.numel() for p in create_model("animeganv2").parameters())
    assert 2.1e6 < n < 2.2e6  # 2.14 M parameters, 8.6 MB in fp32


def test_lite_is_cheap_enough_for_cpu_real_time() -> None:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as fc, torch.inference_mode():
        create_model("lite")(torch.zeros(1, 3, 360, 640))
    assert fc.get_total_flops() <= 1.5e9


@pytest.mark.parametrize("arch", list_archs())
def test_torch_and_onnx_backends_agree(tmp_path: Path, arch: str) -> None:
    sf = arch_style(tmp_path, arch)
    img = probe_frame(96, 128)
    with create_backend(sf, backend="torch", device="cpu") as t, create_backend(sf, backend="onnx", device="cpu") as o:
        assert (t.name, t.device, t.precision) == ("torch", "cpu", "fp32")
        assert (o.name, o.device) == ("onnxruntime", "CPUExecutionProvider")  # the provider granted
        a, b = t.process(img).astype(int), o.process(img).astype(int)
    assert np.abs(a - b).max() <= 2


def test_auto_on_cpu_runs_a_graph_runtime_not_torch(tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: auto picks the torch fp16 path")
    with create_backend(arch_style(tmp_path, "lite")) as b:
        assert b.name in ("onnxruntime", "openvino")  # which one: a probe (tests/test_backend_choice.py)
    with create_backend(load_style("classic")) as b:
        assert b.name == "classic"


def test_close_is_idempotent_and_final(tmp_path: Path) -> None:
    b = create_backend(arch_style(tmp_path, "lite"), backend="torch")
    b.close()
    b.close()
    assert b.closed
    with pytest.raises(RuntimeError, match="closed"):
        b.process(probe_frame())


def test_gpu_requests_fail_clearly_without_gpu(tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    sf = arch_style(tmp_path, "lite")
    with pytest.raises(BackendError, match="CUDA"):
        create_backend(sf, backend="torch", device="cuda")
    with pytest.raises(BackendError, match="provider"):
        create_backend(sf, backend="onnx", device="cuda")
    with pytest.raises(BackendError, match="unknown device"):
        providers_for("quantum")


def test_onnx_style_cannot_run_on_torch() -> None:
    from conftest import shared_path

    from cartoon_cam.inference.importers import import_model_file

    sf = import_model_file(shared_path("models", "animeganv3", "AnimeGANv3_tiny_Cute.onnx"))
    with pytest.raises(BackendError, match="ONNX model"):
        create_backend(sf, backend="torch")


def test_fp16_overflow_falls_back_to_fp32(tmp_path: Path) -> None:
    """Weights that overflow float16 give Inf in half precision: the backend must notice."""
    sf = arch_style(tmp_path, "lite", scale=300.0, norm="none")  # (instance norm would tame the overflow)
    b = TorchBackend(sf, device="cpu", fp16=True)
    assert b.precision == "fp16"
    out = b.process(probe_frame())
    assert b.precision == "fp32"
    ref = TorchBackend(sf, device="cpu").process(probe_frame())
    assert np.array_equal(out, ref)


def test_onnx_run_can_be_cancelled_from_another_thread() -> None:
    import threading
    import time

    from conftest import shared_path

    from cartoon_cam.inference.backends import RunCancelled
    from cartoon_cam.inference.importers import import_model_file

    b = create_backend(import_model_file(shared_path("models", "cartoongan", "hayao.npz")), backend="onnx",
                       device="cpu", size=960)
    outcome: list[object] = []

    def work() -> None:
        try:
            outcome.append(b.process(np.zeros((720, 1280, 3), np.uint8)))
        except RunCancelled as e:
            outcome.append(e)

    t = threading.Thread(target=work)
    t.start()
    time.sleep(0.3)
    b.cancel()
    t.join(60)  # generous: the claim is that the run ends *cancelled*, checked next, not how fast
    assert not t.is_alive()
    assert isinstance(outcome[0], RunCancelled)
    b.size = 64
    assert b.process(probe_frame()).shape == (96, 128, 3)  # the next frame runs normally
    b.close()


def test_classic_style_flattens_colour_and_draws_edges_only_where_there_are_some() -> None:
    from cartoon_cam.inference.backends.classic import ClassicBackend

    with create_backend(load_style("classic")) as b:
        assert isinstance(b, ClassicBackend)
        flat = np.full((120, 160, 3), (90, 160, 200), np.uint8)
        out_flat = b.process(flat)
        assert (out_flat > 20).all()  # no dark lines on a flat picture
        img = probe_frame(120, 160)  # gradients plus a sharp red rectangle
        out = b.process(img)
    assert len(np.unique(out.reshape(-1, 3), axis=0)) < len(np.unique(img.reshape(-1, 3), axis=0)) / 4
    dark = out.max(axis=2) < 40
    border = np.zeros_like(dark)
    border[28:32, 38:82] = True  # the rectangle's top edge (rows 30, cols 40..80)
    assert dark[border].mean() > 0.3 and dark[60:90, 100:150].mean() < 0.05


def test_onnx_export_cache_is_keyed_on_the_whole_network_contract(tmp_path: Path) -> None:
    """Same weights, other colour order: a different cached export, and each matches PyTorch."""
    from dataclasses import replace

    from cartoon_cam.inference.backends.onnx_backend import EXPORT_VERSION, fused_cache_key

    rgb = arch_style(tmp_path, "lite")
    bgr = StyleFile(replace(rgb.manifest, color="BGR"), rgb.path, tensors=rgb.tensors)
    narrow = StyleFile(replace(rgb.manifest, value_range=(0.0, 1.0)), rgb.path, tensors=rgb.tensors)
    keys = {fused_cache_key(s) for s in (rgb, bgr, narrow)} | {fused_cache_key(rgb, fp16=True)}
    assert len(keys) == 4 and EXPORT_VERSION >= 2
    img = probe_frame(96, 128)
    outs = []
    for sf in (rgb, bgr):  # the RGB export is cached first; the BGR style must not reuse it
        with create_backend(sf, backend="onnx", device="cpu") as o, create_backend(sf, backend="torch") as t:
            a, b = o.process(img).astype(int), t.process(img).astype(int)
        assert np.abs(a - b).max() <= 2
        outs.append(a)
    assert np.abs(outs[0] - outs[1]).max() > 10


def test_backend_failures_of_any_kind_are_reasons_not_crashes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sf = arch_style(tmp_path, "lite")

    def boom(self: TorchBackend, *a: object, **k: object) -> None:
        raise RuntimeError("driver exploded\nsecond line")

    monkeypatch.setattr(TorchBackend, "__init__", boom)
    with pytest.raises(BackendError, match=r"torch: RuntimeError: driver exploded$"):
        create_backend(sf, backend="torch", device="cpu")
    with create_backend(sf, device="cpu") as b:  # auto: a graph runtime works, torch's failure doesn't matter
        assert b.name in ("onnxruntime", "openvino")


def test_devices_are_validated_before_any_backend_sees_them(tmp_path: Path) -> None:
    from cartoon_cam.inference.backends import validate_device

    for ok in ("auto", "cpu", "cuda", "cuda:1", "directml", "coreml", "tensorrt", "CUDAExecutionProvider"):
        assert validate_device(ok) == ok
    sf = arch_style(tmp_path, "lite")
    for bad in ("quantum", "cuda:x", "cuda:-1", ""):
        with pytest.raises(BackendError, match="unknown device"):
            create_backend(sf, device=bad)
    if "DmlExecutionProvider" not in __import__("onnxruntime").get_available_providers():
        with pytest.raises(BackendError, match="onnx: .*directml.*; torch: PyTorch cannot run on device 'directml'"):
            create_backend(sf, device="directml")


def test_classic_style_with_bad_parameters_is_a_style_error() -> None:
    from cartoon_cam.errors import StyleError

    def classic(**params: object) -> StyleFile:
        return StyleFile(StyleManifest(id="c", name="C", arch="classic", tier="classic", params=params))

    with pytest.raises(StyleError, match="unknown classic parameter"):
        create_backend(classic(sparkle=1))
    with pytest.raises(StyleError, match="levels"):
        create_backend(classic(levels=0))
    with pytest.raises(StyleError, match="edge_block"):
        create_backend(classic(edge_block=8))
    with pytest.raises(StyleError, match="number"):
        create_backend(classic(levels="many"))
    with create_backend(classic(levels=4, smooth_passes=1)) as b:
        assert b.process(probe_frame()).shape == (96, 128, 3)


@pytest.mark.parametrize("color", ["RGB", "BGR"])
def test_torch_in_place_pre_post_equals_the_exported_wrapper(tmp_path: Path, color: str) -> None:
    """TorchBackend's in-place pre/post must give exactly what the fused Uint8Wrapper (the ONNX
    export) gives, for both colour orders, on an odd-sized frame."""
    from cartoon_cam.inference.backends.torch_backend import Uint8Wrapper

    sf = arch_style(tmp_path, "lite")
    sf.manifest.color = color
    b = TorchBackend(sf, device="cpu")
    rgb = np.ascontiguousarray(np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8))
    got = b._infer(rgb)  # noqa: SLF001 - the network-level path, no resizing
    with torch.inference_mode():
        want = Uint8Wrapper(b.net, sf.manifest)(torch.from_numpy(rgb)[None])[0].numpy()
    assert got.flags.c_contiguous and got.dtype == np.uint8
    np.testing.assert_array_equal(got, want)


def test_lite_drawn_options_start_from_the_colour_student_and_export_to_onnx(tmp_path: Path) -> None:
    """``ink`` adds a full-resolution line branch that starts as a no-op (fine-tuning a colour
    student starts from its own output); ``smooth_skip`` blurs the linear path, so independent pixel
    noise reaches the output much weaker. Both run in ONNX Runtime as in torch (MaxPool black-hat)."""
    torch.manual_seed(0)
    base = create_model("lite").eval()
    grown = create_model("lite", ink=4).eval()
    missing = grown.load_state_dict(base.state_dict(), strict=False).missing_keys
    assert missing and all(k.startswith("ink_") for k in missing)
    x = torch.rand(1, 3, 64, 96) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(grown(x), base(x))
        smooth = create_model("lite", smooth_skip=True).eval()
        smooth.load_state_dict(base.state_dict())
        with torch.no_grad():  # a strong linear path, so noise passthrough dominates
            for net in (base, smooth):
                net.skip.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
        noise = torch.randn(1, 3, 64, 96) * 0.02
        gain = [float((net(x + noise) - net(x)).std()) for net in (base, smooth)]
    assert gain[1] < 0.6 * gain[0], gain
    sf = arch_style(tmp_path, "lite", ink=4, smooth_skip=True)
    img = probe_frame(96, 128)
    with create_backend(sf, backend="torch", device="cpu") as t, create_backend(sf, backend="onnx", device="cpu") as o:
        assert np.abs(t.process(img).astype(int) - o.process(img).astype(int)).max() <= 2


def test_lite_ink_dog_sees_the_photos_edges_as_opencv_does_and_starts_as_a_no_op(tmp_path: Path) -> None:
    """``ink_dog = σ`` feeds the ink branch the difference of Gaussians (σ, 1.6σ) of the input's
    luma: the same numbers as OpenCV's (``COLOR_RGB2GRAY``, ``GaussianBlur`` with replicated
    borders), negative on the dark side of an edge and zero on flat ground. A student grown by it
    starts as its parent, it needs the ink branch, and it runs in ONNX Runtime as in torch."""
    from cartoon_cam.inference.archs.lite import _dog_kernel, dog

    rgb = probe_frame(48, 64).astype(np.float32)
    k = _dog_kernel(1.0, gain=1.0)
    r = k.shape[-1] // 2
    lum = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    want = (cv2.GaussianBlur(lum, (2 * r + 1,) * 2, 1.0, borderType=cv2.BORDER_REPLICATE)
            - cv2.GaussianBlur(lum, (2 * r + 1,) * 2, 1.6, borderType=cv2.BORDER_REPLICATE))
    got = dog(torch.from_numpy(rgb).permute(2, 0, 1)[None], k)[0, 0].numpy()
    np.testing.assert_allclose(got, want, atol=1e-3)
    step = torch.zeros(1, 3, 32, 32)
    step[..., 16:] = 1.0  # dark left, bright right
    d = dog(step, k)[0, 0, 16]
    assert d[15] < -0.05 and d[16] > 0.05 and abs(float(d[2])) < 1e-6 and abs(float(d[29])) < 1e-6
    torch.manual_seed(0)
    parent = create_model("lite").eval()
    for p in parent.parameters():  # a trained-looking parent
        p.data.add_(torch.randn_like(p) * 0.02)
    grown = create_model("lite", ink=4, ink_dog=1.0).eval()
    missing = grown.load_state_dict(parent.state_dict(), strict=False).missing_keys
    assert missing and all(k.startswith("ink_") for k in missing)
    x = torch.rand(1, 3, 64, 96) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(grown(x), parent(x))
    with pytest.raises(ValueError, match="ink_dog"):
        create_model("lite", ink_dog=1.0)
    sf = arch_style(tmp_path, "lite", ink=4, ink_dog=1.0, smooth_skip=True)
    img = probe_frame(96, 128)
    with create_backend(sf, backend="torch", device="cpu") as t, create_backend(sf, backend="onnx", device="cpu") as o:
        assert np.abs(t.process(img).astype(int) - o.process(img).astype(int)).max() <= 2


def test_an_exported_onnx_style_initialises_a_student(tmp_path: Path) -> None:
    """Stage 2 of the built-in styles starts from the stage-1 ONNX style: the initializers of a
    cartoon-cam-train ONNX export keep the state-dict names, so a student loads them exactly."""
    import onnx

    from cartoon_cam.inference.style import StyleManifest
    from training.export import build_onnx
    from training.trainer import load_generator_weights

    torch.manual_seed(3)
    cfg = {"ink": 4, "smooth_skip": True}
    net = create_model("lite", **cfg).eval()
    for p in net.parameters():  # the zero-initialised ink output too
        p.data.add_(torch.randn_like(p) * 0.01)
    proto = build_onnx(net, StyleManifest(id="t_lite", name="t", arch="lite", arch_config=cfg, size_multiple=8))
    onnx.save(proto, str(tmp_path / "t.onnx"))
    again = create_model("lite", **cfg).eval()
    again.load_state_dict(load_generator_weights(str(tmp_path / "t.onnx")))  # strict: every weight, no extra
    x = torch.rand(1, 3, 64, 96) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(again(x), net(x))


def test_a_widened_lite_student_starts_as_its_parent() -> None:
    """``widen_state_dict`` lays a narrower ``lite``'s weights out for a wider one (Net2Net-style
    growth, issue 11): with context, instance norm, the cel-shading layer and ink branch the wider
    student computes exactly the parent's picture; the new channels' incoming weights keep their
    fresh values (they can learn), their weights into the old channels are zero. A narrower target
    is refused."""
    torch.manual_seed(3)
    cfg = {"smooth_skip": 5, "smooth_input": 3, "toon_levels": 6, "toon_half": True, "toon_soft": 20.0, "ink": 2}
    parent = create_model("lite", **cfg).eval()
    for p in parent.parameters():  # a trained-looking parent: the zero-initialised layers too
        p.data.add_(torch.randn_like(p) * 0.05)
    wide = create_model("lite", **cfg, widths=(24, 40, 96)).eval()
    fresh = {k: v.clone() for k, v in wide.state_dict().items()}
    sd = wide.widen_state_dict(parent.state_dict())
    assert sd["head.weight"].shape == (12, 24, 3, 3) and sd["context.mlp.2.weight"].shape == (2 * 96 + 2 * 24 + 12, 64)
    assert (sd["head.weight"][:, 16:] == 0).all()  # new 1/2-resolution channels: no-ops for now
    torch.testing.assert_close(sd["down2.0.weight"][64:], fresh["down2.0.weight"][64:])  # free to learn
    # the context's parameter vector is re-laid out: the body's β of channel 0 moves from 64 to 96
    torch.testing.assert_close(sd["context.mlp.2.weight"][96], parent.state_dict()["context.mlp.2.weight"][64])
    res = wide.load_state_dict(sd, strict=True)
    assert not res.missing_keys and not res.unexpected_keys
    x = torch.rand(2, 3, 64, 96) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(wide(x), parent(x), atol=1e-6, rtol=0)
        assert (wide(x) - create_model("lite", **cfg, widths=(24, 40, 96)).eval()(x)).abs().max() > 1e-3
    assert parent.widen_state_dict(parent.state_dict()).keys() == parent.state_dict().keys()
    with pytest.raises(ValueError, match="narrower"):
        create_model("lite", **cfg, widths=(8, 32, 64)).widen_state_dict(parent.state_dict())


def test_a_grown_lite_student_starts_as_its_parent_and_low_passes_noise(tmp_path: Path) -> None:
    """Stage 3 of the built-in styles grows the stage-2 student (more residual blocks at 1/2 and 1/8
    resolution): after ``grow_as_identity`` the new blocks are the identity, so the grown student
    computes exactly its parent's picture. ``smooth_skip=5`` and ``smooth_input=3`` are fixed
    low-pass filters: independent pixel noise reaches the output weaker than through the 3x3 skip
    blur alone, and the grown student exports to ONNX and runs there as in torch."""
    from training.distill import grow_as_identity

    torch.manual_seed(0)
    parent = create_model("lite", smooth_skip=True).eval()
    for p in parent.parameters():  # a trained-looking parent: the zero-initialised context too
        p.data.add_(torch.randn_like(p) * 0.05)
    grown = create_model("lite", smooth_skip=True, refine=2, n_blocks=6).eval()
    missing = grown.load_state_dict(parent.state_dict(), strict=False).missing_keys
    x = torch.rand(1, 3, 64, 96) * 2 - 1
    with torch.no_grad():
        assert (grown(x) - parent(x)).abs().max() > 1e-3  # fresh blocks change the picture...
    assert sorted(grow_as_identity(grown, missing)) == ["body.4", "body.5", "refine.0", "refine.1"]
    with torch.no_grad():
        torch.testing.assert_close(grown(x), parent(x))  # ...until they start as the identity
    # only whole new modules are reset: a block that got its weights stays as loaded
    assert grow_as_identity(parent, []) == []

    calm = create_model("lite", smooth_skip=5, smooth_input=3).eval()
    calm.load_state_dict(parent.state_dict())
    noise = torch.randn(8, 3, 64, 96) * 0.03
    with torch.no_grad():
        gain = [float((net(x + noise) - net(x).expand(8, -1, -1, -1)).std()) for net in (parent, calm)]
    assert gain[1] < 0.85 * gain[0], gain
    with pytest.raises(ValueError, match="smooth_input"):
        create_model("lite", smooth_input=4)
    sf = arch_style(tmp_path, "lite", smooth_skip=5, smooth_input=3, refine=1, n_blocks=5)
    img = probe_frame(96, 128)
    with create_backend(sf, backend="torch", device="cpu") as t, create_backend(sf, backend="onnx", device="cpu") as o:
        assert np.abs(t.process(img).astype(int) - o.process(img).astype(int)).max() <= 2


def test_wide_lite_skip_blurs_are_separable_binomials_that_export(tmp_path: Path) -> None:
    """``smooth_skip = 7`` or ``9`` (stage 4 of the built-ins) blur the linear skip path with a wider
    binomial, run as a row and a column pass: the same as the full k x k binomial kernel
    (edges replicated), independent noise passes at the binomial's gain (≈ 0.196 of σ for 9
    taps, against 0.273 for 5), and the student exports to ONNX and runs there as in torch."""
    import math

    import torch.nn.functional as F

    from cartoon_cam.inference.archs.lite import _binomial, _lowpass

    x = torch.rand(2, 3, 40, 56)
    for k in (7, 9):
        row = torch.tensor([float(math.comb(k - 1, j)) for j in range(k)])
        full = (torch.outer(row, row) / row.sum() ** 2).expand(3, 1, k, k)
        p = k // 2
        want = F.conv2d(F.pad(x, (p, p, p, p), mode="replicate"), full, groups=3)
        torch.testing.assert_close(_lowpass(x, _binomial(k), k), want)
    noise = torch.randn(1, 3, 400, 400)
    gains = {k: float(_lowpass(noise, _binomial(k), k)[..., 8:-8, 8:-8].std()) for k in (5, 9)}
    assert gains[5] == pytest.approx(0.273, abs=0.01) and gains[9] == pytest.approx(0.196, abs=0.01)
    with pytest.raises(ValueError, match="smooth_skip"):
        create_model("lite", smooth_skip=11)
    sf = arch_style(tmp_path, "lite", smooth_skip=9, smooth_input=3)
    img = probe_frame(96, 128)
    with create_backend(sf, backend="torch", device="cpu") as t, create_backend(sf, backend="onnx", device="cpu") as o:
        assert np.abs(t.process(img).astype(int) - o.process(img).astype(int)).max() <= 2


def _on_plates(v: torch.Tensor, levels: int) -> float:
    """Share of luma values ``v`` (0..1) within 1 % of full scale of a plate level k / ``levels``."""
    return float(((v * levels - torch.round(v * levels)).abs() / levels).lt(0.01).float().mean())


def test_lite_toon_shading_flattens_smooth_shading_and_keeps_lines(tmp_path: Path) -> None:
    """``toon_levels`` (stage 4 of the built-ins): the smooth part of the luma becomes flat plates
    (Winnemöller's soft quantisation), while a thin dark line on it keeps its contrast; the
    staircase is continuous (no jumps inside a plate) and the output stays in [-1, 1]; a student
    with it exports to ONNX and runs there as in torch."""
    from cartoon_cam.inference.archs.lite import _GRAY, _gaussian, toon_shade

    levels, h, w = 6, 24, 600
    ramp = torch.linspace(-1.0, 1.0, w).reshape(1, 1, 1, w).expand(1, 3, h, w).clone()
    kernel = _gaussian(3.0)
    out = toon_shade(ramp, kernel, levels, 40.0)
    lum = ((out * torch.tensor(_GRAY).reshape(1, 3, 1, 1)).sum(1) + 1.0) * 0.5  # 0..1
    row = lum[0, h // 2, 20:-20]
    # a smooth ramp becomes a staircase: over half of it lies within 1 % of a plate level k / levels,
    # against under a fifth of the ramp itself

    assert _on_plates(row, levels) > 0.5 and _on_plates(ramp[0, 0, h // 2, 20:-20] * 0.5 + 0.5, levels) < 0.2
    # continuous and monotone: no step between neighbours larger than a fraction of a plate
    d = row[1:] - row[:-1]
    assert float(d.min()) > -1e-4 and float(d.max()) < 0.5 / levels
    assert float(out.min()) >= -1.0 and float(out.max()) <= 1.0
    # a 1-pixel dark line on the ramp keeps its contrast (it is not in the smooth part)
    lined = ramp.clone()
    lined[..., 300] -= 0.4
    lo = toon_shade(lined, kernel, levels, 40.0)
    contrast = 0.5 * (lo[0, 0, h // 2, 299] + lo[0, 0, h // 2, 301]) - lo[0, 0, h // 2, 300]
    assert float(contrast) == pytest.approx(0.4, abs=0.06)
    with pytest.raises(ValueError, match="toon_levels"):
        create_model("lite", toon_levels=1)
    sf = arch_style(tmp_path, "lite", smooth_skip=5, smooth_input=3, toon_levels=levels)
    img = probe_frame(96, 128)
    with create_backend(sf, backend="torch", device="cpu") as t, create_backend(sf, backend="onnx", device="cpu") as o:
        a, b = t.process(img).astype(int), o.process(img).astype(int)
    # a pixel whose smooth luma sits exactly on a step may round across it; nearly all agree
    assert float((np.abs(a - b) <= 2).mean()) > 0.999


def test_lite_toon_half_resolution_and_gradient_adaptive_slope(tmp_path: Path) -> None:
    """Stage 5 of the built-ins: ``toon_half`` decides the plates at half resolution (the offset comes
    back by an exact bilinear ×2) and gives the same staircase on a ramp; ``toon_soft``
    (Winnemöller's adaptive slope) keeps a slow gradient a soft ramp, so it cannot break into blotches
    at a plate border, while a steep one gets the full slope's plates; both export to ONNX."""
    import torch.nn.functional as F

    from cartoon_cam.inference.archs.lite import _GRAY, _gaussian, _upsample2, toon_shade

    d = torch.randn(2, 1, 9, 14)
    ref = F.interpolate(d, scale_factor=2, mode="bilinear", align_corners=False)
    assert torch.allclose(_upsample2(d), ref, atol=1e-6)

    gray = torch.tensor(_GRAY).reshape(1, 3, 1, 1)

    def luma_row(x: torch.Tensor) -> torch.Tensor:
        return ((x * gray).sum(1) + 1.0)[0, x.shape[-2] // 2] * 0.5

    def ramp(w: int, pad: int = 0) -> torch.Tensor:
        r = torch.cat([torch.full((pad,), -1.0), torch.linspace(-1.0, 1.0, w), torch.full((pad,), 1.0)])
        return r.reshape(1, 1, 1, -1).expand(1, 3, 16, r.numel()).clone()

    levels = 6
    slow = ramp(600)  # 1/600 of full scale a pixel: below the 0.01 where the slope is full
    full = luma_row(toon_shade(slow, _gaussian(3.0), levels, 40.0))[20:-20]
    half = luma_row(toon_shade(slow, _gaussian(1.5), levels, 40.0, half=True))[20:-20]
    assert float((full - half).abs().max()) < 0.005  # under 1.3 levels (exact for a straight ramp but
    # for the 2x2 mean at the borders)

    soft = luma_row(toon_shade(slow, _gaussian(1.5), levels, 40.0, half=True, soft=10.0))[20:-20]
    # on the slow ramp: nearly the ramp itself, no steep steps, few pixels parked on the plates
    assert _on_plates(half, levels) > 0.5 and _on_plates(soft, levels) < 0.3
    assert float((soft[1:] - soft[:-1]).max()) < 0.5 * float((half[1:] - half[:-1]).max())
    assert float((soft[1:] - soft[:-1]).min()) > -1e-4  # still monotone
    # a steep ramp (1/48 of full scale a pixel) gets the full slope: the same plates as without soft
    steep = ramp(48, pad=40)
    a = luma_row(toon_shade(steep, _gaussian(1.5), levels, 40.0, half=True, soft=10.0))[52:76]
    b = luma_row(toon_shade(steep, _gaussian(1.5), levels, 40.0, half=True))[52:76]
    assert float((a - b).abs().max()) < 0.01
    with pytest.raises(ValueError, match="toon_soft"):
        create_model("lite", toon_levels=6, toon_sharpness=40.0, toon_soft=50.0)
    sf = arch_style(tmp_path, "lite", smooth_skip=5, smooth_input=3, toon_levels=levels, toon_half=True,
                    toon_soft=10.0)
    img = probe_frame(96, 128)
    with create_backend(sf, backend="torch", device="cpu") as t, create_backend(sf, backend="onnx", device="cpu") as o:
        x, y = t.process(img).astype(int), o.process(img).astype(int)
    assert float((np.abs(x - y) <= 2).mean()) > 0.999


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("color", ["RGB", "BGR"])
@pytest.mark.parametrize("value_range", [(-1.0, 1.0), (0.0, 255.0)])
def test_float_graph_io_maps_frames_and_outputs_exactly(layout: str, color: str, value_range: tuple[float, float]) -> None:
    """The float graphs' pre/post (ONNX Runtime, OpenVINO): a uint8 RGB frame reaches the graph in
    its layout, colour order and range, and an output comes back as C-contiguous uint8 RGB, clipped
    to the range and rounded to the nearest level (the planar fast path for NCHW included)."""
    from cartoon_cam.inference.backends.graph_io import FloatGraphIO

    io = FloatGraphIO(StyleManifest(id="g", name="g", arch="onnx", layout=layout, color=color, value_range=value_range))
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (6, 10, 3), dtype=np.uint8)
    lo, hi = value_range
    x = io.pre(frame)
    assert x.shape == io.input_shape(6, 10) and x.dtype == np.float32
    hwc = x[0].transpose(1, 2, 0) if layout == "NCHW" else x[0]
    want = frame[..., ::-1] if color == "BGR" else frame
    assert np.allclose(hwc, lo + want.astype(np.float32) * (hi - lo) / 255.0, atol=1e-4)
    # the identity graph round-trips exactly
    assert np.array_equal(io.post(x.copy()), frame)
    # out of range is clipped; in between is rounded to the nearest level
    levels = np.array([-20.0, 0.0, 0.4, 0.6, 127.4, 254.6, 300.0], np.float32)
    row = np.stack([levels, levels[::-1], levels], axis=-1)[None]  # 1 x 7 x 3, RGB
    src = row[..., ::-1] if color == "BGR" else row
    g = (lo + src * (hi - lo) / 255.0).astype(np.float32)
    g = g.transpose(2, 0, 1)[None] if layout == "NCHW" else g[None]
    out = io.post(np.ascontiguousarray(g))
    assert out.dtype == np.uint8 and out.flags["C_CONTIGUOUS"] and out.shape == (1, 7, 3)
    assert np.array_equal(out, np.clip(np.rint(row), 0, 255).astype(np.uint8))
