"""``cartoon-cam completion SHELL``: print a bash, zsh or fish completion script (see
:mod:`cartoon_cam.completion` for how it is made and installed)."""

from __future__ import annotations

import argparse

from ..completion import SHELLS

NAME = "completion"
HELP = "print a shell completion script (bash, zsh or fish) generated from the command line parser"


def register(p: argparse.ArgumentParser) -> None:
    p.epilog = ("install: cartoon-cam completion bash > ~/.local/share/bash-completion/completions/cartoon-cam; "
                'cartoon-cam completion zsh > "${fpath[1]}/_cartoon-cam"; '
                "cartoon-cam completion fish > ~/.config/fish/completions/cartoon-cam.fish")
    p.add_argument("shell", choices=SHELLS, help="the shell to complete in")


def run(args: argparse.Namespace) -> int:
    from ..cli import build_parser
    from ..completion import script

    print(script(build_parser(), args.shell), end="")
    return 0
