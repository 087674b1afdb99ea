"""Layering: the import contracts in pyproject.toml ``[tool.importlinter]`` hold (PySide6 only in
``cartoon_cam.ui``; ui | commands → media → outputs → core → inference; ``training`` uses
``cartoon_cam.inference`` and never the reverse; the app never imports ``training``).

import-linter sees every static import: absolute, relative, inside functions and under
``TYPE_CHECKING``. Dynamic imports (``importlib.import_module`` / ``__import__``) it cannot see:
those are listed here one by one, and the Qt-free packages are also imported for real in a fresh
interpreter to show that none of them loads Qt.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("cartoon_cam", "training")
QT_FREE = ("cartoon_cam.core", "cartoon_cam.inference", "cartoon_cam.outputs", "cartoon_cam.media")

#: Every dynamic import in the code (file, enclosing function) and why it is fine.
DYNAMIC_IMPORTS = {
    ("cartoon_cam/commands/__init__.py", "discover"): "imports its own subcommand modules",
    ("cartoon_cam/selftest.py", "_versions"): "reads versions (PySide6's too) for --self-test's report",
}

pytest.importorskip("importlinter", reason="import-linter is in the dev extra (pip install -e '.[dev]')")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter with ``root``'s pyproject.toml on the packages in ``root``."""
    code = ("import sys\nfrom importlinter.cli import lint_imports\n"
            "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))\n")
    return subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300)


def test_the_import_contracts_hold() -> None:
    r = _lint(REPO)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert " 0 broken" in r.stdout and "BROKEN" not in r.stdout, r.stdout[-2000:]


@pytest.fixture(scope="module")
def copy_of_the_code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("layering")
    for pkg in PACKAGES:
        shutil.copytree(REPO / pkg, root / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.mark.parametrize(("path", "line", "contract"), [
    # a relative import upward: outputs -> ui (the layering test before import-linter missed it)
    ("cartoon_cam/outputs/compose.py", "from ..ui.qt_compat import emit\n", "Layers"),
    # Qt imported inside a function of the Qt-free core
    ("cartoon_cam/core/frames.py", "def _f():\n    from PySide6 import QtCore\n", "PySide6 only in cartoon_cam.ui"),
    # the app importing training
    ("cartoon_cam/inference/registry.py", "import training.losses\n", "The app never imports training"),
    # inference -> core (down the layers the wrong way) under TYPE_CHECKING
    ("cartoon_cam/inference/style.py",
     "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..core.pipeline import Pipeline\n", "Layers"),
    # the import cycle issue 15 removed: backends resolving styles through the catalog
    ("cartoon_cam/inference/backends/__init__.py", "def _f():\n    from ..catalog import load_style\n",
     "backends never resolve styles"),
    # training reaching into the window
    ("training/losses.py", "from cartoon_cam.ui import images\n", "training may import"),
])
def test_a_forbidden_import_breaks_a_contract(copy_of_the_code: Path, path: str, line: str, contract: str) -> None:
    f = copy_of_the_code / path
    original = f.read_text(encoding="utf-8")
    try:
        f.write_text(original + "\n\n" + line, encoding="utf-8")
        r = _lint(copy_of_the_code)
    finally:
        f.write_text(original, encoding="utf-8")
    assert r.returncode != 0, r.stdout[-3000:]
    broken = r.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, r.stdout[-3000:]


def _dynamic_imports() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for pkg in PACKAGES:
        for f in sorted((REPO / pkg).rglob("*.py")):
            tree = ast.parse(f.read_text(encoding="utf-8"))
            for fn in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)] + [tree]:
                for node in ast.walk(fn):
                    if not isinstance(node, ast.Call):
                        continue
                    func = node.func
                    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                    if name in ("import_module", "__import__"):
                        found.add((f.relative_to(REPO).as_posix(), getattr(fn, "name", "<module>")))
    # a call inside a function is also seen from the module: keep the innermost place only
    inner = {f for f, n in found if n != "<module>"}
    return {(f, n) for f, n in found if n != "<module>" or f not in inner}


def test_every_dynamic_import_is_reviewed() -> None:
    """import-linter cannot see ``importlib.import_module(...)`` / ``__import__(...)``: a new one
    must be added to :data:`DYNAMIC_IMPORTS` with the reason it keeps to the layers."""
    assert _dynamic_imports() == set(DYNAMIC_IMPORTS)


def _modules_under(pkg: str) -> list[str]:
    root = REPO.joinpath(*pkg.split("."))
    out = []
    for f in sorted(root.rglob("*.py")):
        parts = list(f.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append(".".join(parts))
    return out


@pytest.mark.parametrize("pkg", [*QT_FREE, "cartoon_cam.app", "cartoon_cam.cli", "cartoon_cam.settings"])
def test_qt_free_packages_import_no_qt(pkg: str) -> None:
    """Import every module of ``pkg`` in a fresh interpreter; PySide6 must not be loaded (this
    also catches a dynamic import at import time)."""
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
