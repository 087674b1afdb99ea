"""Logging for every command (no Qt): messages on stderr, a rotating log file and crash dumps in
the user log folder (:func:`cartoon_cam.paths.user_log_dir`), so a user can send us what happened.

* ``cartoon_cam.log`` (rotated at 1 MB, 3 old files kept): INFO and above from every run, with the
  time, thread and logger, plus the version and command line at the start of each run.
* ``crash.log``: :mod:`faulthandler` writes the Python stack of every thread there when the process
  dies of a fatal signal or a fatal Python error (SIGSEGV, SIGABRT, "Fatal Python error: …"). Each
  run adds a header line first, so a dump can be matched with its run. When ``PYTHONFAULTHANDLER``
  is set (or ``python -X faulthandler``), the dump goes to stderr as Python does by default.

A log folder that cannot be written is not an error: the run goes on with stderr only.
"""

from __future__ import annotations

import faulthandler
import logging
import logging.handlers
import os
import sys
import time
from pathlib import Path
from typing import IO

from . import __version__
from .paths import user_log_dir

LOG_NAME = "cartoon_cam.log"
CRASH_NAME = "crash.log"
MAX_BYTES = 1_000_000
BACKUPS = 3
_FORMAT = "%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s"

_state: dict[str, object] = {}

#: ``log.error(..., exc_info=True, extra=FILE_ONLY)``: goes to the log file, not to stderr (where
#: the user already got one line).
FILE_ONLY = {"file_only": True}


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (tests and embedders replace it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.addFilter(lambda record: not getattr(record, "file_only", False))

    @property  # type: ignore[override]
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, _value: IO[str]) -> None:
        pass


def log_file() -> Path:
    """The current log file's path (it may not exist yet)."""
    return user_log_dir() / LOG_NAME


def setup_logging(debug: bool = False, argv: list[str] | None = None, verbosity: int = 0) -> Path | None:
    """Configure logging for this process (idempotent: a second call only changes the levels).

    stderr gets WARNING and above — ERROR only with ``verbosity`` -1 (``--quiet``), INFO with 1
    (``-v``), DEBUG with 2 or ``debug`` — in the one-line ``LEVEL name: message`` form; the log file
    gets INFO and above (DEBUG with ``debug``). Returns the log file's path, or ``None`` when the
    folder cannot be written.
    """
    root = logging.getLogger()
    stderr_level = (logging.DEBUG if debug or verbosity >= 2 else logging.INFO if verbosity == 1
                    else logging.ERROR if verbosity < 0 else logging.WARNING)
    file_level = logging.DEBUG if debug else logging.INFO
    handler = _state.get("stderr")
    if handler is None:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        _state["stderr"] = handler
    handler.setLevel(stderr_level)  # type: ignore[attr-defined]
    path = _file_handler(file_level)
    root.setLevel(min(stderr_level, file_level) if path else stderr_level)
    _enable_faulthandler()
    logging.getLogger("cartoon_cam").info("cartoon-cam %s (Python %s, pid %d): %s", __version__,
                                          sys.version.split()[0], os.getpid(),
                                          " ".join(argv if argv is not None else sys.argv[1:]) or "(window)")
    return path


def _file_handler(level: int) -> Path | None:
    path = log_file()
    fh = _state.get("file")
    if fh is not None and _state.get("file_path") == path:
        fh.setLevel(level)  # type: ignore[attr-defined]
        return path
    if fh is not None:  # the log folder changed (tests): move to the new one
        logging.getLogger().removeHandler(fh)  # type: ignore[arg-type]
        fh.close()  # type: ignore[attr-defined]
        _state.pop("file", None)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = logging.handlers.RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS,
                                                  encoding="utf-8", delay=True)
    except OSError:
        return None
    fh.setFormatter(logging.Formatter(_FORMAT))
    fh.setLevel(level)
    logging.getLogger().addHandler(fh)
    _state["file"], _state["file_path"] = fh, path
    return path


def _enable_faulthandler() -> None:
    """Dump every thread's stack on a fatal error: to ``crash.log``, or to stderr when the user
    already asked Python for that (``PYTHONFAULTHANDLER`` / ``-X faulthandler``)."""
    if os.environ.get("PYTHONFAULTHANDLER") or "faulthandler" in getattr(sys, "_xoptions", {}):
        faulthandler.enable(all_threads=True)
        return
    path = user_log_dir() / CRASH_NAME
    fh: IO[str] | None = _state.get("crash")  # type: ignore[assignment]
    if fh is not None and _state.get("crash_path") == path:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_file() and path.stat().st_size > MAX_BYTES:
            os.replace(path, path.with_name(CRASH_NAME + ".1"))
        new = open(path, "a", encoding="utf-8")  # noqa: SIM115 - must stay open for faulthandler
    except OSError:
        faulthandler.enable(all_threads=True)  # stderr, better than nothing
        return
    new.write(f"--- cartoon-cam {__version__} pid {os.getpid()} started "
              f"{time.strftime('%Y-%m-%d %H:%M:%S')}: {' '.join(sys.argv)}\n")
    new.flush()
    faulthandler.enable(file=new, all_threads=True)
    if fh is not None:
        fh.close()
    _state["crash"], _state["crash_path"] = new, path


__all__ = ["FILE_ONLY", "BACKUPS", "CRASH_NAME", "LOG_NAME", "MAX_BYTES", "log_file", "setup_logging"]
