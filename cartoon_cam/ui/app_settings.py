"""The window's persisted settings: typed keys with defaults over one ``QSettings``.

Keys are snake_case in groups (``source/``, ``style/``, ``view/``, ``inference/``, ``window/``);
``settings_version`` records the schema. Values come back with the default's type (INI files store
strings). Unknown keys inside *these* groups are dropped on load; other groups (e.g. ``outputs/``,
written by the outputs controller) are left alone. Cameras are remembered **by name**.

Precedence when the app starts: command line > these settings > defaults.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
ORGANIZATION = "cartoon_cam"
APPLICATION = "cartoon_cam"

#: Inference quality presets: label, inference long side (None = the style's recommendation).
QUALITY_PRESETS: dict[str, tuple[str, int | None]] = {
    "auto": ("Auto (style default)", None),
    "fast": ("Fast · 256 px", 256),
    "balanced": ("Balanced · 384 px", 384),
    "high": ("High · 512 px", 512),
    "max": ("Max · 720 px", 720),
}
VIEW_MODES = ("side_by_side", "split", "cartoon")

DEFAULTS: dict[str, Any] = {
    "source/kind": "auto",  # auto (first camera, else demo) | camera | demo
    "source/camera_name": "",
    "source/resolution": "",  # "WxH" or "" (the device's default)
    "style/id": "",  # a style id or a style file path; "" = the catalog's default
    "view/mode": "side_by_side",
    "view/strength": 1.0,
    "view/mirror": False,
    "view/divider": 0.5,
    "inference/quality": "auto",
    "inference/backend": "auto",
    "inference/device": "auto",
    "window/geometry": QByteArray(),
    "window/state": QByteArray(),
    "window/controls_visible": True,
}
_GROUPS = {k.split("/")[0] for k in DEFAULTS}


def open_qsettings(path: str | Path | None = None) -> QSettings:
    """An INI file at ``path``, or the platform's per-user store for cartoon_cam."""
    if path:
        return QSettings(str(path), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def _coerce(value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)
    if isinstance(default, float):
        return float(value)
    if isinstance(default, int):
        return int(value)
    if isinstance(default, QByteArray):
        return value if isinstance(value, QByteArray) else QByteArray()
    return "" if value is None else str(value)


class AppSettings:
    """Typed access to the keys in :data:`DEFAULTS` (values are validated, bad ones fall back)."""

    def __init__(self, qsettings: QSettings) -> None:
        self.qsettings = qsettings
        self._migrate()

    def _migrate(self) -> None:
        s = self.qsettings
        version = s.value("settings_version")
        try:
            v = int(version) if version is not None else None
        except (TypeError, ValueError):
            v = None
        if v is not None and v > SCHEMA_VERSION:
            log.warning("settings were written by a newer cartoon_cam (schema %s); using defaults", v)
            for k in DEFAULTS:
                s.remove(k)
        for key in s.allKeys():
            group = key.split("/")[0]
            if group in _GROUPS and key not in DEFAULTS:
                log.warning("dropping unknown setting %r", key)
                s.remove(key)
        s.setValue("settings_version", SCHEMA_VERSION)

    def get(self, key: str) -> Any:
        default = DEFAULTS[key]
        raw = self.qsettings.value(key)
        if raw is None:
            return default
        try:
            value = _coerce(raw, default)
        except (TypeError, ValueError):
            log.warning("setting %s=%r is invalid; using %r", key, raw, default)
            return default
        if key == "view/mode" and value not in VIEW_MODES:
            return default
        if key == "inference/quality" and value not in QUALITY_PRESETS:
            from ..limits import MAX_INFERENCE_SIZE, MIN_INFERENCE_SIZE

            if not str(value).isdigit() or not MIN_INFERENCE_SIZE <= int(value) <= MAX_INFERENCE_SIZE:
                log.warning("setting %s=%r is outside the size limits; using %r", key, raw, default)
                return default
        if key in ("view/strength", "view/divider"):
            value = min(max(value, 0.0), 1.0)
        return value

    def set(self, key: str, value: Any) -> None:
        if key not in DEFAULTS:
            raise KeyError(f"unknown setting {key!r}")
        self.qsettings.setValue(key, value)

    def sync(self) -> None:
        self.qsettings.sync()

    # -- conveniences ---------------------------------------------------------------------------
    def inference_size(self) -> int | None:
        q = self.get("inference/quality")
        if q in QUALITY_PRESETS:
            return QUALITY_PRESETS[q][1]
        return int(q)

    def resolution(self) -> tuple[int, int] | None:
        return parse_resolution(self.get("source/resolution"))


def parse_resolution(text: str) -> tuple[int, int] | None:
    """``"1280x720"`` → (1280, 720); ``""`` → None; ``ValueError`` otherwise."""
    text = (text or "").strip().lower()
    if not text:
        return None
    w, sep, h = text.partition("x")
    if not sep or not w.isdigit() or not h.isdigit() or int(w) < 16 or int(h) < 16:
        raise ValueError(f"resolution {text!r} is not WIDTHxHEIGHT")
    return int(w), int(h)


def quality_for_size(size: int | None) -> str:
    """The preset key for an inference size (a bare number when it matches none)."""
    for key, (_, s) in QUALITY_PRESETS.items():
        if s == size:
            return key
    return str(size)
