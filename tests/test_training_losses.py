"""Every training loss against a hand computation (NumPy or closed form)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training import losses as L

torch.manual_seed(0)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().numpy()


def test_gram_is_per_sample_and_normalised_by_chw() -> None:
    f = torch.randn(2, 3, 4, 5)
    g = L.gram(f)
    assert g.shape == (2, 3, 3)
    a = _np(f)
    for i in range(2):
        m = a[i].reshape(3, 20)
        np.testing.assert_allclose(_np(g[i]), m @ m.T / (3 * 4 * 5), rtol=1e-5, atol=1e-7)
    # no leakage between samples of a batch (the cross-batch Gram bug)
    f2 = f.clone()
    f2[1] = torch.randn(3, 4, 5) * 10
    torch.testing.assert_close(L.gram(f2)[0], g[0])


def test_content_loss_is_l1_mean() -> None:
    a, b = torch.randn(2, 4, 3, 3), torch.randn(2, 4, 3, 3)
    assert L.content_loss(a, b).item() == pytest.approx(np.abs(_np(a) - _np(b)).mean(), rel=1e-6)


def test_style_loss_l1_between_grams_by_hand() -> None:
    # one sample, C=2, H=1, W=2: F = [[1, 2], [3, 4]] → FFᵀ = [[5, 11], [11, 25]] / 4
    fa = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])
    fg = torch.tensor([[[[0.0, 2.0]], [[1.0, 1.0]]]])  # FFᵀ = [[4, 2], [2, 2]] / 4
    expected = np.abs(np.array([[5, 11], [11, 25]]) / 4 - np.array([[4, 2], [2, 2]]) / 4).mean()
    assert L.style_loss(fa, fg).item() == pytest.approx(expected)


def test_rgb_to_yuv_channels_match_tf_kernel() -> None:
    # pure red, green, blue pixels in [-1, 1]
    x = torch.tensor([[1.0, -1.0, -1.0], [-1.0, 1.0, -1.0], [-1.0, -1.0, 1.0]]).T.reshape(1, 3, 1, 3)
    yuv = L.rgb_to_yuv(x)[0, :, 0, :].T.numpy()  # rows = pixels, columns = Y, U, V
    np.testing.assert_allclose(yuv[0], [0.299, -0.14714119, 0.61497538], atol=1e-6)
    np.testing.assert_allclose(yuv[1], [0.587, -0.28886916, -0.51496512], atol=1e-6)
    np.testing.assert_allclose(yuv[2], [0.114, 0.43601035, -0.10001026], atol=1e-6)


def _huber(d: np.ndarray) -> float:
    ad = np.abs(d)
    return float(np.where(ad < 1, 0.5 * d * d, ad - 0.5).mean())


def test_color_loss_l1_y_plus_huber_uv() -> None:
    p, g = torch.rand(2, 3, 4, 4) * 2 - 1, torch.rand(2, 3, 4, 4) * 2 - 1
    k = L.YUV_KERNEL.double().numpy()
    yp = np.einsum("nchw,cd->ndhw", (_np(p) + 1) / 2, k)
    yg = np.einsum("nchw,cd->ndhw", (_np(g) + 1) / 2, k)
    expected = np.abs(yp[:, 0] - yg[:, 0]).mean() + _huber(yp[:, 1] - yg[:, 1]) + _huber(yp[:, 2] - yg[:, 2])
    assert L.color_loss(p, g).item() == pytest.approx(expected, rel=1e-5)
    # Huber's linear branch (|d| > 1) is reachable only on U/V scaled up: check the formula itself
    d = torch.tensor([-3.0, -0.5, 0.2, 2.0])
    assert torch.nn.functional.smooth_l1_loss(d, torch.zeros(4), beta=1.0).item() == pytest.approx(_huber(d.numpy()))


def test_tv_loss_by_hand_and_not_over_channels() -> None:
    x = torch.tensor([[[[0.0, 1.0], [3.0, 5.0]]]])  # 1x1x2x2
    # dh: [3, 4] → mean 12.5; dw: [1, 2] → mean 2.5; /2 each
    assert L.tv_loss(x).item() == pytest.approx(12.5 / 2 + 2.5 / 2)
    flat = torch.arange(3.0).reshape(1, 3, 1, 1).expand(1, 3, 4, 4).contiguous()  # varies over C only
    assert L.tv_loss(flat).item() == 0.0


def test_lsgan_g_and_d_by_hand() -> None:
    fake = torch.tensor([0.5, 1.0, 2.0])
    assert L.lsgan_g_loss(fake).item() == pytest.approx(((0.5 - 1) ** 2 + 0 + 1) / 3)
    real = torch.tensor([1.0, 0.0])  # (0 + 1) / 2 = 0.5
    f = torch.tensor([0.5, 0.5])  # 0.25
    gray = torch.tensor([1.0, -1.0])  # 1
    smooth = torch.tensor([2.0, 0.0])  # 2
    total, terms = L.lsgan_d_loss(real, f, gray, smooth, (1.2, 1.3, 1.4, 0.8))
    assert terms["d_real"].item() == pytest.approx(0.5)
    assert terms["d_fake"].item() == pytest.approx(0.25)
    assert terms["d_gray"].item() == pytest.approx(1.0)
    assert terms["d_smooth"].item() == pytest.approx(2.0)
    assert total.item() == pytest.approx(1.2 * 0.5 + 1.3 * 0.25 + 1.4 * 1.0 + 0.8 * 2.0)


def test_rgb_to_gray_uses_rgb_order() -> None:
    red = torch.tensor([1.0, 0.0, 0.0]).reshape(1, 3, 1, 1)
    blue = torch.tensor([0.0, 0.0, 1.0]).reshape(1, 3, 1, 1)
    assert L.rgb_to_gray(red).flatten().tolist() == pytest.approx([0.299] * 3)
    assert L.rgb_to_gray(blue).flatten().tolist() == pytest.approx([0.114] * 3)


def test_distillation_losses_by_hand() -> None:
    s = torch.tensor([[[[0.0, 1.0], [2.0, 4.0]]]])
    t = torch.tensor([[[[0.0, 0.0], [0.0, 0.0]]]])
    assert L.pixel_loss(s, t).item() == pytest.approx(7 / 4)
    # dy of s: [2, 3]; dx of s: [1, 2]; teacher gradients are 0
    assert L.edge_loss(s, t).item() == pytest.approx(2.5 + 1.5)
    assert L.edge_loss(s, s + 5.0).item() == 0.0  # a constant offset has no gradient difference
    assert L.feature_loss(s, t).item() == pytest.approx(7 / 4)
    assert L.lsgan_pair_d_loss(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0])).item() == pytest.approx(0.5 + 2.0)


def test_losses_are_float32_and_finite_under_bf16_autocast() -> None:
    x, y = torch.rand(2, 3, 8, 8) * 2 - 1, torch.rand(2, 3, 8, 8) * 2 - 1
    f = torch.randn(2, 8, 4, 4) * 300  # Caffe-scale features
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = [L.style_loss(f.bfloat16(), f.bfloat16() * 0.5), L.color_loss(x.bfloat16(), y), L.tv_loss(x.bfloat16()),
               L.edge_loss(x.bfloat16(), y)]
    for v in out:
        assert v.dtype == torch.float32 and torch.isfinite(v)


def test_ink_weighted_pixel_loss_counts_errors_on_the_teachers_lines_more() -> None:
    from training.losses import ink_weighted_pixel_loss, pixel_loss

    teacher = torch.full((1, 3, 32, 32), 0.8)
    teacher[:, :, :, 15:17] = -0.8  # a dark 2-px line: black-hat ink
    student = teacher.clone()
    assert ink_weighted_pixel_loss(student, teacher, 4.0).item() == 0.0
    off_line, on_line = student.clone(), student.clone()
    off_line[:, :, :, 2:4] -= 0.5  # the same error, away from the line ...
    on_line[:, :, :, 15:17] += 0.5  # ... and on it
    assert ink_weighted_pixel_loss(off_line, teacher, 0.0).item() == pytest.approx(pixel_loss(off_line, teacher).item())
    assert ink_weighted_pixel_loss(on_line, teacher, 4.0).item() > 3 * ink_weighted_pixel_loss(off_line, teacher, 4.0).item()


def test_ink_f1_loss_is_the_evals_ink_f1_made_soft() -> None:
    from training.evaluate import ink_scores
    from training.losses import ink_f1_loss

    def drawing(cols: list[int], rows: list[int], level: float = -0.8) -> torch.Tensor:
        img = torch.full((1, 3, 48, 48), 0.8)
        for c in cols:
            img[:, :, 4:44, c] = level  # dark 1-px strokes on a light ground
        for r in rows:
            img[:, :, r, 4:44] = level
        return img

    def u8(x: torch.Tensor) -> np.ndarray:
        return ((x[0].permute(1, 2, 0) + 1.0) * 127.5).round().clamp(0, 255).byte().numpy()

    teacher = drawing([10, 24, 38], [12, 30])
    for student in (teacher, drawing([11, 24], [12]), drawing([10, 20], [30, 40]), drawing([], [6])):
        want = ink_scores(u8(student), u8(teacher))["ink_f1"]
        # a hard mask (tiny softness) gives the metric itself, 1-pixel tolerance included
        assert 1.0 - ink_f1_loss(student, teacher, softness=1e-3).item() == pytest.approx(want, abs=1e-3)
    # a stroke moved by one pixel is still a hit; two pixels is a miss
    assert ink_f1_loss(drawing([11, 25, 39], [13, 31]), teacher, softness=1e-3).item() == pytest.approx(0.0, abs=1e-6)
    assert ink_f1_loss(drawing([12, 26, 40], [14, 32]), teacher, softness=1e-3).item() > 0.75  # only the crossings meet

    # faint strokes just under the threshold (black-hat 20 levels): darkening the one on the teacher's
    # line lowers the loss, darkening the one off it raises it
    faint = drawing([24, 31], [], level=0.8 - 20 / 127.5).requires_grad_(True)
    ink_f1_loss(faint, drawing([10, 24, 38], []), softness=4.0).backward()
    g = faint.grad[0].sum(0)
    assert g[4:44, 24].sum() > 0 and g[4:44, 31].sum() < 0  # d loss / d brightness
    # a teacher without ink adds nothing
    blank = torch.full((1, 3, 48, 48), 0.8)
    assert ink_f1_loss(teacher, blank).item() == 0.0


def test_shift_loss_and_camera_noise() -> None:
    from training.distill import add_noise
    from training.losses import shift_loss

    x = torch.rand(1, 3, 40, 40) * 2 - 1
    assert shift_loss(x, x).item() == 0.0
    assert shift_loss(x, torch.roll(x, 1, dims=-1)).item() > 0.1
    torch.manual_seed(0)
    noisy = add_noise(x.expand(64, -1, -1, -1).clone(), 6.0)
    assert noisy.min() >= -1 and noisy.max() <= 1
    sigma = (noisy - x).flatten(1).std(dim=1) * 127.5  # per image, in levels: uniform in 0..6
    assert 0 <= sigma.min() < 1.5 and 4.5 < sigma.max() <= 6.5
    whole = add_noise([x[0], x[0]], 3.0)  # whole-image batches are lists of 3 x H x W
    assert isinstance(whole, list) and whole[0].shape == x[0].shape and not torch.equal(whole[0], whole[1])


def test_edge_smoothed_blurs_the_teachers_edges_and_nothing_else() -> None:
    """CartoonGAN's edge-promoting fake: a crisp line becomes soft, flat colour stays exactly as it was."""
    teacher = torch.full((1, 3, 48, 48), 0.6)
    teacher[:, :, :, 20:22] = -0.9  # a dark 2-px vertical line
    teacher[:, 0, :, 36:] = -0.2  # a colour step (red channel only: luma step of 0.8 * 0.299 * 127.5 = 30 levels)
    fake = L.edge_smoothed(teacher)
    assert fake.shape == teacher.shape and not fake.requires_grad
    line = slice(20, 22)
    assert (fake[:, :, :, line] > teacher[:, :, :, line] + 0.3).all()  # the line is lighter, spread ...
    assert (fake[:, :, :, 19] < teacher[:, :, :, 19] - 0.3).all()  # ... onto its neighbours
    assert torch.equal(fake[:, :, :, :15], teacher[:, :, :, :15])  # far from any edge: untouched
    assert torch.equal(fake[:, :, :, 27:], teacher[:, :, :, 27:])  # a 30-level step is no edge at 40
    assert not torch.equal(L.edge_smoothed(teacher, threshold=20.0)[:, :, :, 27:], teacher[:, :, :, 27:])
    flat = torch.full((2, 3, 16, 16), 0.3)
    assert torch.equal(L.edge_smoothed(flat), flat)


