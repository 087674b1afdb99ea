"""``cartoon-cam`` entry point.

``cartoon-cam [--source ...] [--style ...]`` opens the window (see :mod:`cartoon_cam.app`);
``cartoon-cam SUBCOMMAND ...`` runs a subcommand from :mod:`cartoon_cam.commands`.

Errors users can fix (bad arguments, unreadable inputs, unknown styles) print one line and exit 2;
nothing prints a traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from . import __version__
from .errors import CartoonCamError

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse's default is the same code)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from . import commands

    p = _Parser(prog="cartoon-cam", description="Real-time anime / cartoon webcam.")
    p.add_argument("--version", action="version", version=f"cartoon-cam {__version__}")
    p.add_argument("--debug", action="store_true", help="verbose logging and full tracebacks")
    p.add_argument("--self-test", action="store_true",
                   help="run the default style on a generated frame, print versions and the backend, exit")
    try:
        from . import app
    except ImportError:  # GUI not installed / not built yet
        app = None  # type: ignore[assignment]
    if app is not None and hasattr(app, "add_arguments"):
        app.add_arguments(p)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for mod in commands.discover():
        sp = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.register(sp)
        sp.set_defaults(_run=mod.run)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    run = getattr(args, "_run", None)
    try:
        if args.self_test:
            from .selftest import run_self_test

            return run_self_test(getattr(args, "style", None), getattr(args, "backend", None) or "auto",
                                 getattr(args, "device", None) or "auto")
        if run is None:
            from . import app

            return int(app.main(args) or 0)
        return int(run(args) or 0)
    except CartoonCamError as e:
        if args.debug:
            raise
        print(f"cartoon-cam: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:  # a file-system problem no command anticipated: still one line, no traceback
        if args.debug:
            raise
        where = f"{e.filename}: " if e.filename else ""
        print(f"cartoon-cam: error: {where}{e.strerror or e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("cartoon-cam: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
