"""Non-blocking banners: a strip above the preview per message, with an optional action button and
a close button. Errors and warnings stay until closed (or replaced by a banner with the same
``key``); info banners close themselves after a while."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .qt_compat import emit

LEVELS = {
    # level: (background, text colour, symbol)
    "error": ("#8c1d18", "#ffffff", "⛔"),
    "warning": ("#7a5b00", "#ffffff", "⚠"),
    "info": ("#1f4f8a", "#ffffff", "ℹ"),
}
INFO_TIMEOUT_MS = 8000
MAX_BANNERS = 4


class BannerWidget(QFrame):
    """One message. ``closed`` is emitted when it goes (by the user, :meth:`dismiss` or timeout)."""

    closed = Signal()
    action_triggered = Signal()

    def __init__(self, text: str, level: str = "error", action_text: str | None = None,
                 action: Callable[[], None] | None = None, key: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        if level not in LEVELS:
            raise ValueError(f"banner level must be one of {', '.join(LEVELS)}")
        self.level, self.key, self.text = level, key, text
        bg, fg, symbol = LEVELS[level]
        self.setObjectName("banner")
        self.setStyleSheet(f"QFrame#banner {{ background: {bg}; border-radius: 4px; }}"
                           f" QLabel {{ color: {fg}; }}")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 6, 6)
        icon = QLabel(symbol)
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        lay.addWidget(icon)
        lay.addWidget(self.label, 1)
        self.action_button: QPushButton | None = None
        if action_text:
            self.action_button = QPushButton(action_text)
            self.action_button.clicked.connect(self._on_action_button_clicked)
            lay.addWidget(self.action_button)
            if action is not None:
                self.action_triggered.connect(action)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.dismiss)
        lay.addWidget(close)
        self._done = False
        if level == "info":
            QTimer.singleShot(INFO_TIMEOUT_MS, self, self.dismiss)

    def _on_action_button_clicked(self) -> None:
        emit(self.action_triggered)
        self.dismiss()

    def dismiss(self) -> None:
        if self._done:
            return
        self._done = True
        self.hide()
        emit(self.closed)
        self.deleteLater()

    @property
    def dismissed(self) -> bool:
        return self._done


class BannerAreaWidget(QWidget):
    """A vertical stack of banners (newest last, at most :data:`MAX_BANNERS`)."""

    banner_shown = Signal(object)  # the BannerWidget

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(6, 6, 6, 0)
        self._layout.setSpacing(4)
        self._banners: list[BannerWidget] = []
        self.hide()

    def banners(self) -> list[BannerWidget]:
        return [b for b in self._banners if not b.dismissed]

    def show_banner(self, text: str, level: str = "error", action_text: str | None = None,
                    action: Callable[[], None] | None = None, key: str | None = None) -> BannerWidget:
        """Show a banner; one with the same ``key`` (or the same text) is replaced."""
        for b in self.banners():
            if (key is not None and b.key == key) or b.text == text:
                b.dismiss()
        banner = BannerWidget(text, level, action_text, action, key, self)
        banner.closed.connect(self._on_banner_closed)
        self._banners.append(banner)
        self._layout.addWidget(banner)
        while len(self.banners()) > MAX_BANNERS:
            self.banners()[0].dismiss()
        self.show()
        emit(self.banner_shown, banner)
        return banner

    def dismiss(self, key: str) -> None:
        """Close the banners shown with ``key``."""
        for b in self.banners():
            if b.key == key:
                b.dismiss()

    def _on_banner_closed(self) -> None:
        self._banners = self.banners()
        if not self._banners:
            self.hide()
