"""``cartoon-cam`` subcommands. Each module defines ``NAME``, ``HELP``, ``register(parser)`` (adds its
arguments to its own subparser) and ``run(args) -> int``. :mod:`cartoon_cam.cli` discovers them."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def discover() -> list[ModuleType]:
    mods = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        if all(hasattr(mod, a) for a in ("NAME", "HELP", "register", "run")):
            mods.append(mod)
    return mods
