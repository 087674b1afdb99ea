"""Inference-size planning, padding to the size multiple and odd input sizes."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_path

from cartoon_cam.inference.backends import create_backend
from cartoon_cam.inference.backends.base import check_frame, pad, plan_size
from cartoon_cam.inference.catalog import load_style, probe_frame
from cartoon_cam.inference.importers import import_model_file


def test_plan_keeps_aspect_and_pads_to_multiple() -> None:
    p = plan_size(181, 243, 256, 8)
    assert (p.ih, p.iw) == (191, 256)
    assert (p.ih + p.ph) % 8 == 0 and (p.iw + p.pw) % 8 == 0
    assert p.ph == 1 and p.pw == 0


def test_plan_native_size_multiple_means_no_resize_no_pad() -> None:
    p = plan_size(192, 320, 320, 4)
    assert not p.resized and p.ph == p.pw == 0


def test_plan_fixed_size_overrides() -> None:
    p = plan_size(360, 640, 300, 8, fixed=(512, 512))
    assert (p.ih, p.iw, p.ph, p.pw) == (512, 512, 0, 0)


def test_pad_reflects_and_falls_back_for_tiny_images() -> None:
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    out = pad(img, 1, 2)
    assert out.shape == (3, 5, 3)
    assert (out[2, :3] == img[0]).all()  # reflect-101: row 2 mirrors row 0
    assert (out[:2, 3] == img[:, 1]).all()  # column 3 mirrors column 1
    tiny = pad(np.zeros((1, 1, 3), np.uint8), 7, 7)
    assert tiny.shape == (8, 8, 3)


@pytest.mark.parametrize("bad", [
    np.zeros((8, 8, 3), np.float32), np.zeros((8, 8), np.uint8), np.zeros((8, 8, 4), np.uint8),
    np.zeros((0, 8, 3), np.uint8), [[1, 2, 3]],
])
def test_check_frame_rejects_bad_input(bad: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        check_frame(bad)


def test_non_contiguous_input_is_accepted() -> None:
    img = np.ascontiguousarray(probe_frame(64, 96)[:, ::-1])[:, ::2]  # strided view
    assert not img.flags.c_contiguous
    with create_backend(load_style("classic")) as b:
        out = b.process(img)
    assert out.shape == img.shape and out.flags.c_contiguous


STYLES = [
    "classic",
    "animeganv2/random_seed0.pt",
    "animeganv3/AnimeGANv3_tiny_Cute.onnx",
    "animeganv3/AnimeGANv3_Hayao_36_512.onnx",
    "whitebox/whitebox_cartoonize.onnx",
]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize(("h", "w", "size"), [(181, 243, None), (97, 131, 120), (7, 5, 33)])
def test_odd_sizes_come_back_at_input_size(style: str, h: int, w: int, size: int | None) -> None:
    sf = load_style("classic") if style == "classic" else import_model_file(shared_path("models", style))
    img = np.ascontiguousarray(probe_frame(h, w))
    with create_backend(sf, device="cpu", size=size) as b:
        out = b.process(img)
    assert out.shape == (h, w, 3) and out.dtype == np.uint8 and out.flags.c_contiguous
    if h > 50:
        assert out.std() > 1.0  # a real picture came back, not a constant


def test_default_size_never_upscales() -> None:
    with create_backend(load_style("classic")) as b:
        assert b.effective_size(100, 200) == 200
        assert b.effective_size(1080, 1920) == b.manifest.recommended_size
        b.size = 1000
        assert b.effective_size(100, 200) == 1000
        with pytest.raises(ValueError):
            b.size = 3
