"""Entry point of the frozen app: the same CLI as ``cartoon-cam`` (no arguments → the window)."""

import multiprocessing
import sys


def _attach_windows_console() -> None:
    """The Windows exe is a GUI app (no console window). When it is started from a terminal with
    arguments (``--self-test``, ``convert``, ``styles list``, …), write to that terminal instead of
    nowhere (``sys.stdout`` is None in a windowed exe)."""
    import ctypes

    if ctypes.windll.kernel32.AttachConsole(-1):  # ATTACH_PARENT_PROCESS
        sys.stdout = open("CONOUT$", "w", encoding="utf-8", errors="replace", buffering=1)  # noqa: SIM115
        sys.stderr = open("CONOUT$", "w", encoding="utf-8", errors="replace", buffering=1)  # noqa: SIM115
        sys.stdin = open("CONIN$", encoding="utf-8", errors="replace")  # noqa: SIM115


if __name__ == "__main__":
    multiprocessing.freeze_support()
    if sys.platform == "win32" and sys.stdout is None and len(sys.argv) > 1:
        _attach_windows_console()
    from cartoon_cam.cli import main

    sys.exit(main())
