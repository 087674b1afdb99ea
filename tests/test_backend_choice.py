"""``--backend auto`` on a CPU: the faster graph runtime by a probe, remembered per style, size and
machine. Timings are injected, so these tests check the decision, never the machine's speed."""

from __future__ import annotations

import json

import pytest

import cartoon_cam.inference.backends as backends
from cartoon_cam.inference.backends import choice as ch
from cartoon_cam.inference.backends import create_backend
from cartoon_cam.inference.catalog import load_style

pytest.importorskip("openvino")


@pytest.fixture
def fake_timing(monkeypatch: pytest.MonkeyPatch, tmp_path):  # noqa: ANN201
    """time_backends → the ms in ``fake["ms"]``; counts probes. The cache lives in tmp_path."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fake = {"ms": {"onnx": 20.0, "openvino": 10.0}, "probes": 0, "shapes": []}

    def timed(built, shape, clock=None):  # noqa: ANN001, ANN202
        fake["probes"] += 1
        fake["shapes"].append(shape)
        for b in built.values():
            assert b.process  # real, built backends
        return {k: fake["ms"][k] for k in built}

    monkeypatch.setattr(ch, "time_backends", timed)
    return fake


def test_pick_needs_a_real_margin() -> None:
    assert ch.pick({"onnx": 20.0, "openvino": 10.0}) == "openvino"
    assert ch.pick({"onnx": 20.0, "openvino": 19.5}) == "onnx"  # within 5 %: keep ONNX Runtime
    assert ch.pick({"onnx": 10.0, "openvino": 20.0}) == "onnx"
    assert ch.pick({"openvino": 3.0}) == "openvino"


def test_auto_runs_the_faster_runtime_and_remembers(fake_timing) -> None:  # noqa: ANN001
    st = load_style("hayao_lite")
    with create_backend(st, size=320) as b:
        assert b.name == "openvino" and not b.choice.cached
        assert b.choice.ms == {"onnx": 20.0, "openvino": 10.0}
        assert b.describe() == "openvino · cpu · fp32 · auto"  # the window's "In use" line
    assert fake_timing["probes"] == 1 and fake_timing["shapes"] == [(180, 320)]
    with create_backend(st, size=320) as b:  # the answer comes from the cache: no probe
        assert b.name == "openvino" and b.choice.cached
    assert fake_timing["probes"] == 1
    fake_timing["ms"] = {"onnx": 10.0, "openvino": 20.0}
    with create_backend(st, size=640) as b:  # another size is another question
        assert b.name == "onnxruntime" and b.choice.kind == "onnx"
    with create_backend(st, size=320, threads=1) as b:  # and so is another thread count
        assert b.name == "onnxruntime"
    assert fake_timing["probes"] == 3
    with create_backend(load_style("shinkai_lite"), size=320) as b:  # and another style
        assert b.name == "onnxruntime"
    assert fake_timing["probes"] == 4


def test_explicit_backends_and_classic_take_no_probe(fake_timing) -> None:  # noqa: ANN001
    with create_backend(load_style("hayao_lite"), backend="onnx") as b:
        assert b.name == "onnxruntime" and b.choice is None and not b.describe().endswith("auto")
    with create_backend(load_style("hayao_lite"), backend="openvino") as b:
        assert b.name == "openvino"
    with create_backend(load_style("classic")) as b:
        assert b.name == "classic"
    assert fake_timing["probes"] == 0


def test_a_broken_cache_costs_a_probe_not_a_crash(fake_timing, tmp_path) -> None:  # noqa: ANN001
    from cartoon_cam.paths import user_cache_dir

    path = user_cache_dir() / ch.CACHE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json", encoding="utf-8")
    with create_backend(load_style("hayao_lite"), size=320) as b:
        assert b.name == "openvino"
    data = json.loads(path.read_text(encoding="utf-8"))  # rewritten whole
    assert [v["kind"] for v in data.values()] == ["openvino"]
    assert fake_timing["probes"] == 1


def test_a_runtime_that_cannot_build_leaves_the_other(fake_timing, monkeypatch) -> None:  # noqa: ANN001
    from cartoon_cam.inference.backends import openvino_backend

    def refuse(*a, **k):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("plugin failed to load")

    monkeypatch.setattr(openvino_backend.OpenVinoBackend, "__init__", refuse)
    with create_backend(load_style("hayao_lite"), size=320) as b:
        assert b.name == "onnxruntime"
    assert fake_timing["probes"] == 0  # one candidate left: nothing to compare


def test_the_real_probe_times_every_candidate() -> None:
    """time_backends itself (no fake): each candidate gets a positive best time."""
    st = load_style("hayao_lite")
    with create_backend(st, backend="onnx") as o, create_backend(st, backend="openvino") as v:
        ms = ch.time_backends({"onnx": o, "openvino": v}, (36, 64))
    assert set(ms) == {"onnx", "openvino"} and all(0 < t < float("inf") for t in ms.values())


def test_unavailable_choices_names_openvino_when_missing(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(backends, "openvino_installed", lambda: False)
    assert "openvino" in backends.unavailable_choices()
