"""Discriminator / generator shapes, and VGG19 loading from both weight formats (random weights)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from cartoon_cam.inference.registry import arch_info, create_model
from training.discriminator import Discriminator
from training.vgg import CONV_LAYERS, VGGWeightsError, load_vgg

torch.set_num_threads(1)


def test_discriminator_layout_and_patch_output() -> None:
    d = Discriminator()
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [
        (3, 32), (32, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 1)]
    assert [c.stride[0] for c in convs] == [1, 2, 1, 2, 1, 1, 1]
    assert all(c.kernel_size == (3, 3) and c.bias is None for c in convs)
    assert all(hasattr(c, "parametrizations") and hasattr(c.parametrizations, "weight") for c in convs)  # SN
    norms = [m for m in d.modules() if isinstance(m, nn.GroupNorm)]
    assert [n.num_groups for n in norms] == [1, 1, 1]  # layer norm over (C, H, W)
    # N(0, 0.02) init happened before spectral norm was attached
    assert 0.015 < float(convs[-2].parametrizations.weight.original.detach().std()) < 0.025
    assert d(torch.randn(2, 3, 64, 48)).shape == (2, 1, 16, 12)


def test_discriminator_normalises_per_sample() -> None:
    d = Discriminator(ch=16).eval()  # eval: no power iteration, so both calls see the same weights
    a, b = torch.randn(1, 3, 32, 32), torch.randn(1, 3, 32, 32) * 5
    with torch.no_grad():
        torch.testing.assert_close(d(torch.cat([a, b]))[:1], d(a), rtol=1e-4, atol=1e-5)


def test_generators_shapes_and_lite_budget() -> None:
    g = create_model("animeganv2")
    assert sum(p.numel() for p in g.parameters()) == 2_143_552
    with torch.no_grad():
        assert g(torch.zeros(1, 3, 64, 96)).shape == (1, 3, 64, 96)
    lite = create_model("lite")
    assert arch_info("lite").size_multiple == 8
    # the only normalisation: instance norm at 1/8 resolution (cheap; no batch statistics to freeze)
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)) for m in lite.modules())
    assert all(n.startswith("body.") for n, m in lite.named_modules() if isinstance(m, nn.InstanceNorm2d))
    macs = []

    def hook(m: nn.Conv2d, _i: object, out: torch.Tensor) -> None:
        macs.append(out[0].numel() * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1])

    hs = [m.register_forward_hook(hook) for m in lite.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        y = lite(torch.zeros(1, 3, 360, 640))
    for h in hs:
        h.remove()
    assert y.shape == (1, 3, 360, 640)
    assert 2 * sum(macs) <= 1.5e9


# --------------------------------------------------------------------------- VGG19


def _reference_features(x_net: torch.Tensor, sd: dict[str, torch.Tensor]) -> torch.Tensor:
    """Independent VGG19 → conv4_4 (pre-ReLU) on an already preprocessed input."""
    y = x_net
    for n, (i, _name, _cin, _cout) in enumerate(CONV_LAYERS):
        if i in (5, 10, 19):
            y = F.max_pool2d(y, 2)
        y = F.conv2d(y, sd[f"features.{i}.weight"], sd[f"features.{i}.bias"], padding=1)
        if n < len(CONV_LAYERS) - 1:
            y = F.relu(y)
    return y


@pytest.fixture(scope="module")
def vgg_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, torch.Tensor], Path, Path]:
    """Random torchvision-layout weights, written as a torchvision .pth and as a Caffe vgg19.npy."""
    g = torch.Generator().manual_seed(0)
    sd = {}
    for i, _n, cin, cout in CONV_LAYERS:
        sd[f"features.{i}.weight"] = torch.randn(cout, cin, 3, 3, generator=g) * (2 / (9 * cin)) ** 0.5
        sd[f"features.{i}.bias"] = torch.randn(cout, generator=g) * 0.1
    d = tmp_path_factory.mktemp("vgg")
    tv = d / "vgg19-dcbb9e9d.pth"
    torch.save({**sd, "classifier.0.weight": torch.zeros(2, 2)}, tv)  # extra keys like the real file
    caffe = {}
    for i, name, _cin, _cout in CONV_LAYERS:
        w = sd[f"features.{i}.weight"]
        if name == "conv1_1":
            w = w.flip(1)  # the Caffe network takes BGR input
        caffe[name] = [w.permute(2, 3, 1, 0).numpy().copy(), sd[f"features.{i}.bias"].numpy().copy()]  # OIHW → HWIO
    caffe["fc6"] = [np.zeros((4, 4), np.float32), np.zeros(4, np.float32)]
    npy = d / "vgg19.npy"
    np.save(npy, caffe, allow_pickle=True)
    return sd, tv, npy


def test_vgg_torchvision_file_and_preprocessing(vgg_files) -> None:
    sd, tv, _ = vgg_files
    vgg = load_vgg(str(tv))
    assert vgg.variant == "torchvision"
    x = torch.rand(2, 3, 24, 16) * 2 - 1
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        got = vgg(x)
        ref = _reference_features(((x + 1) / 2 - mean) / std, sd)
    assert got.shape == (2, 512, 3, 2)
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)
    assert not any(p.requires_grad for p in vgg.parameters())


def test_vgg_caffe_npy_bgr_and_mean(vgg_files) -> None:
    sd, _, npy = vgg_files
    vgg = load_vgg(str(npy))
    assert vgg.variant == "caffe"
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    # The BGR network with flipped conv1_1 equals the RGB network on RGB 0..255 minus the RGB mean.
    mean_rgb = torch.tensor([123.68, 116.779, 103.939]).view(1, 3, 1, 1)
    with torch.no_grad():
        got = vgg(x)
        ref = _reference_features((x + 1) * 127.5 - mean_rgb, sd)
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-3)


def test_vgg_missing_weights_error_names_the_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(VGGWeightsError, match=r"vgg19\.npy.*vgg19-dcbb9e9d\.pth"):
        load_vgg("auto")
    with pytest.raises(VGGWeightsError, match="not found"):
        load_vgg(str(tmp_path / "nope.npy"))


class _Evil:
    def __reduce__(self):  # pragma: no cover - never executed by the loader
        return (print, ("pwned",))


def test_vgg_npy_loader_refuses_arbitrary_pickles(tmp_path: Path) -> None:
    p = tmp_path / "vgg19.npy"
    np.save(p, np.array({"conv1_1": _Evil()}, dtype=object), allow_pickle=True)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        load_vgg(str(p))


def test_lite_context_sees_the_whole_image_and_starts_as_identity() -> None:
    """Without context the student is local (a change far away leaves a pixel alone); with it the
    image-wide statistics reach every pixel, as the teacher's instance norm does. The context's last
    layer starts at zero, so an untrained context network changes nothing."""
    torch.manual_seed(0)
    local = create_model("lite", context=False, norm="none").eval()
    ctx = create_model("lite", norm="none").eval()
    ctx.load_state_dict({**ctx.state_dict(), **local.state_dict()})
    x = torch.rand(1, 3, 256, 256) * 2 - 1
    far = x.clone()
    far[:, :, 192:, 192:] = -1.0  # darken the bottom-right corner
    with torch.no_grad():
        # zero-initialised modulation: the same picture (to float rounding: with context, the skip
        # path runs as a per-image MatMul instead of the 1x1 conv)
        torch.testing.assert_close(ctx(x), local(x), rtol=0.0, atol=1e-6)
        torch.nn.init.normal_(ctx.context.mlp[2].weight, std=0.05)
        assert torch.equal(local(x)[:, :, :32, :32], local(far)[:, :, :32, :32])
        d = (ctx(x)[:, :, :32, :32] - ctx(far)[:, :, :32, :32]).abs().max()
    assert d > 1e-3
    # instance norm in the body (the default) is image-wide too
    body = create_model("lite", context=False).eval()
    with torch.no_grad():
        assert (body(x)[:, :, :32, :32] - body(far)[:, :, :32, :32]).abs().max() > 1e-3


def test_lite_norm_variants_keep_the_contract() -> None:
    x = torch.rand(1, 3, 48, 64) * 2 - 1
    for norm, n_in in (("none", 0), ("body", 4), ("all", 9)):
        m = create_model("lite", norm=norm).eval()
        assert sum(isinstance(mod, nn.InstanceNorm2d) for mod in m.modules()) == n_in
        with torch.no_grad():
            y = m(x)
        assert y.shape == x.shape and float(y.abs().max()) <= 1.0
    with pytest.raises(ValueError, match="none | body | all"):
        create_model("lite", norm="batch")
