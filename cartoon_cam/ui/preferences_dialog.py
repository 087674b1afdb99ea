"""Preferences (File → Preferences…, Ctrl+,): where snapshots and recordings go, their format and
quality, the virtual camera's size and the default inference quality.

The dialog only edits values: it is filled from and returns a ``{key: value}`` dict with the
settings schema's keys (:mod:`cartoon_cam.settings`: ``outputs/…`` and ``inference/quality``). The
window stores them through :class:`~cartoon_cam.ui.app_settings.AppSettings` and applies them at
once. OK checks the folders first (:func:`cartoon_cam.files.writable_folder`: they must exist or be
creatable, and be writable); a folder that fails keeps the dialog open with the reason under it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..errors import OutputError
from ..files import writable_folder
from ..settings import OUTPUT_CHOICES, QUALITY_PRESETS, RECORD_QUALITY

#: The keys the dialog edits (the schema's names).
KEYS = ("outputs/snapshot_dir", "outputs/snapshot_format", "outputs/record_dir", "outputs/record_quality",
        "outputs/vcam_size", "inference/quality")
_FORMAT_LABELS = {"png": "PNG (lossless)", "jpeg": "JPEG (smaller)"}


class _FolderField(QWidget):
    """A folder path with a Browse… button and a line for what is wrong with it."""

    def __init__(self, title: str, default: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title, self.default = title, default
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        row = QHBoxLayout()
        self.edit = QLineEdit()
        home = Path.home()
        shown = f"~/{default.relative_to(home).as_posix()}" if default.is_relative_to(home) else str(default)
        self.edit.setPlaceholderText(f"Default: {shown}")
        self.edit.setToolTip(f"Leave empty for the default folder, {default}")
        self.edit.setAccessibleName(title)
        self.edit.setClearButtonEnabled(True)
        self.edit.setMinimumWidth(360)
        self.browse = QPushButton("Browse…")
        self.browse.setAccessibleName(f"Choose the {title.lower()}")
        self.browse.clicked.connect(self._on_browse_clicked)
        row.addWidget(self.edit, 1)
        row.addWidget(self.browse)
        lay.addLayout(row)
        self.error = QLabel()
        self.error.setObjectName("folder_error")
        self.error.setStyleSheet("QLabel#folder_error { color: #c62828; }")
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.hide()
        lay.addWidget(self.error)
        self.edit.textChanged.connect(lambda _t: self.error.hide())

    def _on_browse_clicked(self) -> None:
        start = self.edit.text().strip() or str(self.default)
        d = QFileDialog.getExistingDirectory(self, self.title, start)
        if d:
            self.edit.setText(d)

    def value(self) -> str:
        """The text ("" = the default folder)."""
        return self.edit.text().strip()

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()
        self.edit.setFocus()
        self.window().adjustSize()  # room for the message


class PreferencesDialog(QDialog):
    """Edits ``values`` (a dict with the :data:`KEYS`); :meth:`values` gives the result after OK."""

    def __init__(self, values: dict[str, Any], *, snapshot_default: Path, record_default: Path,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.setObjectName("preferences_dialog")
        lay = QVBoxLayout(self)

        snaps = QGroupBox("Snapshots")
        f = QFormLayout(snaps)
        self.snapshot_dir = _FolderField("Snapshot folder", snapshot_default)
        self.snapshot_format = self._combo("Snapshot format", {k: _FORMAT_LABELS.get(k, k)
                                                               for k in OUTPUT_CHOICES["snapshot_format"]})
        f.addRow("Folder:", self.snapshot_dir)
        f.addRow("Format:", self.snapshot_format)
        lay.addWidget(snaps)

        rec = QGroupBox("Recordings (MP4, H.264)")
        f = QFormLayout(rec)
        self.record_dir = _FolderField("Recording folder", record_default)
        self.record_quality = self._combo("Recording quality", {k: v[0] for k, v in RECORD_QUALITY.items()})
        f.addRow("Folder:", self.record_dir)
        f.addRow("Quality:", self.record_quality)
        lay.addWidget(rec)

        other = QGroupBox("Virtual camera and processing")
        f = QFormLayout(other)
        self.vcam_size = self._combo("Virtual camera size", {s: s.replace("x", " × ")
                                                             for s in OUTPUT_CHOICES["vcam_size"]})
        self.quality = self._combo("Default quality", {k: v[0] for k, v in QUALITY_PRESETS.items()})
        self.quality.setToolTip("The inference size new sessions start with (Q cycles it live)")
        f.addRow("Virtual camera size:", self.vcam_size)
        f.addRow("Default quality:", self.quality)
        lay.addWidget(other)

        note = QLabel("Changes apply at once: to the next snapshot, the next recording and the next "
                      "time the virtual camera is turned on.")
        note.setWordWrap(True)
        note.setEnabled(False)
        lay.addWidget(note)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.set_values(values)

    @staticmethod
    def _combo(name: str, options: dict[str, str]) -> QComboBox:
        c = QComboBox()
        c.setAccessibleName(name)
        for value, label in options.items():
            c.addItem(label, value)
        return c

    @staticmethod
    def _select(combo: QComboBox, value: object) -> None:
        i = combo.findData(value)
        if i < 0 and value is not None:  # e.g. a bare inference size saved by hand
            combo.addItem(str(value), value)
            i = combo.count() - 1
        combo.setCurrentIndex(max(i, 0))

    def set_values(self, values: dict[str, Any]) -> None:
        self.snapshot_dir.edit.setText(str(values.get("outputs/snapshot_dir") or ""))
        self.record_dir.edit.setText(str(values.get("outputs/record_dir") or ""))
        self._select(self.snapshot_format, values.get("outputs/snapshot_format"))
        self._select(self.record_quality, values.get("outputs/record_quality"))
        self._select(self.vcam_size, values.get("outputs/vcam_size"))
        self._select(self.quality, values.get("inference/quality"))

    def values(self) -> dict[str, Any]:
        """The edited values, by schema key (folders: "" for the default, else the full path)."""
        return {
            "outputs/snapshot_dir": self.snapshot_dir.value(),
            "outputs/snapshot_format": self.snapshot_format.currentData(),
            "outputs/record_dir": self.record_dir.value(),
            "outputs/record_quality": self.record_quality.currentData(),
            "outputs/vcam_size": self.vcam_size.currentData(),
            "inference/quality": self.quality.currentData(),
        }

    def check(self) -> bool:
        """Check (and create) the folders; show what is wrong under each one. True when all is well."""
        ok = True
        for field in (self.record_dir, self.snapshot_dir):  # the first error ends with the focus
            text = field.value()
            if not text:
                continue  # the default folder: made when first written to
            try:
                folder = writable_folder(text, field.title.lower())
            except OutputError as e:
                field.show_error(str(e))
                ok = False
                continue
            field.edit.setText(str(folder))  # ~ expanded
        return ok

    def accept(self) -> None:
        if self.check():
            super().accept()
