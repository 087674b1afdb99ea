"""Shared fixtures. Qt runs offscreen; the whole session runs in a sandbox HOME (set here, at
import time, before any fixture or test module runs — module- and session-scoped fixtures
included); every test gets its own user-data folder; a test that leaves one of the app's threads
(all named ``cartoon_cam-*``) running fails; and the session fails when anything under the real
user folders changed."""

from __future__ import annotations

import contextlib
import enum
import os
import sys
import tempfile
import threading
import time
import types
from collections.abc import Iterator

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

from pathlib import Path  # noqa: E402

import platformdirs  # noqa: E402

#: The real user folders the app writes to, computed from the real environment *before* it is
#: replaced below: the session fails if anything under them changes.
REAL_USER_DIRS: tuple[Path, ...] = tuple(dict.fromkeys(Path(p) for p in (
    platformdirs.user_cache_dir("cartoon_cam", appauthor=False),
    platformdirs.user_data_dir("cartoon_cam", appauthor=False),
    platformdirs.user_config_dir("cartoon_cam", appauthor=False),
    platformdirs.user_state_dir("cartoon_cam", appauthor=False),  # the log folder is inside
    platformdirs.user_log_dir("cartoon_cam", appauthor=False),
    Path(platformdirs.user_pictures_dir()) / "cartoon_cam",
    Path(platformdirs.user_videos_dir()) / "cartoon_cam",
)))
SANDBOX = Path(tempfile.mkdtemp(prefix="cartoon_cam-tests-"))
_SANDBOX_ENV = {
    "HOME": SANDBOX / "home",
    "USERPROFILE": SANDBOX / "home",  # Windows' Path.home()
    "XDG_CONFIG_HOME": SANDBOX / "config",
    "XDG_CACHE_HOME": SANDBOX / "cache",
    "XDG_DATA_HOME": SANDBOX / "data",
    "XDG_STATE_HOME": SANDBOX / "state",
    "XDG_PICTURES_DIR": SANDBOX / "home" / "Pictures",
    "XDG_VIDEOS_DIR": SANDBOX / "home" / "Videos",
    "CARTOON_CAM_DATA_DIR": SANDBOX / "data" / "cartoon_cam",
    "CARTOON_CAM_LOG_DIR": SANDBOX / "state" / "cartoon_cam" / "log",
}
for _k, _v in _SANDBOX_ENV.items():
    _v.mkdir(parents=True, exist_ok=True)
    os.environ[_k] = str(_v)


def folder_fingerprint(folders: tuple[Path, ...] | list[Path]) -> dict[str, tuple[int, int]]:
    """``{path: (size, mtime_ns)}`` of every file and folder under ``folders`` (absent: nothing)."""
    out: dict[str, tuple[int, int]] = {}
    for root in folders:
        if not root.exists():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            for name in [*dirnames, *filenames, ""]:
                p = Path(dirpath) / name
                try:
                    st = p.lstat()
                except OSError:
                    continue
                out[str(p)] = (st.st_size if name in filenames else 0, st.st_mtime_ns)
    return out


_REAL_BEFORE = folder_fingerprint(REAL_USER_DIRS)

# before any test makes Qt calls: PySide6 6.12.0's refcount bugs would otherwise accumulate
# (no PySide6: the Qt tests skip themselves)
with contextlib.suppress(ImportError):
    import cartoon_cam.ui.qt_compat  # noqa: F401


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when a test changed anything under the real user folders."""
    after = folder_fingerprint(REAL_USER_DIRS)
    changed = sorted(k for k in set(_REAL_BEFORE) | set(after) if _REAL_BEFORE.get(k) != after.get(k))
    if changed:
        sys.stderr.write("\nFAILED: the test run changed the real user folders:\n  "
                         + "\n  ".join(changed[:20]) + ("\n  …" if len(changed) > 20 else "") + "\n")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED

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
