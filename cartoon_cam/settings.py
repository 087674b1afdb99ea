"""The settings schema, without Qt: every persisted key with its default and its allowed values,
the quality presets, the view modes, and the one parser of ``WIDTHxHEIGHT``.

The window stores these keys through a thin ``QSettings`` adapter
(:class:`cartoon_cam.ui.app_settings.AppSettings`); the Qt-free app (:mod:`cartoon_cam.app`) and
the commands (``live``, ``bench``) read the same tables and parse resolutions with the same rule.

Keys are snake_case in groups (``source/``, ``style/``, ``view/``, ``inference/``, ``window/``,
``outputs/``); :data:`SCHEMA_VERSION` records the schema. Precedence when the app starts: command
line > saved settings > :data:`DEFAULTS`.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from .errors import InputError
from .limits import MAX_INFERENCE_SIZE, MIN_INFERENCE_SIZE, check_input_size

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

#: Inference quality presets: label, inference long side (None = the style's recommendation).
QUALITY_PRESETS: dict[str, tuple[str, int | None]] = {
    "auto": ("Auto (style default)", None),
    "fast": ("Fast · 256 px", 256),
    "balanced": ("Balanced · 384 px", 384),
    "high": ("High · 512 px", 512),
    "max": ("Max · 720 px", 720),
}

#: The preview layouts (``--view``, ``view/mode``) and their labels in the window.
VIEW_MODES = ("side_by_side", "split", "cartoon")
VIEW_MODE_LABELS = {"side_by_side": "Side by side", "split": "Split wipe", "cartoon": "Cartoon only"}

#: The window's keys. ``bytes`` values are opaque blobs (Qt's window geometry and state).
DEFAULTS: dict[str, Any] = {
    "source/kind": "auto",  # auto (first camera, else demo) | camera | demo
    "source/camera_name": "",
    "source/resolution": "",  # "WxH" or "" (the device's default)
    "style/id": "",  # a style id or a style file path; "" = the catalog's default
    "view/mode": "side_by_side",
    "view/strength": 1.0,
    "view/mirror": False,
    "view/live_original": False,  # side by side: the newest camera frame beside the cartoon (else its own frame)
    "view/divider": 0.5,
    "inference/quality": "auto",
    "inference/backend": "auto",
    "inference/device": "auto",
    "window/geometry": b"",
    "window/state": b"",
    "window/controls_visible": True,
}
#: The groups :data:`DEFAULTS` owns: an unknown key in one of them is dropped on load.
GROUPS = frozenset(k.split("/")[0] for k in DEFAULTS)

#: The outputs' keys (under ``outputs/``) and the values each may take.
OUTPUT_DEFAULTS: dict[str, Any] = {
    "snapshot_format": "png",
    "snapshot_layout": "cartoon",
    "record_layout": "cartoon",
    "record_audio": False,
    "vcam_layout": "cartoon",
    "vcam_mirror": False,
    "vcam_size": "1280x720",
    "stream_url": "",
    "stream_layout": "cartoon",
    "snapshot_dir": "",  # "" = the platform's Pictures/cartoon_cam
    "record_dir": "",  # "" = the platform's Videos/cartoon_cam
    "record_quality": "standard",
}
OUTPUT_CHOICES: dict[str, tuple[str, ...]] = {
    "snapshot_format": ("png", "jpeg"),
    "snapshot_layout": ("cartoon", "original", "side_by_side"),
    "record_layout": ("cartoon", "side_by_side"),
    "vcam_layout": ("cartoon", "side_by_side"),
    "vcam_size": ("640x360", "1280x720", "1920x1080"),
    "stream_layout": ("cartoon", "side_by_side"),
    "record_quality": ("high", "standard", "small"),
}
#: Recording quality presets: label and the x264 CRF (lower = better and bigger).
RECORD_QUALITY: dict[str, tuple[str, int]] = {
    "high": ("High (bigger files)", 18),
    "standard": ("Standard", 23),
    "small": ("Small files", 28),
}

MIN_RESOLUTION_SIDE = 16


class ResolutionError(InputError, ValueError):
    """A text that is not a usable ``WIDTHxHEIGHT``."""


def parse_resolution(text: str | None, what: str = "--resolution") -> tuple[int, int] | None:
    """``"1280x720"`` → ``(1280, 720)``; ``""`` / ``None`` → ``None``. Anything else — not
    ``WIDTHxHEIGHT``, a side under 16 px, a size over :mod:`cartoon_cam.limits` — is a
    :class:`ResolutionError` naming ``what``. The one resolution parser of the app."""
    text = (text or "").strip().lower()
    if not text:
        return None
    w, sep, h = (part.strip() for part in text.partition("x"))
    if (not sep or not w.isdigit() or not h.isdigit()
            or int(w) < MIN_RESOLUTION_SIDE or int(h) < MIN_RESOLUTION_SIDE):
        raise ResolutionError(f"{what} {text!r}: expected WIDTHxHEIGHT, e.g. 1280x720")
    try:
        check_input_size(int(w), int(h), f"{what} {text}")
    except InputError as e:
        raise ResolutionError(str(e)) from None
    return int(w), int(h)


def resolution_arg(text: str) -> tuple[int, int]:
    """:func:`parse_resolution` as an ``argparse`` type (a usage error, exit 2, when it fails)."""
    try:
        res = parse_resolution(text, "size")
    except ResolutionError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if res is None:
        raise argparse.ArgumentTypeError("expected WIDTHxHEIGHT, e.g. 1280x720")
    return res


def inference_size(quality: str) -> int | None:
    """The inference long side of a ``inference/quality`` value: a preset's, or a bare number."""
    if quality in QUALITY_PRESETS:
        return QUALITY_PRESETS[quality][1]
    return int(quality)


