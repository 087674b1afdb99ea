"""All filesystem locations in one place.

``resources/`` lives at the top of the source tree (beside the package). It is found in the source
tree / editable install, in a wheel install (``<prefix>/share/cartoon_cam/resources``, or the user
base for ``pip install --user``), and in a
PyInstaller bundle (``sys._MEIPASS/resources``). User files go where platformdirs says.
"""

from __future__ import annotations

import os
import site
import sys
from functools import cache
from pathlib import Path

APP_NAME = "cartoon_cam"
_ENV_RESOURCES = "CARTOON_CAM_RESOURCES"
_ENV_DATA = "CARTOON_CAM_DATA_DIR"


def _candidates() -> list[Path]:
    out: list[Path] = []
    env = os.environ.get(_ENV_RESOURCES)
    if env:
        out.append(Path(env))
    meipass = getattr(sys, "_MEIPASS", None)
    if meipass:
        out.append(Path(meipass) / "resources")
    out.append(Path(__file__).resolve().parent.parent / "resources")  # source tree / editable
    out.append(Path(sys.prefix) / "share" / APP_NAME / "resources")  # wheel data files
    out.append(Path(site.getuserbase()) / "share" / APP_NAME / "resources")  # pip install --user
    return out


@cache
def resources_dir() -> Path:
    """The directory holding built-in styles and demo pictures."""
    for c in _candidates():
        if (c / "styles").is_dir():
            return c
    tried = ", ".join(str(c) for c in _candidates())
    raise FileNotFoundError(f"cartoon_cam resources not found (looked in {tried})")


def builtin_styles_dir() -> Path:
    return resources_dir() / "styles"


def user_data_dir() -> Path:
    """Per-user data (imported styles). Override with ``CARTOON_CAM_DATA_DIR`` (tests)."""
    env = os.environ.get(_ENV_DATA)
    if env:
        return Path(env)
    import platformdirs  # here, not at the top: a headless GPU box running training/ may lack it

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def user_styles_dir() -> Path:
    return user_data_dir() / "styles"


def user_pictures_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_pictures_dir()) / APP_NAME


def user_videos_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_videos_dir()) / APP_NAME


def user_cache_dir() -> Path:
    """Per-user cache (exported graphs, backend choices): safe to delete, rebuilt on demand. Tests
    isolate it with ``XDG_CACHE_HOME``. Works without platformdirs (the GPU run's bare machine)."""
    try:
        import platformdirs
    except ImportError:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / APP_NAME
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


_ENV_LOG = "CARTOON_CAM_LOG_DIR"


def user_log_dir() -> Path:
    """Where the log file and crash dumps go (``~/.local/state/cartoon_cam/log`` on Linux,
    ``%LOCALAPPDATA%\\cartoon_cam\\Logs`` on Windows, ``~/Library/Logs/cartoon_cam`` on macOS).
    Override with ``CARTOON_CAM_LOG_DIR``."""
    env = os.environ.get(_ENV_LOG)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))
