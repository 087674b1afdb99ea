"""``cartoon-cam`` entry point.

``cartoon-cam [--source ...] [--style ...]`` opens the window (see :mod:`cartoon_cam.app`);
``cartoon-cam SUBCOMMAND ...`` runs a subcommand from :mod:`cartoon_cam.commands`.

Exit status, for every command:

* **0** success;
* **2** a usage or input problem (bad arguments, unreadable inputs, unknown styles, an output that
  would replace an input or an existing file without ``--overwrite``, a style that cannot run on
  the requested backend/device, an input over the size limits) — one ``cartoon-cam: error:`` line;
* **1** a runtime failure (a recording or encoder failed, no display for the window, a requested
  output that got nothing, an unexpected error — its traceback goes to the log file);
* **130** interrupted with Ctrl-C.

Nothing prints a traceback on stderr unless ``--debug`` is given; every run logs to the rotating
log file in the user log folder (:mod:`cartoon_cam.logs`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from . import __version__
from .errors import CartoonCamError, first_line

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EPILOG = ("exit status: 0 ok, 2 usage or input error, 1 runtime failure, 130 Ctrl-C. "
          "Log file: {log}")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse's default is the same code)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def add_verbosity(p: argparse.ArgumentParser, *, sub: bool = False) -> None:
    """``-q/--quiet`` and ``-v/--verbose`` (repeatable). On a subcommand (``sub``) they default to
    "not given", so ``cartoon-cam -v convert …`` and ``cartoon-cam convert -v …`` mean the same."""
    default = argparse.SUPPRESS if sub else None
    p.add_argument("-q", "--quiet", action="store_true", default=default if sub else False,
                   help="only errors on the terminal (and no progress bars)")
    p.add_argument("-v", "--verbose", action="count", default=default if sub else 0,
                   help="more on the terminal: -v progress messages, -vv debug")


def _add_verbosity_everywhere(p: argparse.ArgumentParser) -> None:
    """:func:`add_verbosity` on a subcommand and on its own subcommands (``styles list -v``), and
    their one-line help as the description of those that have none (``styles list --help``)."""
    if not any("--verbose" in a.option_strings for a in p._actions):  # noqa: SLF001
        add_verbosity(p, sub=True)
    for a in p._actions:  # noqa: SLF001 - argparse has no public walk over subparsers
        if isinstance(a, argparse._SubParsersAction):  # noqa: SLF001
            helps = {c.dest: c.help for c in a._choices_actions}  # noqa: SLF001
            for name, child in a.choices.items():
                if not child.description and helps.get(name):
                    child.description = helps[name]
                _add_verbosity_everywhere(child)


def log_levels(args: argparse.Namespace) -> tuple[bool, int]:
    """``(debug, verbosity)`` from the parsed flags: verbosity -1 quiet, 0 default, 1 info, 2 debug."""
    verbose = int(getattr(args, "verbose", 0) or 0)
    if getattr(args, "quiet", False):
        return bool(args.debug), -1
    return bool(args.debug) or verbose >= 2, verbose


def build_parser() -> argparse.ArgumentParser:
    from . import commands
    from .limits import describe_limits
    from .logs import log_file

    p = _Parser(prog="cartoon-cam", description="Real-time anime / cartoon webcam.",
                epilog=f"Limits: {describe_limits()}. " + EPILOG.format(log=log_file()))
    p.add_argument("--version", action="version", version=f"cartoon-cam {__version__}")
    p.add_argument("--debug", action="store_true", help="verbose logging and full tracebacks")
    add_verbosity(p)
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
        _add_verbosity_everywhere(sp)
        sp.set_defaults(_run=mod.run)
    from .completion import add_completion_command

    add_completion_command(sub, build_parser)  # here, not in commands/: it needs the whole parser
    _add_verbosity_everywhere(sub.choices["completion"])
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .logs import setup_logging

    debug, verbosity = log_levels(args)
    setup_logging(debug, list(argv) if argv is not None else None, verbosity=verbosity)
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
    except BrokenPipeError:  # `cartoon-cam styles list | head`: the reader left; not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return EXIT_OK
    except OSError as e:  # a file-system problem no command anticipated: still one line, no traceback
        if args.debug:
            raise
        from .logs import FILE_ONLY

        log.warning("unanticipated OSError", exc_info=True, extra=FILE_ONLY)
        where = f"{e.filename}: " if e.filename else ""
        print(f"cartoon-cam: error: {where}{e.strerror or e}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        print("cartoon-cam: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:  # a bug: one line here, the traceback in the log file
        if args.debug:
            raise
        from .logs import FILE_ONLY, log_file

        log.error("unexpected error", exc_info=True, extra=FILE_ONLY)
        first = first_line(e, "")[:200]
        print(f"cartoon-cam: error: unexpected {type(e).__name__}{': ' + first if first else ''} "
              f"(details in {log_file()})", file=sys.stderr)
        return EXIT_FAIL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
