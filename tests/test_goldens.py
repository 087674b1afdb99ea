"""Published models are the oracles: our implementations must reproduce their golden outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import shared_path

from cartoon_cam.inference.backends import create_backend
from cartoon_cam.inference.backends.torch_backend import build_torch_model
from cartoon_cam.inference.importers import import_model_file

TOL = 1e-4  # max abs difference at network level, float32

TORCH_CASES = [
    ("animeganv2/random_seed0.pt", "animeganv2_seed0_256x256.npz"),
    ("animeganv2/random_seed0.pt", "animeganv2_seed0_320x192.npz"),
    ("cartoongan/hayao.npz", "cartoongan_hayao_256x256.npz"),
    ("cartoongan/shinkai.npz", "cartoongan_shinkai_256x256.npz"),
]
ONNX_CASES = [
    ("animeganv3/AnimeGANv3_Shinkai_37.onnx", "animeganv3_shinkai37_256x256_nhwc.npz", "NHWC", "RGB"),
    ("whitebox/whitebox_cartoonize.onnx", "whitebox_256x256_bgr.npz", "NCHW", "BGR"),
]


def _golden(name: str) -> tuple[np.ndarray, np.ndarray]:
    z = np.load(shared_path("golden", name))
    return z["input"], z["output"]


def to_uint8_rgb(x: np.ndarray, layout: str, color: str) -> np.ndarray:
    """Golden float tensor [-1,1] (1 image) → uint8 RGB HxWx3 (the goldens' inputs are exact levels)."""
    img = x[0].transpose(1, 2, 0) if layout == "NCHW" else x[0]
    if color == "BGR":
        img = img[..., ::-1]
    return np.ascontiguousarray(np.rint((img + 1.0) * 127.5).astype(np.uint8))


def quantise(y: np.ndarray) -> np.ndarray:
    return np.clip(np.rint((y + 1.0) * 127.5), 0, 255).astype(np.int16)


@pytest.mark.parametrize(("model", "golden"), TORCH_CASES)
def test_torch_arch_matches_golden_network_level(model: str, golden: str) -> None:
    sf = import_model_file(shared_path("models", model))
    net = build_torch_model(sf)
    x, want = _golden(golden)
    bgr = sf.manifest.color == "BGR"
    with torch.inference_mode():
        xin = torch.from_numpy(x[:, ::-1].copy() if bgr else x)  # goldens are RGB; the net may be BGR
        got = net(xin).numpy()
    if bgr:
        got = got[:, ::-1]
    assert got.shape == want.shape
    assert np.abs(got - want).max() < TOL


@pytest.mark.parametrize("backend", ["torch", "onnx"])
@pytest.mark.parametrize(("model", "golden"), TORCH_CASES[::2])
def test_torch_arch_golden_through_backend(model: str, golden: str, backend: str) -> None:
    """uint8 in → uint8 out through a whole backend at the input's own size: ≤ 1 level off."""
    x, want = _golden(golden)
    img = to_uint8_rgb(x, "NCHW", "RGB")
    with create_backend(import_model_file(shared_path("models", model)), backend=backend, device="cpu",
                        size=max(img.shape[:2])) as b:
        assert b.plan(*img.shape[:2]).resized is False
        out = b.process(img).astype(np.int16)
    ref = quantise(want[0].transpose(1, 2, 0))
    assert out.shape == ref.shape
    assert np.abs(out - ref).max() <= 1
    assert np.abs(out - ref).mean() < 0.05


@pytest.mark.parametrize("runtime", ["onnx", "openvino"])
@pytest.mark.parametrize(("model", "golden", "layout", "color"), ONNX_CASES)
def test_onnx_model_detected_and_matches_golden(model: str, golden: str, layout: str, color: str,
                                                 runtime: str) -> None:
    if runtime == "openvino":
        pytest.importorskip("openvino")
    sf = import_model_file(shared_path("models", model))
    assert (sf.manifest.layout, sf.manifest.color) == (layout, color)
    x, want = _golden(golden)
    img = to_uint8_rgb(x, layout, color)
    with create_backend(sf, backend=runtime, device="cpu", size=max(img.shape[:2])) as b:
        # network level: our preprocessing reproduces the golden input, the model its output
        pre = b.io.pre(img)
        assert pre.shape == x.shape
        assert np.abs(pre - x).max() < 1e-5
        got = b.run_graph(pre)
        assert np.abs(got - want).max() < TOL
        # end to end (uint8 RGB in/out); the White-box output exceeds [-1, 1] and is clipped
        out = b.process(img).astype(np.int16)
    ref_img = want[0].transpose(1, 2, 0) if layout == "NCHW" else want[0]
    if color == "BGR":
        ref_img = ref_img[..., ::-1]
    ref = quantise(ref_img)
    assert np.abs(out - ref).max() <= 1


def test_onnx_size_multiples_are_probed() -> None:
    cute = import_model_file(shared_path("models", "animeganv3", "AnimeGANv3_tiny_Cute.onnx"))
    shinkai = import_model_file(shared_path("models", "animeganv3", "AnimeGANv3_Shinkai_37.onnx"))
    white = import_model_file(shared_path("models", "whitebox", "whitebox_cartoonize.onnx"))
    fixed = import_model_file(shared_path("models", "animeganv3", "AnimeGANv3_Hayao_36_512.onnx"))
    assert cute.manifest.size_multiple == 16
    assert shinkai.manifest.size_multiple == 8
    assert white.manifest.size_multiple == 4
    assert fixed.manifest.fixed_size == (512, 512)
