"""Evaluation metrics against closed forms; FID/KID with a user-supplied TorchScript extractor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from training.evaluate import (
    InceptionFeatures,
    fid_from_features,
    frechet_distance,
    kid_from_features,
    psnr,
    ssim,
)


def test_psnr_by_hand() -> None:
    a = np.zeros((4, 4, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 10  # mse = 100 / 48
    assert psnr(a, b) == pytest.approx(10 * np.log10(255**2 / (100 / 48)))
    assert psnr(a, a) == float("inf")


def test_ssim_constant_images_and_identity() -> None:
    a = np.full((16, 16, 3), 100, np.uint8)
    b = np.full((16, 16, 3), 120, np.uint8)
    c1 = (0.01 * 255) ** 2
    # constant images: variances 0, so SSIM = (2·μa·μb + C1) / (μa² + μb² + C1)
    assert ssim(a, b) == pytest.approx((2 * 100 * 120 + c1) / (100**2 + 120**2 + c1), rel=1e-9)
    ramp = np.linspace(0, 255, 32)
    x = np.stack([np.add.outer(ramp, ramp) / 2] * 3, axis=2).astype(np.uint8)
    assert ssim(x, x) == pytest.approx(1.0)
    noisy = np.clip(x.astype(int) + np.random.default_rng(1).integers(-40, 41, x.shape), 0, 255).astype(np.uint8)
    assert ssim(x, noisy) < 0.9


def test_frechet_distance_closed_forms() -> None:
    # 1-D: (μ1-μ2)² + σ1² + σ2² - 2σ1σ2
    assert frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[9.0]])) == pytest.approx(
        4 + 4 + 9 - 2 * 6)
    rng = np.random.default_rng(0)
    f = rng.normal(size=(500, 8))
    assert fid_from_features(f, f) == pytest.approx(0.0, abs=1e-6)
    assert fid_from_features(f, f + 1.0) == pytest.approx(8.0, rel=1e-6)  # shift only moves the mean


def test_kid_by_hand_on_a_tiny_set() -> None:
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = np.array([[2.0, 0.0], [0.0, 0.0], [1.0, 2.0]])
    k = lambda a, b: (a @ b.T / 2 + 1) ** 3  # noqa: E731
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    expected = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / 6 - 2 * kxy.mean()
    mean, std = kid_from_features(x, y, subsets=3, subset_size=3)
    assert mean == pytest.approx(expected) and std == pytest.approx(0.0, abs=1e-12)


class _TinyFeatures(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([x.mean((2, 3)), x.amax((2, 3))], 1).flatten(1)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_inception_features_from_torchscript(tmp_path: Path) -> None:
    p = tmp_path / "feat.pt"
    torch.jit.script(_TinyFeatures()).save(str(p))
    net = InceptionFeatures(p)
    imgs = [np.full((40, 30, 3), v, np.uint8) for v in (0, 128, 255)]
    f = net(imgs, batch=2)
    assert f.shape == (3, 6)
    np.testing.assert_allclose(f[:, 0], [0, 128, 255], atol=1e-3)
    with pytest.raises(FileNotFoundError, match="inception-2015-12-05"):
        InceptionFeatures(tmp_path / "missing.pt")
