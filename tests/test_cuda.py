"""The CUDA path of the PyTorch backend (``pytest -m cuda``; skipped where PyTorch sees no GPU).

Tolerances (uint8 levels, against the same weights in float32 on the CPU): fp16 + channels-last
output mean |diff| ≤ 1.0 and 99.9th percentile ≤ 8; CUDA float32 (cuDNN may use TF32) mean ≤ 0.5.
The networks are seeded random ones (GroupNorm / instance norm keep their activations in range,
as in trained ones).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cartoon_cam.errors import BackendError
from cartoon_cam.inference.backends import create_backend
from cartoon_cam.inference.backends.torch_backend import (
    TorchBackend,
    Uint8Wrapper,
    cuda_available,
    torch_device,
)
from cartoon_cam.inference.catalog import probe_frame
from cartoon_cam.inference.registry import arch_info, create_model
from cartoon_cam.inference.style import StyleFile, StyleManifest, read_style, write_torch_style

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not cuda_available(), reason="PyTorch sees no CUDA device")]

FP16_MEAN, FP16_P999, FP32_MEAN = 1.0, 8.0, 0.5
ARCHS = ["animeganv2", "cartoongan", "lite"]
FIRST_CONV = "block_a.0.1.weight"  # AnimeGANv2: [pad, conv (no bias), GroupNorm(1, 32), LeakyReLU]


def arch_style(tmp_path: Path, arch: str, edit: dict[str, float] | None = None) -> StyleFile:
    """A style of ``arch`` with seeded random weights; ``edit`` multiplies the named tensors."""
    torch.manual_seed(1)
    net = create_model(arch)
    sd = {k: v * (edit or {}).get(k, 1.0) if v.is_floating_point() else v for k, v in net.state_dict().items()}
    info = arch_info(arch)
    m = StyleManifest(id=f"t_{arch}", name=arch, arch=arch, color=info.color, size_multiple=info.size_multiple)
    return read_style(write_torch_style(tmp_path / f"{arch}.safetensors", sd, m))


def frame(h: int = 256, w: int = 320) -> np.ndarray:
    """A photo-like uint8 RGB frame (the probe picture, resized)."""
    import cv2

    return np.ascontiguousarray(cv2.resize(probe_frame(), (w, h), interpolation=cv2.INTER_CUBIC))


def levels(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.int16) - b.astype(np.int16))


@pytest.mark.parametrize("arch", ARCHS)
def test_fp16_channels_last_matches_fp32_within_tolerance(tmp_path: Path, arch: str) -> None:
    sf = arch_style(tmp_path, arch)
    img = frame()
    with TorchBackend(sf, device="cpu") as cpu, TorchBackend(sf, device="cuda") as gpu:
        cpu.size = gpu.size = max(img.shape[:2])
        assert gpu.precision == "fp16" and gpu.device.startswith("cuda:")
        convs = [m for m in gpu.net.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size != (1, 1)]
        assert convs and all(m.weight.dtype == torch.float16 for m in convs)
        assert all(m.weight.is_contiguous(memory_format=torch.channels_last) for m in convs)
        ref, out = cpu.process(img), gpu.process(img)
        assert gpu.precision == "fp16", "fp16 fell back to fp32 on ordinary weights"
    assert out.shape == img.shape and out.dtype == np.uint8 and out.flags.c_contiguous
    d = levels(out, ref)
    assert d.mean() <= FP16_MEAN and np.percentile(d, 99.9) <= FP16_P999, (d.mean(), np.percentile(d, 99.9), d.max())


def test_cuda_fp32_matches_cpu(tmp_path: Path) -> None:
    sf = arch_style(tmp_path, "animeganv2")
    img = frame()
    with TorchBackend(sf, device="cpu") as cpu, TorchBackend(sf, device="cuda", fp16=False) as gpu:
        cpu.size = gpu.size = max(img.shape[:2])
        assert gpu.precision == "fp32"
        d = levels(gpu.process(img), cpu.process(img))
    assert d.mean() <= FP32_MEAN, d.mean()


def test_in_place_pre_post_equal_the_export_wrapper_on_cuda(tmp_path: Path) -> None:
    """TorchBackend's in-place pre/post (pinned upload, in-place scale) = Uint8Wrapper (the ONNX graph)."""
    sf = arch_style(tmp_path, "cartoongan")  # BGR: the colour swap is exercised too
    img = frame(128, 192)
    with TorchBackend(sf, device="cuda") as gpu:
        wrap = Uint8Wrapper(gpu.net, sf.manifest).eval()
        with torch.inference_mode():
            ref = wrap(torch.from_numpy(img)[None].cuda())[0].cpu().numpy()
        out = gpu._infer(img)
    assert levels(out, ref).max() <= 1


