"""The one resource resolver: source tree, PyInstaller bundle and a real wheel install."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
from conftest import REPO

from cartoon_cam import paths


def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    paths.resources_dir.cache_clear()
    monkeypatch.delenv("CARTOON_CAM_RESOURCES", raising=False)


def test_source_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    _fresh(monkeypatch)
    assert paths.resources_dir() == REPO / "resources"
    assert (paths.builtin_styles_dir() / "classic.json").is_file()
    paths.resources_dir.cache_clear()


def test_pyinstaller_bundle_wins_over_the_source_tree(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fresh(monkeypatch)
    (tmp_path / "resources" / "styles").mkdir(parents=True)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert paths.resources_dir() == tmp_path / "resources"
    paths.resources_dir.cache_clear()


def test_missing_resources_name_every_place_looked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fresh(monkeypatch)
    monkeypatch.setattr(paths, "_candidates", lambda: [tmp_path / "a", tmp_path / "b"])
    with pytest.raises(FileNotFoundError, match="looked in .*a, .*b"):
        paths.resources_dir()
    paths.resources_dir.cache_clear()


@pytest.mark.slow
def test_wheel_install_finds_its_resources(tmp_path: Path) -> None:
    """Build the wheel, install it (no deps) into a new venv that borrows this venv's packages, and
    check the installed package finds the styles and demo pictures under its own prefix."""
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(REPO)], check=True, capture_output=True)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    py = env_dir / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    site_new = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                   check=True, capture_output=True, text=True).stdout.strip())
    # pip runs *against the new venv* (never --prefix from this one: that uninstalls the checkout's
    # editable install here); --ignore-installed so it never touches another environment
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps",
                    "--no-index", "--ignore-installed", *map(str, wheels.glob("*.whl"))],
                   check=True, capture_output=True)
    # dependencies come from this venv, appended *after* the new site-packages (no .pth processing,
    # so the editable install of the checkout is not seen)
    (site_new / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    code = ("import cartoon_cam, cartoon_cam.paths as p; r = p.resources_dir(); "
            "print(cartoon_cam.__file__); print(r); print(sorted(x.name for x in (r / 'styles').iterdir())); "
            "print(sorted(x.name for x in (r / 'demo').iterdir()))")
    out = subprocess.run([str(py), "-c", code], check=True, capture_output=True, text=True,
                         cwd=tmp_path).stdout.splitlines()
    assert Path(out[0]).is_relative_to(env_dir), out  # the installed copy, not the checkout
    assert Path(out[1]) == env_dir / "share" / "cartoon_cam" / "resources"
    assert "classic.json" in out[2]
    assert "astronaut.jpg" in out[3]
    # and this environment's install of the checkout is untouched
    check = subprocess.run([sys.executable, "-c", "import cartoon_cam; print(cartoon_cam.__file__)"],
                           check=True, capture_output=True, text=True, cwd=tmp_path).stdout
    assert Path(check.strip()).is_relative_to(REPO)
