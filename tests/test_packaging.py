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


@pytest.mark.timeout(900)
def test_frozen_app_self_test_and_screenshot(tmp_path: Path) -> None:
    pytest.importorskip("PyInstaller", reason="the dev extra (PyInstaller) is part of the README setup")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    r = subprocess.run([sys.executable, str(REPO / "packaging" / "build.py"), "--smoke",
                        "--dist", str(tmp_path / "dist"), "--work", str(tmp_path / "work")],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    assert "self-test passed" in out
    assert "onnxruntime check: 255 - x graph on CPUExecutionProvider: ok" in out  # ORT runs frozen
    assert "torch not bundled" in out  # every shipped style runs through ONNX Runtime / OpenCV
    assert "first cartoon frame shown" in out
    exe = tmp_path / "dist" / "cartoon-cam" / ("cartoon-cam.exe" if sys.platform == "win32" else "cartoon-cam")
    assert exe.is_file()
    assert (tmp_path / "dist" / "cartoon-cam" / "_internal" / "resources" / "styles" / "classic.json").is_file()
    assert (tmp_path / "work" / "frozen_screenshot.png").stat().st_size > 10_000


def _load_build_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("cc_build", REPO / "packaging" / "build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_windows_version_file_is_valid(tmp_path: Path) -> None:
    """The VSVersionInfo text PyInstaller reads on Windows: evaluated with recording stand-ins for
    PyInstaller's classes (the real ones need pefile, a Windows-only dependency)."""
    build = _load_build_module()
    build.set_dirs(tmp_path / "dist", tmp_path / "work")
    text = build.windows_version_file("1.2.3").read_text(encoding="utf-8")

    def rec(name):
        return lambda *a, **k: (name, a, k)

    names = ["VSVersionInfo", "FixedFileInfo", "StringFileInfo", "StringTable", "StringStruct",
             "VarFileInfo", "VarStruct"]
    info = eval(text, {n: rec(n) for n in names})  # noqa: S307 - our own generated text
    assert info[0] == "VSVersionInfo"
    ffi = info[2]["ffi"][2]
    assert ffi["filevers"] == (1, 2, 3, 0) and ffi["prodvers"] == (1, 2, 3, 0)
    strings = {s[1][0]: s[1][1] for s in info[2]["kids"][0][1][0][0][1][1]}
    assert strings["ProductVersion"] == "1.2.3" and strings["OriginalFilename"] == "cartoon-cam.exe"


def test_variant_folders_and_cpu_build_refuses_onnxruntime_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    build = _load_build_module()
    assert build.bundle_name("cpu") == "cartoon-cam" and build.bundle_name("gpu") == "cartoon-cam-gpu"
    import onnxruntime as ort

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    with pytest.raises(SystemExit, match="onnxruntime-gpu is installed"):
        build.check_variant("cpu")
    build.check_variant("gpu")  # fine
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    with pytest.raises(SystemExit, match="needs onnxruntime-gpu"):
        build.check_variant("gpu")
