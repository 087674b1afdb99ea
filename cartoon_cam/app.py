"""The composition root of the live app: command-line options → source, pipeline and window.

``cartoon-cam [--source demo|camera|camera:INDEX|camera:NAME|FILE] [--style ID_OR_PATH] …`` opens
the window. Precedence: command line > saved settings > defaults; on a first run the first camera
is used, or the demo scene when there is none (and whenever the chosen camera cannot be opened).

This module imports no Qt at all (the CLI imports it to add its options for every command); the
Qt event loop lives in :mod:`cartoon_cam.ui.launch`, which :func:`main` hands the built window to.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from .errors import (
    CartoonCamError,
    InputError,
    MissingExtraError,
    StyleError,
)
from .settings import VIEW_MODES, parse_resolution

if TYPE_CHECKING:
    from .core.pipeline import Pipeline
    from .inference.catalog import StyleCatalog
    from .ui.main_window import MainWindow

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The window's options (used when no subcommand is given)."""
    from .inference.backends import BACKENDS

    g = parser.add_argument_group("live window (when no COMMAND is given)")
    g.add_argument("--source", metavar="SPEC",
                   help="demo | camera | camera:INDEX | camera:NAME | a video or image file "
                        "(default: the remembered camera, else the first camera, else demo)")
    g.add_argument("--style", metavar="ID_OR_PATH",
                   help="a style id (see 'cartoon-cam styles') or a style/model file")
    g.add_argument("--backend", choices=BACKENDS, default=None, help="inference backend (default: auto)")
    g.add_argument("--device", default=None, metavar="DEVICE",
                   help="auto | cpu | cuda | an ONNX Runtime provider (default: auto)")
    from .limits import MAX_INFERENCE_SIZE, MIN_INFERENCE_SIZE

    g.add_argument("--size", type=int, default=None, metavar="PX",
                   help=f"inference size, pixels on the long side, {MIN_INFERENCE_SIZE}..{MAX_INFERENCE_SIZE} "
                        "(default: the style's)")
    g.add_argument("--resolution", default=None, metavar="WxH",
                   help="camera resolution to ask for (the demo renders at this size)")
    g.add_argument("--fps", type=float, default=None, help="camera frame rate to ask for")
    g.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=None,
                   help="mirror the picture left-right")
    g.add_argument("--strength", type=float, default=None, metavar="0..1",
                   help="blend of cartoon (1) and original (0)")
    g.add_argument("--view", choices=VIEW_MODES, default=None, help="preview layout")
    g.add_argument("--fullscreen", action="store_true", help="start fullscreen")
    g.add_argument("--settings", default=None, metavar="INI",
                   help="keep the window's settings in this INI file instead of the user's")
    g.add_argument("--screenshot", default=None, metavar="PNG",
                   help="save a picture of the window and exit (after --quit-after, default 3 s)")
    g.add_argument("--quit-after", type=float, default=None, metavar="SECONDS",
                   help="close the window after this many seconds (exit status 0)")
    g.add_argument("--overwrite", action="store_true", help="replace an existing --screenshot file")


# ---------------------------------------------------------------------------- decisions (no Qt)


def check_style(style: str, catalog: StyleCatalog) -> str:
    """``style`` if it names a catalog style or an existing file (:meth:`StyleCatalog.check`)."""
    return catalog.check(style)


def startup_source_spec(kind: str, camera_name: str) -> str:
    """The source to start with when ``--source`` is not given (remembered, else first camera,
    else demo). Listing cameras reads names only (it opens nothing)."""
    if kind == "demo":
        return "demo"
    if kind == "camera" and camera_name:
        return f"camera:{camera_name}"
    from .core.sources import list_cameras

    try:
        cams = list_cameras()
    except Exception as e:  # never let a listing problem stop the app
        log.warning("listing cameras failed: %s", e)
        cams = []
    return f"camera:{cams[0].name}" if cams else "demo"


def _validate(args: argparse.Namespace, catalog: StyleCatalog | None = None) -> None:
    """Every check of the command line that needs no Qt: run before Qt starts, so a bad argument
    is one line and exit 2 even where the window could not open."""
    from .limits import check_inference_size

    check_inference_size(args.size)
    if args.strength is not None and not 0.0 <= args.strength <= 1.0:
        raise InputError("--strength must be between 0 and 1")
    if args.quit_after is not None and args.quit_after < 0:
        raise InputError("--quit-after must be ≥ 0 seconds")
    if args.fps is not None and args.fps <= 0:
        raise InputError("--fps must be positive")
    parse_resolution(args.resolution)
    if args.screenshot:
        from .files import check_output

        shot = check_output(args.screenshot, overwrite=getattr(args, "overwrite", False), what="--screenshot")
        parent = shot.resolve().parent
        if not parent.is_dir():
            raise InputError(f"--screenshot: folder {parent} does not exist")
    if getattr(args, "style", None):
        if catalog is None:
            from .inference.catalog import StyleCatalog

            catalog = StyleCatalog()
        check_style(args.style, catalog)
    if getattr(args, "source", None):
        from .core.sources import open_source

        open_source(args.source).close()  # a missing file, a picture over the limits: exit 2


# ---------------------------------------------------------------------------- display (no Qt)

#: The libraries Qt 6's xcb (X11) platform plugin loads, and the Debian/Ubuntu packages that have
#: them (Fedora: xcb-util-cursor, xcb-util-wm, xcb-util-image, xcb-util-keysyms,
#: xcb-util-renderutil, libxkbcommon-x11).
XCB_LIBRARIES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
}


