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


# --------------------------------------------------------------------------- look metrics (issue 11)


def _line_drawing() -> np.ndarray:
    """A known line drawing: thin dark strokes (1-2 px) on a light ground, uint8 RGB 128x128."""
    import cv2

    img = np.full((128, 128, 3), 235, np.uint8)
    for i, (a, b) in enumerate([((10, 10), (118, 40)), ((20, 100), (100, 20)), ((64, 5), (64, 123)),
                                ((5, 90), (123, 90))]):
        cv2.line(img, a, b, (40, 40, 40), 1 + i % 2, cv2.LINE_AA)
    cv2.circle(img, (50, 60), 20, (30, 30, 30), 2, cv2.LINE_AA)
    return img


def test_ink_mask_is_the_defined_black_hat() -> None:
    import cv2

    from training.evaluate import ink_mask

    img = _line_drawing()
    lum = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    bh = cv2.morphologyEx(lum, cv2.MORPH_BLACKHAT, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)))
    np.testing.assert_array_equal(ink_mask(img), bh > 28)
    assert 0.02 < ink_mask(img).mean() < 0.2  # the strokes, not the ground
    assert not ink_mask(np.full((32, 32, 3), 90, np.uint8)).any()  # a flat image has no ink


def test_ink_scores_of_a_drawing_its_blur_and_shifted_copies() -> None:
    import cv2

    from training.evaluate import ink_scores

    img = _line_drawing()
    same = ink_scores(img, img)
    assert same["ink_f1"] == 1.0 and same["ink_ratio"] == 1.0
    one = ink_scores(np.roll(img, 1, axis=1), img)  # within the 1-pixel tolerance
    assert one["ink_f1"] > 0.99 and one["ink_ratio"] == pytest.approx(1.0)
    far = ink_scores(np.roll(img, (4, 4), axis=(0, 1)), img)  # same amount of ink, in the wrong places
    assert far["ink_ratio"] == pytest.approx(1.0) and far["ink_f1"] < 0.6
    blurred = ink_scores(cv2.GaussianBlur(img, (0, 0), 3), img)  # "a blur filter": lines fade away
    assert blurred["ink_ratio"] < 0.5 and blurred["ink_f1"] < 0.7 and blurred["ink_precision"] > 0.9
    none = ink_scores(np.full_like(img, 235), img)
    assert none["ink_f1"] == 0.0 and none["ink_ratio"] == 0.0


def test_flatness_ratio_sees_photo_texture_left_in_flat_regions() -> None:
    from training.evaluate import flatness_ratio

    img = _line_drawing()
    rng = np.random.default_rng(0)
    teacher = np.clip(img.astype(int) + rng.integers(-2, 3, img.shape), 0, 255).astype(np.uint8)
    assert flatness_ratio(teacher, teacher) == pytest.approx(1.0)
    grainy = np.clip(img.astype(int) + rng.integers(-12, 13, img.shape), 0, 255).astype(np.uint8)
    assert flatness_ratio(grainy, teacher) > 3.0
    assert flatness_ratio(img, teacher) < 0.5  # cleaner than the teacher: flat


def test_noise_flicker_ratio_of_identity_smoothing_and_amplifying_styles() -> None:
    import cv2

    from training.evaluate import noise_flicker_ratio

    photo = np.full((48, 64, 3), 128, np.uint8)
    photo[:, 32:] = 100
    assert noise_flicker_ratio(lambda x: x, photo) == pytest.approx(1.0, abs=1e-6)
    assert noise_flicker_ratio(lambda x: np.full_like(x, 7), photo) == 0.0
    box = noise_flicker_ratio(lambda x: cv2.blur(x, (5, 5)), photo)
    assert 0.1 < box < 0.35  # averaging 25 pixels divides independent noise by ~5
    amp = noise_flicker_ratio(lambda x: np.clip((x.astype(int) - 128) * 2 + 128, 0, 255).astype(np.uint8), photo)
    assert amp == pytest.approx(2.0, rel=0.1)


def test_pan_error_is_zero_for_shift_equivariant_styles_and_not_for_grid_locked_ones() -> None:
    import cv2

    from training.evaluate import pan_error

    rng = np.random.default_rng(0)
    photo = cv2.GaussianBlur(rng.integers(0, 256, (200, 240, 3), dtype=np.uint8), (0, 0), 2)
    assert pan_error(lambda x: x, photo) == 0.0
    assert pan_error(lambda x: cv2.GaussianBlur(x, (5, 5), 0), photo) == 0.0  # equivariant, border ignored
    pattern = lambda x: np.clip(x.astype(int) + 20 * (np.indices(x.shape[:2]).sum(0) % 2)[..., None],  # noqa: E731
                                0, 255).astype(np.uint8)  # a frame-locked checkerboard: moves with nothing
    assert pan_error(pattern, photo) > 5.0
    with pytest.raises(ValueError, match="too small"):
        pan_error(lambda x: x, photo[:30, :30])


def test_check_targets() -> None:
    from training.evaluate import check_targets

    ok = check_targets({"psnr": 23.5, "ink_f1": 0.7, "ink_ratio": 1.3, "pan_error": 2.0})
    assert ok == {"psnr": True, "ink_f1": False, "ink_ratio": False, "pan_error": True}


def test_torch_black_hat_matches_opencv_and_ink_loss_prefers_drawing_the_line() -> None:
    import cv2

    from training.losses import blackhat, ink_loss

    img = _line_drawing()
    x = torch.from_numpy(img.astype(np.float32) / 127.5 - 1).permute(2, 0, 1)[None]
    lum = cv2.cvtColor(img.astype(np.float32), cv2.COLOR_RGB2GRAY)
    ref = cv2.morphologyEx(lum, cv2.MORPH_BLACKHAT, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)))
    np.testing.assert_allclose(blackhat(x)[0, 0].numpy(), ref, atol=1e-3)
    assert ink_loss(x, x).item() == pytest.approx(0.0, abs=1e-6)
    blank = torch.full_like(x, 235 / 127.5 - 1)
    missing = ink_loss(blank, x, quantile=0.8).item()  # the teacher's lines left out
    extra = ink_loss(x, blank, quantile=0.8).item()  # lines the teacher did not draw
    assert missing > 3 * extra > 0


def test_ink_loss_does_not_reward_a_uniform_darkening() -> None:
    """The black-hat is blind to a uniform change of brightness, and so must the ink loss's gradient
    be: a version that held the student's closing fixed rewarded darkening everything, and a
    training run drifted to a black picture within 50 steps."""
    from training.losses import ink_loss

    teacher = torch.from_numpy(_line_drawing().astype(np.float32) / 127.5 - 1).permute(2, 0, 1)[None] * 0.8
    student = torch.full_like(teacher, 0.1) + 0.05 * torch.randn_like(teacher)
    c = torch.zeros((), requires_grad=True)
    ink_loss(student + c, teacher, quantile=0.8).backward()
    assert c.grad is not None and abs(c.grad.item()) < 1e-4
