"""Layering: the Qt-free core never pulls in PySide6, and the app never imports ``training``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "cartoon_cam"
QT_FREE = ("cartoon_cam.core", "cartoon_cam.inference", "cartoon_cam.outputs")


def _modules_under(pkg: str) -> list[str]:
    root = REPO.joinpath(*pkg.split("."))
    out = []
    for f in sorted(root.rglob("*.py")):
        rel = f.relative_to(REPO).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append(".".join(parts))
    return out


@pytest.mark.parametrize("pkg", [*QT_FREE, "cartoon_cam.app", "cartoon_cam.cli"])
def test_qt_free_packages_import_no_qt(pkg: str) -> None:
    """Import every module of ``pkg`` in a fresh interpreter; PySide6 must not be loaded."""
    mods = _modules_under(pkg) if REPO.joinpath(*pkg.split(".")).is_dir() else [pkg]
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}:\n"
        "    importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m == 'PySide6' or m.startswith(('PySide6.', 'shiboken')))\n"
        "print(','.join(bad))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "", f"{pkg} pulled in {r.stdout.strip()}"


def test_only_ui_imports_qt_statically() -> None:
    offenders = []
    for f in PACKAGE.rglob("*.py"):
        if f.relative_to(PACKAGE).parts[0] == "ui":
            continue
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            # app.py (the composition root) may import Qt inside functions: checked at runtime above
            if f.name != "app.py" and any(n.split(".")[0] in ("PySide6", "PyQt5", "PyQt6", "shiboken6") for n in names):
                offenders.append(f"{f.relative_to(REPO)}:{node.lineno}")
    assert not offenders, offenders


def test_app_never_imports_training() -> None:
    offenders = []
    for f in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            if any(n == "training" or n.startswith("training.") for n in names):
                offenders.append(f"{f.relative_to(REPO)}:{node.lineno}")
    assert not offenders, offenders
