"""The style picker: a list with thumbnails, numbered for the 1–9 hotkeys."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem, QWidget

from .images import wrap_rgb
from .qt_compat import emit
from .thumbnails import decode_thumbnail

_KEY_ROLE = Qt.ItemDataRole.UserRole


@dataclass(frozen=True)
class StyleChoice:
    """A style the picker offers. ``key`` is what the pipeline gets (an id, or a file path for a
    style given on the command line); ``stamp`` identifies the weights (thumbnail cache)."""

    key: str
    name: str
    description: str = ""
    thumbnail_b64: str = ""
    stamp: str = ""
    licence: str = ""


class StylePickerWidget(QListWidget):
    """``style_selected(key)`` fires when the user picks a style (not for :meth:`select_key`)."""

    style_selected = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setIconSize(QSize(64, 48))  # thumbnails are 128x96, shown at half size
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # ←/→ and 1–9 are window hotkeys
        self.setUniformItemSizes(True)
        self._choices: list[StyleChoice] = []
        self._quiet = False
        self.itemClicked.connect(self._on_item_clicked)

    def set_choices(self, choices: list[StyleChoice]) -> None:
        """Fill the list; the current selection is kept when its key is still there."""
        current = self.current_key()
        self._quiet = True
        try:
            self.clear()
            self._choices = list(choices)
            for i, c in enumerate(self._choices):
                label = f"{i + 1}  {c.name}" if i < 9 else f"    {c.name}"
                item = QListWidgetItem(self._placeholder_icon(), label)
                item.setData(_KEY_ROLE, c.key)
                tip = c.description or c.name
                if c.licence:
                    tip += f"\nLicence: {c.licence}"
                item.setToolTip(tip)
                self.addItem(item)
                data = decode_thumbnail(c.thumbnail_b64)
                if data:
                    img = QImage.fromData(data)
                    if not img.isNull():
                        self._set_icon(item, img)
            if current:
                self.select_key(current)
        finally:
            self._quiet = False

    def choices(self) -> list[StyleChoice]:
        return list(self._choices)

    def keys(self) -> list[str]:
        return [c.key for c in self._choices]

    def needs_thumbnail(self) -> list[StyleChoice]:
        """Choices whose manifest carries no thumbnail (render them on a worker)."""
        return [c for c in self._choices if not decode_thumbnail(c.thumbnail_b64)]

    def set_thumbnail(self, key: str, rgb: np.ndarray) -> None:
        """Use ``rgb`` (uint8 RGB HxWx3) as the icon of ``key``."""
        for i in range(self.count()):
            item = self.item(i)
            if item.data(_KEY_ROLE) == key:
                self._set_icon(item, wrap_rgb(np.ascontiguousarray(rgb)).copy())

    def _set_icon(self, item: QListWidgetItem, img: QImage) -> None:
        pm = QPixmap.fromImage(img).scaled(self.iconSize(), Qt.AspectRatioMode.KeepAspectRatioByExpanding,
                                           Qt.TransformationMode.SmoothTransformation)
        item.setIcon(QIcon(pm))

    def _placeholder_icon(self) -> QIcon:
        pm = QPixmap(self.iconSize())
        pm.fill(QColor(60, 60, 66))
        return QIcon(pm)

    def current_key(self) -> str | None:
        item = self.currentItem()
        return None if item is None else str(item.data(_KEY_ROLE))

    def select_key(self, key: str) -> bool:
        """Highlight ``key`` without emitting ``style_selected``; False when it is not listed."""
        for i in range(self.count()):
            if self.item(i).data(_KEY_ROLE) == key:
                self.setCurrentRow(i)
                return True
        return False

    def add_choice(self, choice: StyleChoice) -> None:
        if choice.key not in self.keys():
            self.set_choices([*self._choices, choice])

    def pick_index(self, i: int) -> str | None:
        """Select row ``i`` as the user would (emits ``style_selected``)."""
        if 0 <= i < self.count():
            self.setCurrentRow(i)
            key = str(self.item(i).data(_KEY_ROLE))
            emit(self.style_selected, key)
            return key
        return None

    def pick_relative(self, step: int) -> str | None:
        """The next (+1) / previous (-1) style, wrapping around."""
        n = self.count()
        if n == 0:
            return None
        row = self.currentRow()
        return self.pick_index((row + step) % n if row >= 0 else 0)

    def _on_item_clicked(self, item: QListWidgetItem) -> None:
        if not self._quiet:
            emit(self.style_selected, str(item.data(_KEY_ROLE)))
