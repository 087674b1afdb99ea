"""The one rule for every file cartoon_cam writes (no Qt).

* An output is never one of the inputs (compared by resolved path and, when both exist, by inode:
  hard links and symlinks are the same file).
* An existing output is not replaced unless the user said so (``--overwrite``); the window never
  needs to, it names new files uniquely (:func:`unique_path`).
* Files get the usual permissions: ``0666`` less the umask (``mkstemp`` alone gives ``0600``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from .errors import InputError, OutputError

OVERWRITE_FLAG = "--overwrite"


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True when ``a`` and ``b`` name the same file (resolved paths, or one inode)."""
    pa, pb = Path(a).expanduser(), Path(b).expanduser()
    try:
        if pa.resolve() == pb.resolve():
            return True
    except (OSError, RuntimeError):
        pass
    try:
        return pa.exists() and pb.exists() and os.path.samefile(pa, pb)
    except OSError:
        return False


def check_output(path: str | os.PathLike[str], *, inputs: Iterable[str | os.PathLike[str]] = (),
                 overwrite: bool = False, what: str = "output") -> Path:
    """Check that ``path`` may be written: not one of ``inputs``, not an existing folder, and not an
    existing file unless ``overwrite``. Returns ``path`` as a :class:`Path`; raises
    :class:`~cartoon_cam.errors.InputError` (exit status 2) with the reason otherwise."""
    p = Path(path).expanduser()
    for src in inputs:
        if same_file(p, src):
            raise InputError(f"{what} {p} is the input {src}: refusing to write over an input")
    if p.is_dir():
        raise InputError(f"{what} {p} is a folder")
    if (p.exists() or p.is_symlink()) and not overwrite:
        raise InputError(f"{what} {p} exists (use {OVERWRITE_FLAG} to replace it)")
    return p


def unique_path(path: str | os.PathLike[str]) -> Path:
    """``path`` if nothing is there, else ``stem-2.ext``, ``stem-3.ext``… (the first free name)."""
    p = Path(path)
    n = 1
    out = p
    while out.exists() or out.is_symlink():
        n += 1
        out = p.with_name(f"{p.stem}-{n}{p.suffix}")
    return out


def current_umask() -> int:
    """The process umask (read without changing it for longer than two calls)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give a new file: ``0o666 & ~umask``."""
    return 0o666 & ~current_umask()


def apply_umask(path: str | os.PathLike[str]) -> None:
    """Give a file made by ``mkstemp`` (mode 0600) the usual permissions (:func:`file_mode`)."""
    os.chmod(path, file_mode())


__all__ = ["OVERWRITE_FLAG", "apply_umask", "check_output", "current_umask", "file_mode", "same_file",
           "unique_path"]


def writable_folder(path: str | os.PathLike[str], what: str = "folder") -> Path:
    """Make sure ``path`` is a folder files can be written to: created (with its parents) when
    missing, then tried with a temporary file. Returns the absolute folder; raises
    :class:`~cartoon_cam.errors.OutputError` with a sentence for the user otherwise (a relative
    path, a file in the way, no permission, a read-only disk)."""
    text = str(path).strip()
    if not text:
        raise OutputError(f"The {what} is empty: choose a folder.")
    p = Path(text).expanduser()
    if not p.is_absolute():
        raise OutputError(f"The {what} {text!r} is not a full path: start it with {Path.home().anchor} or ~.")
    if p.exists() and not p.is_dir():
        raise OutputError(f"The {what} {p} is a file, not a folder.")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"The {what} {p} cannot be created ({e.strerror or e}).") from None
    try:
        with tempfile.TemporaryFile(dir=p):
            pass
    except OSError as e:
        raise OutputError(f"The {what} {p} is not writable ({e.strerror or e}).") from None
    return p