def test_fp16_overflow_falls_back_to_fp32_on_cuda(tmp_path: Path) -> None:
    """First conv ×1e5 overflows float16 (Inf, then NaN after GroupNorm); in float32 GroupNorm takes the
    scale out again, so the fallback must give the unscaled network's picture."""
    assert create_model("animeganv2").state_dict()[FIRST_CONV].shape == (32, 3, 7, 7)
    big = arch_style(tmp_path / "big", "animeganv2", edit={FIRST_CONV: 1e5})
    plain = arch_style(tmp_path / "plain", "animeganv2")
    img = frame(128, 160)
    with TorchBackend(big, device="cuda") as gpu, TorchBackend(plain, device="cpu") as cpu:
        gpu.size = cpu.size = max(img.shape[:2])
        assert gpu.precision == "fp16"
        out = gpu.process(img)
        assert gpu.precision == "fp32"
        assert gpu.describe().endswith("fp32")
        ref = cpu.process(img)
        again = gpu.process(img)  # stays in fp32
    assert gpu.precision == "fp32"
    assert levels(out, ref).mean() <= FP32_MEAN and np.array_equal(out, again)


def test_warmup_runs_full_frames_on_the_gpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sf = arch_style(tmp_path, "animeganv2")
    with TorchBackend(sf, device="cuda") as gpu:
        gpu.size = 320
        seen: list[tuple[int, ...]] = []
        orig = gpu._infer

        def spy(rgb: np.ndarray) -> np.ndarray:
            seen.append(rgb.shape)
            return orig(rgb)

        monkeypatch.setattr(gpu, "_infer", spy)
        assert not gpu.on_cpu
        gpu.warmup(240, 320, runs=2)
        assert seen == [(240, 320, 3)] * 2
        assert torch.backends.cudnn.benchmark
        out = gpu.process(frame(240, 320))
    assert out.shape == (240, 320, 3)


def test_device_selection() -> None:
    n = torch.cuda.device_count()
    assert torch_device("auto").type == "cuda"
    assert torch_device("cuda") == torch.device("cuda", torch.cuda.current_device())
    assert torch_device("cuda:0") == torch.device("cuda", 0)
    assert torch_device("cpu") == torch.device("cpu")
    with pytest.raises(BackendError, match="does not exist"):
        torch_device(f"cuda:{n}")
    with pytest.raises(BackendError):
        torch_device("directml")


def test_factory_picks_torch_fp16_on_cuda_and_reports_it(tmp_path: Path) -> None:
    sf = arch_style(tmp_path, "animeganv2")
    with create_backend(sf, device="auto", warmup=True) as b:
        assert (b.name, b.precision) == ("torch", "fp16") and b.device == "cuda:0"
        assert b.describe() == "torch · cuda:0 · fp16"
        out = b.process(frame())
    assert out.shape == frame().shape
    with create_backend(sf, device="cpu") as b:
        assert b.on_cpu and b.precision == "fp32"
    with create_backend(sf, backend="torch", device="cuda:0") as b:
        assert b.device == "cuda:0"


def test_close_frees_the_model(tmp_path: Path) -> None:
    sf = arch_style(tmp_path, "animeganv2")
    b = TorchBackend(sf, device="cuda")
    b.process(frame(64, 64))
    b.close()
    b.close()
    assert b.closed and b.net is None
    with pytest.raises(RuntimeError, match="closed"):
        b.process(frame(64, 64))
