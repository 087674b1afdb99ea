"""A small, non-modal list of the keyboard shortcuts (F1)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)


class ShortcutsDialog(QDialog):
    """Shows ``rows`` of (keys, what they do)."""

    def __init__(self, rows: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.setModal(False)
        lay = QVBoxLayout(self)
        # A read-only list: no grid lines, no cell selection or editing, striped rows; the keys in
        # bold. Tab moves past it to the Close button; a screen reader reads each row.
        table = QTableWidget(len(rows), 2, self)
        table.setHorizontalHeaderLabels(["Keys", "Action"])
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        table.setShowGrid(False)
        table.setAlternatingRowColors(True)
        table.setWordWrap(True)
        table.setAccessibleName("Keyboard shortcuts")
        bold = QFont(table.font())
        bold.setBold(True)
        for i, (keys, what) in enumerate(rows):
            k = QTableWidgetItem(keys)
            k.setFont(bold)
            k.setFlags(Qt.ItemFlag.ItemIsEnabled)
            a = QTableWidgetItem(what)
            a.setFlags(Qt.ItemFlag.ItemIsEnabled)
            table.setItem(i, 0, k)
            table.setItem(i, 1, a)
        table.resizeColumnToContents(0)
        self.table = table
        lay.addWidget(table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        lay.addWidget(buttons)
        self.resize(420, 380)
