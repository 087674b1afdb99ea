"""The test session never touches the user's real folders: HOME, the XDG folders and platformdirs
point into a sandbox from the moment conftest is imported (before any fixture, module- or
session-scoped, runs), and the session fails when something under the real folders changed."""

from __future__ import annotations

from pathlib import Path

import platformdirs
from conftest import REAL_USER_DIRS, SANDBOX, folder_fingerprint

from cartoon_cam import paths
from cartoon_cam.logs import log_file


def _inside(p: str | Path, root: Path) -> bool:
    return Path(p).resolve().is_relative_to(root.resolve())


def test_every_user_folder_the_app_uses_is_in_the_sandbox(tmp_path: Path) -> None:
    import tempfile

    tmp_root = Path(tempfile.gettempdir())
    for p in (Path.home(), platformdirs.user_cache_dir("cartoon_cam"), platformdirs.user_config_dir("cartoon_cam"),
              platformdirs.user_data_dir("cartoon_cam"), platformdirs.user_log_dir("cartoon_cam"),
              paths.user_data_dir(), paths.user_pictures_dir(), paths.user_videos_dir(), paths.user_log_dir(),
              log_file()):
        assert _inside(p, SANDBOX) or _inside(p, tmp_root), p
        assert not any(_inside(p, real) for real in REAL_USER_DIRS), p


def test_the_export_cache_is_not_the_real_one() -> None:
    """The 178 MB of ONNX exports once went to the real ~/.cache/cartoon_cam."""
    from cartoon_cam.inference.backends import onnx_backend

    p = onnx_backend._cache_dir()
    assert not any(_inside(p, real) for real in REAL_USER_DIRS), p


def test_the_fingerprint_sees_a_change(tmp_path: Path) -> None:
    """The end-of-session check (``pytest_sessionfinish``) compares these fingerprints."""
    root = tmp_path / "real"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.onnx").write_bytes(b"x")
    before = folder_fingerprint([root])
    assert folder_fingerprint([root]) == before
    (root / "sub" / "b.onnx").write_bytes(b"y")
    assert folder_fingerprint([root]) != before
    before = folder_fingerprint([root])
    (root / "sub" / "a.onnx").write_bytes(b"longer")
    assert folder_fingerprint([root]) != before
    assert folder_fingerprint([tmp_path / "absent"]) == {}
