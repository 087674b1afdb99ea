"""The Qt side of starting the window: the ``QApplication``, the settings file, the outputs and
the event loop. :func:`cartoon_cam.app.main` checks the command line and the display (no Qt) and
then hands over here with its :func:`~cartoon_cam.app.build_window`."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, QEvent, QTimer
from PySide6.QtWidgets import QApplication

from .. import paths
from . import qt_compat  # first: guards None/True/False against PySide6 6.12.0's refcount bugs
from .app_settings import APPLICATION, ORGANIZATION, open_qsettings

if TYPE_CHECKING:
    from ..core.pipeline import Pipeline
    from .main_window import MainWindow

log = logging.getLogger(__name__)


def _finish(window: MainWindow, screenshot: str | None, app: Any) -> None:
    code = 0
    if screenshot:
        path = Path(screenshot).expanduser()
        if window.grab().save(str(path)):
            print(f"screenshot saved: {path}")
        else:
            print(f"cartoon-cam: error: cannot write the screenshot {path}", file=sys.stderr)
            code = 1
    window.close()
    app.exit(code)


def run_window(args: argparse.Namespace,
               build_window: Callable[[argparse.Namespace, Any], tuple[MainWindow, Pipeline]],
               seconds_since_launch: Callable[[], float]) -> int:
    """Open the window built by ``build_window`` and run the event loop; returns the exit status."""
    log.info("PySide6 work-arounds: emit drops True %s, void calls drop None %s, singletons protected %s",
             qt_compat.EMIT_DROPS_TRUE, qt_compat.VOID_DROPS_NONE, qt_compat.SINGLETONS_PROTECTED)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("cartoon_cam")
    app.setDesktopFileName("cartoon-cam")  # Wayland app id / X11 WM class = the .desktop entry
    icon = paths.resources_dir() / "icons" / "cartoon_cam.png"
    if icon.is_file():
        from PySide6.QtGui import QIcon

        app.setWindowIcon(QIcon(str(icon)))
    qsettings = open_qsettings(args.settings)
    window, pipeline = build_window(args, qsettings)

    # ---- outputs (snapshot / record / virtual camera) hook in here, after construction: ----
    from .outputs_controller import OutputsController

    outputs = OutputsController(window, pipeline, qsettings)  # lives as long as the event loop

    scripted = args.quit_after is not None or args.screenshot
    if scripted or args.debug:
        def _first_frame(_result: object) -> None:
            window.result_displayed.disconnect(_first_frame)
            print(f"first cartoon frame shown {seconds_since_launch():.2f} s after launch", flush=True)

        window.result_displayed.connect(_first_frame)

    pipeline.start()
    if args.fullscreen:
        window.fullscreen_action.setChecked(True)
    else:
        window.show()

    quit_after = args.quit_after if args.quit_after is not None else (3.0 if args.screenshot else None)
    if quit_after is not None:
        QTimer.singleShot(int(quit_after * 1000), lambda: _finish(window, args.screenshot, app))

    # Ctrl+C in the terminal closes the window cleanly (Python handles signals between Qt events).
    signal.signal(signal.SIGINT, lambda *_: window.close())
    tick = QTimer()
    tick.timeout.connect(lambda: None)
    tick.start(250)
    try:
        code = app.exec()
    finally:
        tick.stop()
        pipeline.stop()
        if not pipeline.join(timeout=10.0):  # the window is gone; let a long model run finish
            log.warning("pipeline threads did not finish: %s", ", ".join(pipeline.threads_alive()))
        outputs.shutdown()  # done already when the window closed; idempotent
        if not outputs.wait_finished(timeout=120.0):  # a recording is never cut off at exit
            log.warning("a recording was still being finalised after 120 s")
        signal.signal(signal.SIGINT, signal.default_int_handler)
        # closing the last window posted a Quit; drop it so a later event loop in this process
        # (tests run main() in-process) is not ended by it
        QCoreApplication.removePostedEvents(app, QEvent.Type.Quit)
    return int(code)
