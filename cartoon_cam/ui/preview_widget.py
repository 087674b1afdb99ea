"""The preview: original | cartoon side by side, a split wipe with a draggable divider, or the
cartoon alone.

Images arrive as uint8 RGB HxWx3 arrays; they are scaled to their pane **once**, when they arrive
(OpenCV, area filter), and painted unscaled, so a paint costs well under a millisecond even for 720p
input. The widget keeps the scaled arrays alive for as long as the ``QImage`` s that wrap them.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QResizeEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from ..core.stats import LatencyWindow
from ..settings import VIEW_MODE_LABELS, VIEW_MODES
from .images import fit_size, scaled, wrap_rgb
from .qt_compat import emit

MODES = VIEW_MODES  # the schema's (cartoon_cam.settings)
MODE_LABELS = VIEW_MODE_LABELS
_GAP = 4
_GRAB_PX = 12


class _Pane:
    """One image: the source array, its scaled copy and the QImage wrapping that copy.

    ``rect`` is in logical (device-independent) pixels; the scaled copy has ``dpr`` times as many
    pixels each way, and the QImage says so (``setDevicePixelRatio``), so at 200 % scaling the
    picture is drawn at device pixels instead of being doubled."""

    def __init__(self) -> None:
        self.src: np.ndarray | None = None
        self.arr: np.ndarray | None = None
        self.img: QImage | None = None
        self.rect = QRect()
        self.dpr = 1.0

    def set(self, src: np.ndarray | None, box: QRect, dpr: float = 1.0) -> None:
        self.src = src
        self.fit(box, dpr)

    def fit(self, box: QRect, dpr: float | None = None) -> None:
        if dpr is not None:
            self.dpr = max(1.0, float(dpr))
        if self.src is None or box.width() <= 0 or box.height() <= 0:
            self.arr, self.img = None, None
            self.rect = QRect(box)
            return
        h, w = self.src.shape[:2]
        fw, fh = fit_size(w, h, box.width(), box.height())
        dw, dh = max(1, round(fw * self.dpr)), max(1, round(fh * self.dpr))
        self.arr = np.ascontiguousarray(scaled(self.src, dw, dh))
        self.img = wrap_rgb(self.arr)
        if self.dpr != 1.0:
            self.img.setDevicePixelRatio(self.dpr)
        self.rect = QRect(box.x() + (box.width() - fw) // 2, box.y() + (box.height() - fh) // 2, fw, fh)

    def source_rect(self, x: int, y: int, w: int, h: int) -> QRectF:
        """A rectangle of ``rect``-relative logical pixels in the image's own (device) pixels."""
        d = self.dpr
        return QRectF(x * d, y * d, w * d, h * d)


