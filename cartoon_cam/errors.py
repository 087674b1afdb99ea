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
