"""Start-up and exit: arguments are checked before Qt starts; a missing display or missing X11
libraries is one line naming the fix (never SIGABRT); faulthandler and the rotating log file are on
for every run, in the user log folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cartoon_cam.app import XCB_LIBRARIES, display_problem

REPO = Path(__file__).resolve().parents[1]


def test_display_problem_cases() -> None:
    ok = lambda _name: True  # noqa: E731
    none = lambda _name: False  # noqa: E731
    assert display_problem({}, "win32") is None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux", none) is None
    assert "cartoon-cam live" in display_problem({}, "linux", ok)
    assert "DISPLAY" in display_problem({"QT_QPA_PLATFORM": "xcb"}, "linux", ok)
    assert display_problem({"DISPLAY": ":0"}, "linux", ok) is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux", none) is None
    msg = display_problem({"DISPLAY": ":0"}, "linux", lambda n: n != "libxcb-cursor.so.0")
    assert msg is not None and "libxcb-cursor0" in msg and "sudo apt install" in msg
    assert "libxcb-icccm4" not in msg  # only what is missing
    assert set(XCB_LIBRARIES.values()) >= {"libxcb-cursor0", "libxkbcommon-x11-0"}


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    e = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    e.update(env)
    return subprocess.run([sys.executable, "-m", "cartoon_cam", *args], cwd=REPO, env=e,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux display detection")
def test_no_display_is_one_line_not_sigabrt() -> None:
    r = _run(["--source", "demo", "--style", "classic"])
    assert r.returncode == 1, (r.returncode, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("cartoon-cam: error: the window needs a display")
    assert "cartoon-cam live" in lines[0]
    r = _run(["--source", "demo"], QT_QPA_PLATFORM="xcb")
    assert r.returncode == 1 and "DISPLAY is not set" in r.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux display detection")
def test_arguments_are_checked_before_qt_starts() -> None:
    r = _run(["--style", "nosuch"])  # no display either: the argument error comes first
    assert r.returncode == 2 and "unknown style 'nosuch'" in r.stderr, r.stderr
    r = _run(["--size", "99999"])
    assert r.returncode == 2 and "2048" in r.stderr
    r = _run(["--source", "/no/such/file.mp4"])
    assert r.returncode == 2 and "--source" in r.stderr


def test_every_run_logs_to_the_user_log_folder(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    r = _run(["styles", "list"], CARTOON_CAM_LOG_DIR=str(logs))
    assert r.returncode == 0, r.stderr
    text = (logs / "cartoon_cam.log").read_text()
    assert "cartoon-cam" in text and "styles list" in text
    assert (logs / "crash.log").is_file()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGSEGV")
def test_a_fatal_error_leaves_a_crash_dump(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    code = ("import sys; from cartoon_cam.logs import setup_logging; setup_logging(argv=['crash-test']); "
            "import faulthandler; faulthandler._sigsegv()")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONFAULTHANDLER"}
    env["CARTOON_CAM_LOG_DIR"] = str(logs)
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    dump = (logs / "crash.log").read_text()
    assert "Fatal Python error" in dump and "Segmentation fault" in dump


def test_the_log_file_rotates(tmp_path: Path, monkeypatch) -> None:
    import logging

    from cartoon_cam import logs

    monkeypatch.setenv("CARTOON_CAM_LOG_DIR", str(tmp_path))
    monkeypatch.setattr(logs, "MAX_BYTES", 2000)
    handler = logs._state.pop("file", None)
    path = logs._state.pop("file_path", None)
    try:
        logs.setup_logging()
        log = logging.getLogger("cartoon_cam.test")
        for i in range(200):
            log.info("line %d %s", i, "x" * 50)
        assert (tmp_path / "cartoon_cam.log.1").is_file()
        assert len(list(tmp_path.glob("cartoon_cam.log*"))) <= 1 + logs.BACKUPS
    finally:
        fh = logs._state.pop("file", None)
        if fh is not None:
            logging.getLogger().removeHandler(fh)
            fh.close()
        if handler is not None:
            logs._state["file"], logs._state["file_path"] = handler, path
