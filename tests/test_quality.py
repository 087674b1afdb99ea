"""Repository hygiene that CI enforces: lint, and no third-party weights in the tree."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys

import pytest
from conftest import REPO, SHARED


def test_ruff_clean() -> None:
    ruff = shutil.which("ruff") or str(__import__("pathlib").Path(sys.executable).with_name("ruff"))
    if not __import__("pathlib").Path(ruff).exists():
        pytest.fail("ruff is not installed: use the README's setup command (the dev extra)")
    r = subprocess.run([ruff, "check", "--no-cache", "."], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_no_third_party_model_in_repository() -> None:
    if not (SHARED / "models").is_dir():
        pytest.skip("../shared/models not present")
    ref = {hashlib.sha256(p.read_bytes()).hexdigest() for p in (SHARED / "models").rglob("*")
           if p.is_file() and p.stat().st_size > 100_000}
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True).stdout.split()
    for f in files:
        p = REPO / f
        if p.is_file() and p.stat().st_size > 100_000:
            assert hashlib.sha256(p.read_bytes()).hexdigest() not in ref, f"{f} is a copy of a third-party model"
