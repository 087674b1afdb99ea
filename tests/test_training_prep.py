"""Edge smoothing (bit-identical to the official loop), dataset prep, layout checks, samplers."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from training.cli import main
from training.data import ImageFolderDataset, StreamBatchSampler, gray3, to_tensor
from training.prep import check_layout, edge_mask, edge_smooth, edge_smooth_reference


def _cartoonish(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """Flat colour shapes with sharp borders plus a little noise (uint8 BGR)."""
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 200, np.uint8)
    cv2.rectangle(img, (5, 5), (30, 25), (20, 140, 230), -1)
    cv2.circle(img, (45, 30), 12, (90, 30, 10), -1)
    cv2.line(img, (0, h - 5), (w - 1, 10), (0, 0, 0), 2)
    return np.clip(img.astype(np.int16) + rng.integers(-3, 4, img.shape), 0, 255).astype(np.uint8)


def test_edge_smooth_matches_reference_loop_exactly() -> None:
    for seed in range(3):
        img = _cartoonish(seed=seed)
        out = edge_smooth(img)
        assert out.dtype == np.uint8 and out.shape == img.shape
        np.testing.assert_array_equal(out, edge_smooth_reference(img))
        mask = edge_mask(img)
        assert 0 < mask.mean() < 0.9
        np.testing.assert_array_equal(out[~mask], img[~mask])  # only dilated edges change
        assert (out[mask] != img[mask]).any()


def test_prep_cli_builds_smooth_set_and_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "frames"
    src.mkdir()
    for i in range(3):
        cv2.imwrite(str(src / f"f{i}.png"), _cartoonish(60, 80, seed=i))
    root = tmp_path / "data"
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="train_photo"):
        check_layout(tmp_path / "empty", "Mine")
    assert main(["prep", "--data", str(root), "--style-name", "Mine", "--style-src", str(src),
                 "--photo-src", str(src), "--size", "32"]) == 0
    assert '"smooth": 3' in capsys.readouterr().out
    files = check_layout(root, "Mine")
    assert len(files["photo"]) == len(files["style"]) == len(files["smooth"]) == 3
    assert cv2.imread(str(files["smooth"][0])).shape == (32, 32, 3)
    assert [p.name for p in files["smooth"]] == [p.name for p in files["style"]]
    (files["smooth"][0]).unlink()
    for p in files["smooth"][1:]:
        p.unlink()
    with pytest.raises(FileNotFoundError, match="cartoon-cam-train prep"):
        check_layout(root, "Mine")


def test_gray_conversion_and_tensor_range() -> None:
    bgr = np.zeros((1, 2, 3), np.uint8)
    bgr[0, 0] = (0, 0, 255)  # red in BGR
    bgr[0, 1] = (255, 0, 0)  # blue
    g = gray3(bgr)
    assert g[0, 0].tolist() == [76, 76, 76] and g[0, 1].tolist() == [29, 29, 29]  # 0.299·255, 0.114·255
    t = to_tensor(np.array([[[0, 255, 128]]], np.uint8))
    assert t.shape == (3, 1, 1) and t.flatten().tolist() == pytest.approx([-1.0, 1.0, 128 / 127.5 - 1], abs=1e-6)


def test_style_dataset_returns_colour_and_gray(tmp_path: Path) -> None:
    p = tmp_path / "a.png"
    cv2.imwrite(str(p), _cartoonish(40, 50))
    color, gray = ImageFolderDataset([p], 32, gray=True)[(0, 0)]
    assert color.shape == gray.shape == (3, 32, 32)
    assert torch.equal(gray[0], gray[2]) and not torch.equal(color[0], color[2])


def test_stream_sampler_is_positional_and_partitions_ranks() -> None:
    s = StreamBatchSampler(10, 3, seed=1, stream=0)
    it = iter(s)
    first = [next(it) for _ in range(8)]
    resumed = iter(StreamBatchSampler(10, 3, seed=1, stream=0, start_step=5))
    assert [next(resumed) for _ in range(3)] == first[5:]
    # each epoch (10 consecutive positions) is a permutation
    flat = [i for b in first for i, _ in b]
    assert sorted(flat[:10]) == list(range(10)) and sorted(flat[10:20]) == list(range(10))
    assert StreamBatchSampler(10, 3, seed=2, stream=0).batch_at(0) != first[0]
    r0 = StreamBatchSampler(10, 2, seed=1, stream=0, rank=0, world_size=2).batch_at(0)
    r1 = StreamBatchSampler(10, 2, seed=1, stream=0, rank=1, world_size=2).batch_at(0)
    single = StreamBatchSampler(10, 4, seed=1, stream=0).batch_at(0)
    assert r0 + r1 == single
