"""Non-blocking banners: translucent strips **over** the top of the preview (the picture never moves
or shrinks when one shows), with an optional action button, a Copy button on errors and a close
button.

* At most one banner per topic: a banner shown with the same ``key`` (or, without a key, the same
  text) replaces the old one.
* Info banners fold away by themselves after :attr:`BannerAreaWidget.info_timeout_ms`; errors and
  warnings stay until closed (or replaced). An error's text can be selected and copied.
* Level icons are Qt's standard message-box pixmaps and the close mark is ``×`` (Latin-1): nothing
  depends on an emoji font.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .qt_compat import emit

LEVELS: dict[str, tuple[str, str, QStyle.StandardPixmap]] = {
    # level: (translucent background, text colour, standard icon)
    "error": ("rgba(150, 28, 24, 232)", "#ffffff", QStyle.StandardPixmap.SP_MessageBoxCritical),
    "warning": ("rgba(120, 88, 0, 232)", "#ffffff", QStyle.StandardPixmap.SP_MessageBoxWarning),
    "info": ("rgba(28, 72, 128, 225)", "#ffffff", QStyle.StandardPixmap.SP_MessageBoxInformation),
}
INFO_TIMEOUT_MS = 6000
MAX_BANNERS = 3
MARGIN = 8  # px between the banners and the edges of the picture
_BUTTON_CSS = ("QPushButton { background: rgba(255, 255, 255, 38); color: #ffffff; border: 1px solid "
               "rgba(255, 255, 255, 120); border-radius: 3px; padding: 2px 10px; }"
               " QPushButton:hover { background: rgba(255, 255, 255, 72); }"
               " QToolButton { color: #ffffff; border: none; font-size: 15px; padding: 0 4px; }"
               " QToolButton:hover { background: rgba(255, 255, 255, 50); border-radius: 3px; }")


class BannerWidget(QFrame):
    """One message. ``closed`` is emitted when it goes (by the user, :meth:`dismiss` or timeout).

    ``timeout_ms``: fold away after that long (None: stay until dismissed).
    """

    closed = Signal()
    action_triggered = Signal()
    copied = Signal(str)

    def __init__(self, text: str, level: str = "error", action_text: str | None = None,
                 action: Callable[[], None] | None = None, key: str | None = None,
                 parent: QWidget | None = None, *, timeout_ms: int | None = None) -> None:
        super().__init__(parent)
        if level not in LEVELS:
            raise ValueError(f"banner level must be one of {', '.join(LEVELS)}")
        self.level, self.key, self.text = level, key, text
        bg, fg, icon_kind = LEVELS[level]
        self.setObjectName("banner")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(f"QFrame#banner {{ background: {bg}; border-radius: 5px; }}"
                           f" QLabel {{ color: {fg}; background: transparent; }}" + _BUTTON_CSS)
        self.setAccessibleName(f"{level.capitalize()} message")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 6, 6)
        lay.setSpacing(8)
        self.icon = QLabel()
        self.icon.setPixmap(self.style().standardIcon(icon_kind).pixmap(18, 18))
        self.icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        # selectable (and so copyable with Ctrl+C) without taking keyboard focus from the window
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setAccessibleName(text)
        lay.addWidget(self.icon)
        lay.addWidget(self.label, 1)
        self.action_button: QPushButton | None = None
        if action_text:
            self.action_button = self._button(action_text, self._on_action_button_clicked)
            lay.addWidget(self.action_button)
            if action is not None:
                self.action_triggered.connect(action)
        self.copy_button: QPushButton | None = None
        if level == "error":
            self.copy_button = self._button("Copy", self.copy)
            self.copy_button.setToolTip("Copy this message (e.g. for a bug report)")
            lay.addWidget(self.copy_button)
        self.close_button = QToolButton()
        self.close_button.setText("×")
        self.close_button.setToolTip("Dismiss")
        self.close_button.setAccessibleName("Dismiss message")
        self.close_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.close_button.clicked.connect(self.dismiss)
        lay.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        self._done = False
        self.timer: QTimer | None = None
        if timeout_ms is not None:
            self.timer = QTimer(self)
            self.timer.setSingleShot(True)
            self.timer.timeout.connect(self.dismiss)
            self.timer.start(max(0, int(timeout_ms)))

    @staticmethod
    def _button(text: str, slot: Callable[[], None]) -> QPushButton:
        b = QPushButton(text)
        b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keep Space / R / V for the window
        b.setCursor(Qt.CursorShape.PointingHandCursor)
        b.clicked.connect(slot)
        return b

    def _on_action_button_clicked(self) -> None:
        emit(self.action_triggered)
        self.dismiss()

    def copy(self) -> None:
        """Put the message on the clipboard."""
        QGuiApplication.clipboard().setText(self.text)
        if self.copy_button is not None:
            self.copy_button.setText("Copied")
        emit(self.copied, self.text)

    def dismiss(self) -> None:
        if self._done:
            return
        self._done = True
        if self.timer is not None:
            self.timer.stop()
        self.hide()
        emit(self.closed)
        self.deleteLater()

    @property
    def dismissed(self) -> bool:
        return self._done


class BannerAreaWidget(QWidget):
    """The banners (newest last, at most :data:`MAX_BANNERS`), floating over the top of ``parent``
    (the preview): a child widget placed over it, not a row of the window's layout, so the picture
    keeps its size. It follows the parent's width and leaves :meth:`set_reserved_right` pixels free
    at the right (for the on-air mark)."""

    banner_shown = Signal(object)  # the BannerWidget

    def __init__(self, parent: QWidget | None = None, *, info_timeout_ms: int = INFO_TIMEOUT_MS) -> None:
        super().__init__(parent)
        self.setObjectName("banner_area")
        self.info_timeout_ms = info_timeout_ms  #: how long an info banner stays (tests shorten it)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(4)
        self._banners: list[BannerWidget] = []
        self._reserved_right = 0
        if parent is not None:
            parent.installEventFilter(self)
        self.hide()

    def banners(self) -> list[BannerWidget]:
        return [b for b in self._banners if not b.dismissed]

    def show_banner(self, text: str, level: str = "error", action_text: str | None = None,
                    action: Callable[[], None] | None = None, key: str | None = None) -> BannerWidget:
        """Show a banner; one on the same topic (the same ``key``, or the same text) is replaced."""
        if level not in LEVELS:
            raise ValueError(f"banner level must be one of {', '.join(LEVELS)}")
        for b in self.banners():
            if (key is not None and b.key == key) or b.text == text:
                b.dismiss()
        timeout = self.info_timeout_ms if level == "info" else None
        banner = BannerWidget(text, level, action_text, action, key, self, timeout_ms=timeout)
        banner.closed.connect(self._on_banner_closed)
        self._banners.append(banner)
        self._layout.addWidget(banner)
        banner.ensurePolished()
        banner.show()  # now, so that relayout() counts it
        while len(self.banners()) > MAX_BANNERS:
            self.banners()[0].dismiss()
        self.show()
        self.raise_()
        self.relayout()
        emit(self.banner_shown, banner)
        return banner

    def dismiss(self, key: str) -> None:
        """Close the banners shown with ``key``."""
        for b in self.banners():
            if b.key == key:
                b.dismiss()

    def set_reserved_right(self, px: int) -> None:
        """Keep ``px`` pixels at the parent's right edge free (something else sits there)."""
        if px != self._reserved_right:
            self._reserved_right = max(0, int(px))
            self.relayout()

    def relayout(self) -> None:
        """Fit over the top of the parent: its width (less the margins and the reserved part),
        as tall as the banners need."""
        p = self.parentWidget()
        if p is None or not self.banners():
            return
        w = max(120, p.width() - 2 * MARGIN - self._reserved_right)
        self._layout.activate()
        h = self._layout.totalHeightForWidth(w) if self._layout.hasHeightForWidth() else -1
        if h <= 0:
            h = self._layout.totalSizeHint().height()
        self.setGeometry(MARGIN, MARGIN, w, min(h, max(40, p.height() - 2 * MARGIN)))

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if obj is self.parentWidget() and event.type() == QEvent.Type.Resize:
            self.relayout()
        return False

    def _on_banner_closed(self) -> None:
        self._banners = self.banners()
        if not self._banners:
            self.hide()
        else:
            self.relayout()  # the closed one is hidden: it no longer takes room
