"""The OpenVINO CPU backend: same pictures as ONNX Runtime (within 1 level), static shapes compiled
per size and bounded, cancellable frames, clear errors."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import shared_path

from cartoon_cam.errors import BackendError, StyleError
from cartoon_cam.inference.backends import RunCancelled, create_backend
from cartoon_cam.inference.catalog import StyleCatalog, load_style
from cartoon_cam.inference.importers import import_model_file
from cartoon_cam.inference.style import StyleFile, StyleManifest

pytest.importorskip("openvino")
from cartoon_cam.inference.backends.openvino_backend import SHAPE_CACHE, OpenVinoBackend  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BUILTINS = [e.id for e in StyleCatalog().entries() if e.manifest.tier == "lite"]


def photo(w: int, h: int) -> np.ndarray:
    img = cv2.imread(str(REPO / "resources" / "demo" / "astronaut.jpg"), cv2.IMREAD_COLOR)[..., ::-1]
    return np.ascontiguousarray(cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA))


def _max_diff(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max())


@pytest.mark.parametrize("style_id", BUILTINS)
def test_builtins_match_onnx_runtime_within_one_level(style_id: str) -> None:
    st = load_style(style_id)
    img = photo(320, 180)  # not a multiple of 8 in height: padding and cropping included
    with create_backend(st, backend="onnx", device="cpu") as o, create_backend(st, backend="openvino") as v:
        assert (v.name, v.device, v.precision) == ("openvino", "cpu", "fp32")
        a, b = o.process(img), v.process(img)
    assert a.shape == b.shape == img.shape
    assert _max_diff(a, b) <= 1
    assert np.abs(a.astype(int) - img.astype(int)).mean() > 2  # a cartoon, not a pass-through


def test_nhwc_third_party_model_matches_onnx_runtime() -> None:
    st = import_model_file(shared_path("models", "animeganv3", "AnimeGANv3_tiny_Cute.onnx"))
    img = photo(160, 96)
    with create_backend(st, backend="onnx", device="cpu") as o, create_backend(st, backend="openvino") as v:
        assert _max_diff(o.process(img), v.process(img)) <= 1


def test_torch_style_runs_its_fused_export(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from test_backends import arch_style

    st = arch_style(tmp_path, "lite")
    img = photo(128, 72)
    with create_backend(st, backend="onnx", device="cpu") as o, create_backend(st, backend="openvino") as v:
        assert v._fused  # uint8 in and out: pre/post inside the graph
        assert _max_diff(o.process(img), v.process(img)) <= 1


def test_each_size_is_compiled_once_and_the_cache_is_bounded() -> None:
    with OpenVinoBackend(load_style("hayao_lite"), size=None) as v:
        sizes = [(64, 96), (72, 128), (64, 96), (80, 80), (48, 64), (56, 56)]
        outs = {}
        for h, w in sizes:
            y = v.process(photo(w, h))
            assert y.shape == (h, w, 3)
            outs.setdefault((h, w), y)
            assert len(v._compiled) <= SHAPE_CACHE
        assert np.array_equal(outs[(64, 96)], v.process(photo(96, 64)))  # same size, same picture


def test_results_are_not_views_of_the_runtime_buffer(tmp_path: Path) -> None:
    """OpenVINO reuses its output tensor: a returned frame must survive the next frame."""
    st = load_style("hayao_lite")
    with OpenVinoBackend(st, size=None) as v:
        first = v.process(photo(96, 64))
        keep = first.copy()
        v.process(np.zeros((64, 96, 3), np.uint8))
        assert np.array_equal(first, keep)


def test_a_running_frame_can_be_cancelled() -> None:
    pytest.importorskip("torch")
    st = load_style(str(shared_path("models", "animeganv2", "random_seed0.pt")))
    img = np.full((360, 640, 3), 100, np.uint8)
    with OpenVinoBackend(st, size=640) as v:
        v.warmup(360, 640)  # compiled: the next frame takes about a second on 2 cores
        started = threading.Event()
        orig = v._run

        def run(feed: np.ndarray) -> np.ndarray:
            started.set()
            return orig(feed)

        v._run = run  # type: ignore[method-assign]
        result: list[object] = []

        def work() -> None:
            try:
                result.append(v.process(img))
            except RunCancelled as e:
                result.append(e)

        t = threading.Thread(target=work)
        t.start()
        assert started.wait(60)
        v.cancel()
        t.join(60)
        assert not t.is_alive()
        assert isinstance(result[0], RunCancelled)
        v._run = orig  # type: ignore[method-assign]
        assert v.process(img).shape == img.shape  # the backend still works after a cancel


def test_bad_requests_are_refused_clearly() -> None:
    st = load_style("hayao_lite")
    with pytest.raises(BackendError, match="CPU only"):
        OpenVinoBackend(st, device="cuda")
    with pytest.raises(BackendError, match="precision"):
        OpenVinoBackend(st, precision="int4")
    bad = StyleFile(StyleManifest(id="broken", name="broken", arch="onnx"), None, None, b"not an onnx model")
    with pytest.raises(StyleError, match="OpenVINO cannot read"):
        OpenVinoBackend(bad)


def test_openvino_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import cartoon_cam.inference.backends as backends

    monkeypatch.setattr(backends, "openvino_installed", lambda: False)
    with pytest.raises(BackendError, match=r"cartoon-cam\[openvino\]"):
        create_backend(load_style("hayao_lite"), backend="openvino")
    with create_backend(load_style("hayao_lite")) as b:  # auto: ONNX Runtime, no probe
        assert b.name == "onnxruntime" and b.choice is None
