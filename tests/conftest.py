"""Shared fixtures. Qt runs offscreen; every test gets its own user-data folder; a test that leaves
one of the app's threads (all named ``cartoon_cam-*``) running fails."""

from __future__ import annotations

import enum
import os
import sys
import threading
import time
import types
from collections.abc import Iterator

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
THREAD_PREFIX = "cartoon_cam-"
THREAD_GRACE_S = 5.0  # a thread finishing its last frame or file after stop() gets this long


def shared_path(*parts: str) -> Path:
    """A file under ../shared; skip (with the reason) only if the whole folder is absent."""
    p = SHARED.joinpath(*parts)
    if not SHARED.is_dir():
        pytest.skip("../shared (reference models and goldens) is not present")
    assert p.exists(), f"missing reference file {p}"
    return p


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Imported styles, caches and settings go to a fresh temporary folder for each test."""
    d = tmp_path_factory.mktemp("userdata")
    monkeypatch.setenv("CARTOON_CAM_DATA_DIR", str(d))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))  # shared export cache
    monkeypatch.setenv("XDG_CONFIG_HOME", str(d / "config"))
    return d


def app_threads() -> set[threading.Thread]:
    """The app's live threads (every worker thread the package starts is named ``cartoon_cam-*``)."""
    return {t for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX) and t.is_alive()}


@pytest.fixture(autouse=True)
def _no_app_thread_left_running() -> Iterator[None]:
    """Fail a test that leaves a ``cartoon_cam-*`` thread it started running (after a grace join)."""
    before = app_threads()
    yield
    deadline = time.monotonic() + THREAD_GRACE_S
    for t in app_threads() - before:
        t.join(max(0.0, deadline - time.monotonic()))
    left = sorted(t.name for t in app_threads() - before)
    if left:
        pytest.fail(f"threads left running {THREAD_GRACE_S:g} s after the test: {', '.join(left)}")


class FakeVirtualCamera:
    """Stands in for ``pyvirtualcam.Camera``: records its arguments and what it was sent."""

    instances: list[FakeVirtualCamera] = []
    fail: Exception | None = None  # raised by the constructor when set

    def __init__(self, width: int, height: int, fps: float, *, fmt: object = None,
                 device: str | None = None, backend: str | None = None, **kw: object) -> None:
        if FakeVirtualCamera.fail is not None:
            raise FakeVirtualCamera.fail
        self.args = {"width": width, "height": height, "fps": fps, "fmt": fmt, "device": device,
                     "backend": backend, **kw}
        self.device = device or "/dev/fake-vcam"
        self.sent = 0
        self.last: np.ndarray | None = None
        self.times: list[float] = []
        self.closed = 0
        self._lock = threading.Lock()
        FakeVirtualCamera.instances.append(self)

    def send(self, frame: np.ndarray) -> None:
        h, w = self.args["height"], self.args["width"]
        assert frame.dtype == np.uint8 and frame.shape == (h, w, 3) and frame.flags.c_contiguous
        with self._lock:
            self.sent += 1
            self.last = frame.copy()
            self.times.append(time.perf_counter())

    def close(self) -> None:
        self.closed += 1


@pytest.fixture
def fake_pyvirtualcam(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """A fake ``pyvirtualcam`` module in ``sys.modules`` (``Camera`` is :class:`FakeVirtualCamera`)."""

    class PixelFormat(enum.Enum):
        RGB = "24BG"
        BGR = "BGR3"

    mod = types.ModuleType("pyvirtualcam")
    mod.PixelFormat = PixelFormat  # type: ignore[attr-defined]
    mod.Camera = FakeVirtualCamera  # type: ignore[attr-defined]
    monkeypatch.setattr(FakeVirtualCamera, "instances", [])
    monkeypatch.setattr(FakeVirtualCamera, "fail", None)
    monkeypatch.setitem(sys.modules, "pyvirtualcam", mod)
    return mod


@pytest.fixture
def astronaut() -> np.ndarray:
    """The astronaut test photo, uint8 RGB 512x512x3."""
    import cv2

    bgr = cv2.imread(str(shared_path("photos", "test", "astronaut.png")))
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def torch_threads() -> None:
    import torch

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