def test_random_window_stays_inside_the_image() -> None:
    g = torch.Generator().manual_seed(0)
    corners = {L.random_window(16, (1, 3, 40, 24), g) for _ in range(200)}
    assert all(0 <= r <= 24 and 0 <= c <= 8 for r, c in corners)
    assert {r for r, _ in corners} == set(range(25)) and {c for _, c in corners} == set(range(9))
    assert L.random_window(64, (1, 3, 40, 24), g) == (0, 0)  # not bigger than the window: all of it


def test_ink_terms_give_the_same_loss_and_gradient_from_shared_black_hats() -> None:
    """distill_step computes each image's black-hat maps once for its three ink terms; passed in,
    they give what each term computes on its own, value and gradient (a swapped or stale map fails)."""
    from training.losses import blackhat, ink_f1_loss, ink_loss, ink_weighted_pixel_loss

    g = torch.Generator().manual_seed(3)
    teacher = torch.rand(2, 3, 40, 48, generator=g) * 2 - 1
    teacher[:, :, 10:12, :] = -1.0  # a drawn line
    base = torch.rand(2, 3, 40, 48, generator=g) * 2 - 1

    def total(shared: bool) -> tuple[float, torch.Tensor]:
        s = base.clone().requires_grad_(True)
        kw: dict = {}
        if shared:
            with torch.no_grad():
                kw = {"teacher_bh": blackhat(teacher)}
            kw["student_bh"] = blackhat(s)
        loss = (ink_weighted_pixel_loss(s, teacher, 10.0, teacher_bh=kw.get("teacher_bh"))
                + ink_loss(s, teacher, 0.8, **kw) + ink_f1_loss(s, teacher, **kw))
        loss.backward()
        return loss.item(), s.grad

    v_own, g_own = total(False)
    v_shared, g_shared = total(True)
    assert v_shared == pytest.approx(v_own, rel=1e-6)
    assert g_own.abs().sum() > 0
    torch.testing.assert_close(g_shared, g_own, rtol=1e-5, atol=1e-7)
