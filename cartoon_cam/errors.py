"""Exceptions with messages meant for users (the CLI prints them on one line)."""

from __future__ import annotations


class CartoonCamError(Exception):
    """Base class: ``str(err)`` is a complete, user-facing sentence."""


class StyleError(CartoonCamError):
    """A style or model file is missing, corrupt, unsupported or fails to run."""


class BackendError(CartoonCamError):
    """No inference backend could be created for a style on the requested device."""


class InputError(CartoonCamError):
    """An input image / video / argument cannot be used."""


class OutputError(CartoonCamError):
    """An output cannot be written (permissions, disk full, bad path)."""


def first_line(what: object, empty: str | None = None) -> str:
    """The first line of an exception's message (or of a text), stripped. A message that is empty
    gives ``empty`` when it is given, else the exception's class name ("" for an empty text)."""
    text = str(what).strip()
    if text:
        return text.splitlines()[0]
    if empty is not None:
        return empty
    return type(what).__name__ if isinstance(what, BaseException) else ""


def brief(what: object, limit: int = 160) -> str:
    """The first line of an exception's message (or of a text), at most ``limit`` characters, cut
    at a word boundary with "…" — never mid-word. An exception without a message gives its class
    name."""
    text = " ".join(first_line(what).split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    if " " in cut and not text[limit].isspace():
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"


class MissingExtraError(CartoonCamError):
    """A feature needs an optional part of the install (a pip extra) that is not installed."""


TORCH_EXTRA = "pip install 'cartoon-cam[torch]'"
ONNX_EXTRA = "pip install 'cartoon-cam[onnx]'"


def module_installed(name: str) -> bool:
    """Whether ``import name`` could find the module, without importing it (cheap: no torch start-up).
    A finder that refuses the name (ImportError) counts as not installed."""
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def torch_installed() -> bool:
    """Whether PyTorch is installed (the ``torch`` extra)."""
    return module_installed("torch")


def needs_torch(what: str) -> MissingExtraError:
    """The error for a feature that needs PyTorch: ``what`` names it ("loading style 'x'")."""
    return MissingExtraError(f"{what} needs PyTorch, which is not installed: {TORCH_EXTRA}")
