"""The double-click app: build the PyInstaller bundle, run the frozen --self-test and a window
screenshot offscreen (about a minute on the 2-core CI machine)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow


def test_frozen_app_self_test_and_screenshot(tmp_path: Path) -> None:
    pytest.importorskip("PyInstaller", reason="the dev extra (PyInstaller) is part of the README setup")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    r = subprocess.run([sys.executable, str(REPO / "packaging" / "build.py"), "--smoke",
                        "--dist", str(tmp_path / "dist"), "--work", str(tmp_path / "work")],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    assert "self-test passed" in out
    assert "torch not bundled" in out  # every shipped style runs through ONNX Runtime / OpenCV
    assert "first cartoon frame shown" in out
    exe = tmp_path / "dist" / "cartoon-cam" / ("cartoon-cam.exe" if sys.platform == "win32" else "cartoon-cam")
    assert exe.is_file()
    assert (tmp_path / "dist" / "cartoon-cam" / "_internal" / "resources" / "styles" / "classic.json").is_file()
    assert (tmp_path / "work" / "frozen_screenshot.png").stat().st_size > 10_000
