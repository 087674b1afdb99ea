"""Shared fixtures. Qt runs offscreen; every test gets its own user-data folder."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


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


@pytest.fixture
def astronaut() -> np.ndarray:
    """The astronaut test photo, uint8 RGB 512x512x3."""
    import cv2

    bgr = cv2.imread(str(shared_path("photos", "test", "astronaut.png")))
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def torch_threads() -> None:
    import torch

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