def quality_for_size(size: int | None) -> str:
    """The preset key for an inference size (a bare number when it matches none)."""
    for key, (_, s) in QUALITY_PRESETS.items():
        if s == size:
            return key
    return str(size)


def _coerce(value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)
    if isinstance(default, float):
        return float(value)
    if isinstance(default, int):
        return int(value)
    return "" if value is None else str(value)


def validate(key: str, raw: Any) -> Any:
    """A stored value of window key ``key`` as the default's type, or the default when it is
    missing, malformed or not allowed (INI files store strings; a hand edit may hold anything).
    ``bytes`` keys are left to the storage adapter. ``KeyError`` for a key not in the schema."""
    default = DEFAULTS[key]
    if raw is None:
        return default
    if isinstance(default, bytes):
        return raw
    try:
        value = _coerce(raw, default)
    except (TypeError, ValueError):
        log.warning("setting %s=%r is invalid; using %r", key, raw, default)
        return default
    if key == "view/mode" and value not in VIEW_MODES:
        return default
    if key == "inference/quality" and value not in QUALITY_PRESETS and (
            not str(value).isdigit() or not MIN_INFERENCE_SIZE <= int(value) <= MAX_INFERENCE_SIZE):
        log.warning("setting %s=%r is outside the size limits; using %r", key, raw, default)
        return default
    if key in ("view/strength", "view/divider"):
        value = min(max(value, 0.0), 1.0)
    return value


def validate_output(key: str, raw: Any) -> Any:
    """A stored value of output key ``key`` (without ``outputs/``), or its default when it is
    missing or not one of :data:`OUTPUT_CHOICES`."""
    default = OUTPUT_DEFAULTS.get(key)
    if isinstance(default, bool):
        return raw in (True, "true", "1", 1)
    if key in OUTPUT_CHOICES and raw not in OUTPUT_CHOICES[key]:
        return default  # hand-edited or from another version: ignore
    return raw if raw not in (None, "") else default


__all__ = ["DEFAULTS", "GROUPS", "OUTPUT_CHOICES", "OUTPUT_DEFAULTS", "QUALITY_PRESETS", "RECORD_QUALITY",
           "SCHEMA_VERSION",
           "VIEW_MODES", "VIEW_MODE_LABELS", "ResolutionError", "inference_size", "parse_resolution",
           "quality_for_size", "resolution_arg", "validate", "validate_output"]
