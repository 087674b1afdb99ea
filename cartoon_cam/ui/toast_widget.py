"""A short-lived message floating over the bottom of the preview (with an optional action)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

TOAST_MS = 4000


class ToastWidget(QFrame):
    """Child of the widget it floats over; re-centres itself when that widget resizes."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("toast")
        self.setStyleSheet("QFrame#toast { background: rgba(30, 30, 34, 225); border-radius: 6px; }"
                           " QLabel { color: #f0f0f0; }")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(12, 8, 8, 8)
        self.label = QLabel()
        lay.addWidget(self.label)
        self.button = QPushButton()
        self.button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.button.clicked.connect(self._on_button_clicked)
        lay.addWidget(self.button)
        self._action: Callable[[], None] | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)
        parent.installEventFilter(self)
        self.hide()

    def show_toast(self, text: str, action_text: str | None = None,
                   action: Callable[[], None] | None = None, ms: int = TOAST_MS) -> None:
        self.label.setText(text)
        self._action = action
        self.button.setVisible(bool(action_text))
        self.button.setText(action_text or "")
        self.adjustSize()
        self._place()
        self.show()
        self.raise_()
        self._timer.start(ms)

    def _on_button_clicked(self) -> None:
        self.hide()
        if self._action is not None:
            self._action()

    def _place(self) -> None:
        p = self.parentWidget()
        if p is not None:
            self.move((p.width() - self.width()) // 2, p.height() - self.height() - 16)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Resize and self.isVisible():
            self._place()
        return False
