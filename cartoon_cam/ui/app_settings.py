"""The window's persisted settings: the Qt-free schema (:mod:`cartoon_cam.settings`: keys,
defaults, validation) stored in one ``QSettings``. This module is only the adapter.

``settings_version`` records the schema. Values come back with the default's type (INI files store
strings). Unknown keys inside the schema's groups are dropped on load; other groups (e.g.
``outputs/``, written by the outputs controller) are left alone. Cameras are remembered **by name**.

Precedence when the app starts: command line > these settings > defaults.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from ..settings import (  # re-exported: the schema lives in cartoon_cam.settings
    DEFAULTS,
    GROUPS,
    OUTPUT_DEFAULTS,
    QUALITY_PRESETS,
    SCHEMA_VERSION,
    VIEW_MODES,
    inference_size,
    parse_resolution,
    quality_for_size,
    validate,
    validate_output,
)

log = logging.getLogger(__name__)

ORGANIZATION = "cartoon_cam"
APPLICATION = "cartoon_cam"


def open_qsettings(path: str | Path | None = None) -> QSettings:
    """An INI file at ``path``, or the platform's per-user store for cartoon_cam."""
    if path:
        return QSettings(str(path), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


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
            if group in GROUPS and key not in DEFAULTS:
                log.warning("dropping unknown setting %r", key)
                s.remove(key)
        s.setValue("settings_version", SCHEMA_VERSION)

    def get(self, key: str) -> Any:
        """The value of ``key`` checked by the schema (:func:`cartoon_cam.settings.validate`);
        the ``bytes`` keys (window geometry and state) come back as ``QByteArray``."""
        raw = self.qsettings.value(key)
        if isinstance(DEFAULTS[key], bytes):
            return raw if isinstance(raw, QByteArray) else QByteArray()
        return validate(key, raw)

    def set(self, key: str, value: Any) -> None:
        if key not in DEFAULTS:
            raise KeyError(f"unknown setting {key!r}")
        self.qsettings.setValue(key, value)

    def get_output(self, key: str) -> Any:
        """The outputs' setting ``key`` (without ``outputs/``), checked by the schema
        (:func:`cartoon_cam.settings.validate_output`)."""
        if key not in OUTPUT_DEFAULTS:
            raise KeyError(f"unknown output setting {key!r}")
        return validate_output(key, self.qsettings.value(f"outputs/{key}", OUTPUT_DEFAULTS[key]))

    def set_output(self, key: str, value: Any) -> None:
        """Store the outputs' setting ``key``; ``KeyError`` for a key not in the schema,
        ``ValueError`` for a value it does not allow."""
        if key not in OUTPUT_DEFAULTS:
            raise KeyError(f"unknown output setting {key!r}")
        if validate_output(key, value) != value:
            raise ValueError(f"{value!r} is not a valid value of outputs/{key}")
        self.qsettings.setValue(f"outputs/{key}", value)

    def sync(self) -> None:
        self.qsettings.sync()

    # -- conveniences ---------------------------------------------------------------------------
    def inference_size(self) -> int | None:
        return inference_size(self.get("inference/quality"))

    def resolution(self) -> tuple[int, int] | None:
        return parse_resolution(self.get("source/resolution"), "resolution")


__all__ = ["APPLICATION", "DEFAULTS", "ORGANIZATION", "QUALITY_PRESETS", "SCHEMA_VERSION", "VIEW_MODES",
           "AppSettings", "open_qsettings", "parse_resolution", "quality_for_size"]
