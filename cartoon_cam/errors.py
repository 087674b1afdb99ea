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


def brief(what: object, limit: int = 160) -> str:
    """The first line of an exception's message (or of a text), at most ``limit`` characters, cut
    at a word boundary with "…" — never mid-word. An exception without a message gives its class
    name."""
    text = str(what).strip()
    if not text and isinstance(what, BaseException):
        text = type(what).__name__
    text = " ".join(text.splitlines()[0].split()) if text else ""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    if " " in cut and not text[limit].isspace():
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"