def _can_load(name: str) -> bool:
    import ctypes

    try:
        ctypes.CDLL(name)
    except OSError:
        return False
    return True


def display_problem(env: dict[str, str] | None = None, platform: str | None = None,
                    can_load: Any = None) -> str | None:
    """Why the window cannot open here (one sentence naming the fix), or ``None`` when it should.

    Qt aborts the process (SIGABRT) when its platform plugin cannot start; this checks the usual
    reasons first on Linux: no display at all, or the X11 (xcb) plugin's system libraries missing.
    ``QT_QPA_PLATFORM=offscreen`` (and other non-desktop platforms) need neither.
    """
    env = dict(os.environ) if env is None else env
    platform = sys.platform if platform is None else platform
    can_load = can_load or _can_load
    if not platform.startswith("linux"):
        return None
    qpa = env.get("QT_QPA_PLATFORM", "").split(":")[0].split(";")[0].strip().lower()
    if qpa and qpa not in ("xcb", "wayland", "wayland-egl"):
        return None  # offscreen, minimal, eglfs, vnc…: no desktop display needed
    x11, wayland = bool(env.get("DISPLAY")), bool(env.get("WAYLAND_DISPLAY"))
    headless = "for headless use run 'cartoon-cam live' (see 'cartoon-cam live --help')"
    if qpa.startswith("wayland"):
        return None if wayland else f"the window needs a display (WAYLAND_DISPLAY is not set); {headless}"
    if qpa == "xcb" and not x11:
        return f"the window needs a display (DISPLAY is not set); {headless}"
    if not x11 and not wayland:
        return f"the window needs a display (neither DISPLAY nor WAYLAND_DISPLAY is set); {headless}"
    if x11 and (qpa == "xcb" or not wayland):
        missing = [pkg for lib, pkg in XCB_LIBRARIES.items() if not can_load(lib)]
        if missing:
            return (f"Qt's X11 platform plugin needs system libraries that are missing: install them with "
                    f"'sudo apt install {' '.join(missing)}' (Debian/Ubuntu; see the README for other "
                    f"systems), or {headless}")
    return None


# ---------------------------------------------------------------------------- construction


def build_window(args: argparse.Namespace, qsettings: Any,
                 catalog: StyleCatalog | None = None) -> tuple[MainWindow, Pipeline]:
    """Build the source, the pipeline (not started) and the window, wired together
    (``qsettings``: a ``QSettings`` from :func:`cartoon_cam.ui.app_settings.open_qsettings`).
    ``catalog``: the one style catalog the window and the pipeline's loader share (built here
    when not given)."""
    from .core.pipeline import Pipeline
    from .core.sources import open_source
    from .inference.catalog import StyleCatalog
    from .ui.app_settings import AppSettings
    from .ui.main_window import MainWindow

    store = AppSettings(qsettings)
    catalog = catalog if catalog is not None else StyleCatalog()
    extra: list[str] = []
    if getattr(args, "style", None):
        style = check_style(args.style, catalog)
    else:
        style = store.get("style/id")
        try:
            style = check_style(style, catalog) if style else catalog.default_style_id()
        except (StyleError, MissingExtraError) as e:
            log.warning("remembered style %r cannot be used (%s); using the default", style, e)
            style = catalog.default_style_id()
    if style not in catalog.ids():
        extra.append(style)

    resolution = args.resolution if args.resolution is not None else store.get("source/resolution")
    try:
        res = parse_resolution(resolution)
    except InputError:
        res, resolution = None, ""
    spec = args.source or startup_source_spec(store.get("source/kind"), store.get("source/camera_name"))
    if spec.strip().lower() == "demo" and res is None:
        res = (640, 360)
    source = open_source(spec, width=res[0] if res else None, height=res[1] if res else None, fps=args.fps)

    pipeline = Pipeline(
        source, style, load=catalog.resolve,
        backend=args.backend or store.get("inference/backend"),
        device=args.device or store.get("inference/device"),
        size=args.size if args.size is not None else store.inference_size(),
        mirror=args.mirror if args.mirror is not None else store.get("view/mirror"),
        strength=args.strength if args.strength is not None else store.get("view/strength"),
    )
    window = MainWindow(pipeline, qsettings, catalog=catalog, extra_styles=extra, resolution=resolution)
    if args.view:
        window.set_view_mode(args.view)
    return window, pipeline


_T_IMPORT = time.perf_counter()


def seconds_since_launch() -> float:
    """Seconds since the process was launched: from ``CARTOON_CAM_LAUNCH_T0`` (a ``time.time()``
    stamp set by whoever launched us, e.g. the packaging smoke test) or since this module loaded."""
    t0 = os.environ.get("CARTOON_CAM_LAUNCH_T0")
    if t0:
        try:
            return time.time() - float(t0)
        except ValueError:
            pass
    return time.perf_counter() - _T_IMPORT


def main(args: argparse.Namespace) -> int:
    """Open the window; returns the exit status."""
    from .inference.catalog import StyleCatalog

    catalog = StyleCatalog()  # the one catalog: checked here, listed by the window, loaded from by the pipeline
    _validate(args, catalog)  # before Qt: a bad argument is exit 2 even where Qt could not start
    problem = display_problem()
    if problem:
        print(f"cartoon-cam: error: {problem}", file=sys.stderr)
        return 1
    try:
        from .ui.launch import run_window
    except ImportError as e:
        raise CartoonCamError(f"the window needs PySide6 ({e}); headless use: cartoon-cam live") from None
    return run_window(args, lambda a, q: build_window(a, q, catalog), seconds_since_launch)