class PreviewWidget(QWidget):
    """Shows the original and the cartoon. Set images with :meth:`set_images`.

    ``painted`` is emitted after every paint; ``divider_changed`` (0..1) while the wipe is dragged.
    ``gui_ms`` holds the GUI-thread time spent per update (scaling + painting), in ms.
    """

    painted = Signal()
    divider_changed = Signal(float)
    mode_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 180)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setMouseTracking(True)
        self._mode = "side_by_side"
        self._divider = 0.5
        self._dragging = False
        self._original = _Pane()
        self._cartoon = _Pane()
        self.placeholder_original = "Starting…"
        self.placeholder_cartoon = "Loading style…"
        self.labels = True
        self.gui_ms = LatencyWindow(maxlen=120)  # wall time per update (scale + paint)
        self.gui_cpu_ms = LatencyWindow(maxlen=120)  # GUI-thread CPU time per update
        self._pending_ms = self._pending_cpu_ms = 0.0

    # -- state ------------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown view mode {mode!r} (choose from {', '.join(MODES)})")
        if mode != self._mode:
            self._mode = mode
            self._refit()
            self.setCursor(Qt.CursorShape.SplitHCursor if mode == "split" else Qt.CursorShape.ArrowCursor)
            self.update()
            emit(self.mode_changed, mode)

    @property
    def divider(self) -> float:
        return self._divider

    def set_divider(self, x: float) -> None:
        x = min(max(float(x), 0.0), 1.0)
        if x != self._divider:
            self._divider = x
            self.update()
            emit(self.divider_changed, x)

    def has_images(self) -> tuple[bool, bool]:
        return self._original.src is not None, self._cartoon.src is not None

    def set_images(self, original: np.ndarray | None = None, cartoon: np.ndarray | None = None) -> None:
        """Replace the original and/or the cartoon (None keeps the current one). uint8 RGB HxWx3."""
        t0, c0 = time.perf_counter(), time.thread_time()
        a, b = self._boxes()
        dirty = QRect()
        if original is not None:
            dirty = dirty.united(self._original.rect)
            self._original.set(original, a, self.devicePixelRatioF())
            dirty = dirty.united(self._original.rect)
        if cartoon is not None:
            dirty = dirty.united(self._cartoon.rect)
            self._cartoon.set(cartoon, b, self.devicePixelRatioF())
            dirty = dirty.united(self._cartoon.rect)
        self._pending_ms += (time.perf_counter() - t0) * 1000.0
        self._pending_cpu_ms += (time.thread_time() - c0) * 1000.0
        if self._mode == "side_by_side" and not dirty.isEmpty():
            self.update(dirty)  # only the pane that changed (the other keeps its pixels)
        else:
            self.update()

    def clear(self) -> None:
        self._original.set(None, QRect())
        self._cartoon.set(None, QRect())
        self.update()

    # -- geometry --------------------------------------------------------------------------------
    def _boxes(self) -> tuple[QRect, QRect]:
        r = self.rect()
        if self._mode == "side_by_side":
            half = (r.width() - _GAP) // 2
            return QRect(0, 0, half, r.height()), QRect(half + _GAP, 0, r.width() - half - _GAP, r.height())
        return QRect(r), QRect(r)

    def _refit(self) -> None:
        a, b = self._boxes()
        dpr = self.devicePixelRatioF()
        self._original.fit(a, dpr)
        self._cartoon.fit(b, dpr)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        self._refit()
        super().resizeEvent(event)

    # -- painting --------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        t0, c0 = time.perf_counter(), time.thread_time()
        if abs(self.devicePixelRatioF() - self._cartoon.dpr) > 1e-3:  # moved to a screen of another scale
            self._refit()
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(18, 18, 20))
        a, b = self._boxes()
        if self._mode == "side_by_side":
            self._paint_pane(p, self._original, a, self.placeholder_original, "Original")
            self._paint_pane(p, self._cartoon, b, self.placeholder_cartoon, "Cartoon")
        elif self._mode == "cartoon":
            self._paint_pane(p, self._cartoon, b, self.placeholder_cartoon, None)
        else:
            self._paint_split(p)
        p.end()
        self.gui_ms.add((self._pending_ms + (time.perf_counter() - t0) * 1000.0) / 1000.0)
        self.gui_cpu_ms.add((self._pending_cpu_ms + (time.thread_time() - c0) * 1000.0) / 1000.0)
        self._pending_ms = self._pending_cpu_ms = 0.0
        emit(self.painted)

    def _paint_pane(self, p: QPainter, pane: _Pane, box: QRect, placeholder: str, label: str | None) -> None:
        if pane.img is None:
            self._paint_text(p, box, placeholder)
            return
        p.drawImage(pane.rect.topLeft(), pane.img)
        if label and self.labels:
            self._paint_label(p, pane.rect, label)

    def _paint_split(self, p: QPainter) -> None:
        cart, orig = self._cartoon, self._original
        ref = cart if cart.img is not None else orig
        if ref.img is None:
            self._paint_text(p, self.rect(), self.placeholder_cartoon)
            return
        r = ref.rect
        x = r.x() + round(r.width() * self._divider)
        if orig.img is not None and orig.rect == r:
            p.drawImage(QRectF(r.x(), r.y(), x - r.x(), r.height()), orig.img,
                        orig.source_rect(0, 0, x - r.x(), r.height()))
        if cart.img is not None:
            p.drawImage(QRectF(x, r.y(), r.right() + 1 - x, r.height()), cart.img,
                        cart.source_rect(x - r.x(), 0, r.right() + 1 - x, r.height()))
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(QPen(QColor(255, 255, 255, 230), 2))
        p.drawLine(x, r.y(), x, r.bottom())
        p.setBrush(QColor(255, 255, 255, 230))
        p.drawEllipse(QPointF(x, r.center().y()), 9, 9)
        if self.labels:
            self._paint_label(p, r, "Original")
            self._paint_label(p, r, "Cartoon", right=True)

    def _paint_text(self, p: QPainter, box: QRect, text: str) -> None:
        p.setPen(QColor(170, 170, 180))
        f = QFont(self.font())
        f.setPointSizeF(max(9.0, f.pointSizeF() * 1.2))
        p.setFont(f)
        p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    def _paint_label(self, p: QPainter, r: QRect, text: str, right: bool = False) -> None:
        fm = p.fontMetrics()
        w, h = fm.horizontalAdvance(text) + 12, fm.height() + 6
        x = r.right() - w - 8 if right else r.x() + 8
        box = QRect(x, r.y() + 8, w, h)
        p.fillRect(box, QColor(0, 0, 0, 140))
        p.setPen(QColor(235, 235, 235))
        p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    # -- divider drag ----------------------------------------------------------------------------
    def _image_rect(self) -> QRect:
        ref = self._cartoon if self._cartoon.img is not None else self._original
        return ref.rect if ref.img is not None else self.rect()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._mode == "split" and event.button() == Qt.MouseButton.LeftButton:
            self._dragging = True
            self._drag_to(event.position().x())
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._dragging:
            self._drag_to(event.position().x())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._dragging:
            self._dragging = False
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def _drag_to(self, x: float) -> None:
        r = self._image_rect()
        if r.width() > 0:
            self.set_divider((x - r.x()) / r.width())
