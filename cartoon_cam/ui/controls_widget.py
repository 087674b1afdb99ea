"""The side panel: source and resolution, style picker and strength, inference quality and
backend/device (with the provider really in use).

It only *reports* what the user picked (signals) and *shows* what it is told (setters, which never
emit); :class:`~cartoon_cam.ui.main_window.MainWindow` applies the choices to the pipeline.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.sources import CameraInfo
from ..inference.backends import BACKENDS, DEVICES
from .app_settings import QUALITY_PRESETS
from .qt_compat import emit
from .style_picker_widget import StylePickerWidget

OPEN_FILE = "__open_file__"
CAMERA_RESOLUTIONS = ("", "640x480", "1280x720", "1920x1080")
DEMO_RESOLUTIONS = ("640x360", "1280x720")


def source_label(spec: str) -> str:
    """How a source spec reads in the source list."""
    if spec == "demo":
        return "Demo scene"
    if spec.startswith("camera:"):
        return f"Camera: {spec.partition(':')[2]}"
    return f"File: {Path(spec).name}"


_SLIDER_KEYS = (Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_Home,
                Qt.Key.Key_End, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown)


class KeyboardSlider(QSlider):
    """A slider reachable with Tab whose arrow, Home/End and Page keys move it while it has focus,
    although the window uses Left/Right as shortcuts (the shortcut otherwise wins)."""

    def __init__(self, orientation: Qt.Orientation, parent: QWidget | None = None) -> None:
        super().__init__(orientation, parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def event(self, e: QEvent) -> bool:
        if e.type() == QEvent.Type.ShortcutOverride and isinstance(e, QKeyEvent) and e.key() in _SLIDER_KEYS \
                and e.modifiers() == Qt.KeyboardModifier.NoModifier:
            e.accept()  # deliver the key to the slider, not to the window's shortcut
            return True
        return super().event(e)


def _wrapping_label(text: str) -> QLabel:
    """A word-wrapped label whose text never widens the panel (its width hint is ignored)."""
    label = QLabel(text)
    label.setWordWrap(True)
    policy = label.sizePolicy()
    policy.setHorizontalPolicy(QSizePolicy.Policy.Ignored)
    label.setSizePolicy(policy)
    return label


class ControlsWidget(QWidget):
    """Side panel; see the module docstring."""

    source_chosen = Signal(str)  # a source spec: "demo", "camera:NAME", a file path
    open_file_requested = Signal()
    cameras_refresh_requested = Signal()
    resolution_chosen = Signal(str)  # "WxH" or "" (device default)
    strength_changed = Signal(float)  # 0..1
    live_original_changed = Signal(bool)  # the original pane: newest frame (True) or the cartoon's own
    quality_changed = Signal(str)  # a QUALITY_PRESETS key
    backend_changed = Signal(str, str)  # backend, device

    def __init__(self, picker: StylePickerWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.picker = picker
        root = QVBoxLayout(self)
        root.setContentsMargins(6, 6, 6, 6)

        # source
        box = QGroupBox("Source")
        form = QFormLayout(box)
        row = QHBoxLayout()
        self.source_combo = QComboBox()
        self.source_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.source_combo.setMinimumContentsLength(14)
        self.source_combo.activated.connect(self._on_source_combo_activated)
        self.refresh_button = QToolButton()
        self.refresh_button.setText("⟳")
        self.refresh_button.setToolTip("Look for cameras again")
        self.refresh_button.clicked.connect(self.cameras_refresh_requested)
        row.addWidget(self.source_combo, 1)
        row.addWidget(self.refresh_button)
        form.addRow("Input", row)
        self.resolution_combo = QComboBox()
        self.resolution_combo.activated.connect(self._on_resolution_combo_activated)
        form.addRow("Resolution", self.resolution_combo)
        self.granted_label = _wrapping_label("")
        self.granted_label.setStyleSheet("color: gray;")
        self.granted_label.setAccessibleName("What the source delivers")
        form.addRow(self.granted_label)
        root.addWidget(box)

        # style
        box = QGroupBox("Style")
        lay = QVBoxLayout(box)
        lay.addWidget(picker, 1)
        srow = QHBoxLayout()
        srow.addWidget(QLabel("Strength"))
        self.strength_slider = KeyboardSlider(Qt.Orientation.Horizontal)
        self.strength_slider.setRange(0, 100)
        self.strength_slider.setSingleStep(5)
        self.strength_slider.setPageStep(25)
        self.strength_slider.setValue(100)
        self.strength_slider.valueChanged.connect(self._on_strength_slider_value_changed)
        self.strength_value = QLabel("100%")
        self.strength_value.setMinimumWidth(36)
        srow.addWidget(self.strength_slider, 1)
        srow.addWidget(self.strength_value)
        lay.addLayout(srow)
        self.live_original_check = QCheckBox("Original pane: newest camera frame")
        self.live_original_check.setToolTip(
            "Off (default): the original beside the cartoon is the frame the cartoon was made from, so "
            "both show the same moment. On: the newest frame, smoother beside a slow style.")
        self.live_original_check.setAccessibleName("Show the newest camera frame in the original pane")
        self.live_original_check.toggled.connect(self._on_live_original_check_toggled)
        lay.addWidget(self.live_original_check)
        root.addWidget(box, 1)

        # inference
        box = QGroupBox("Inference")
        form = QFormLayout(box)
        self.quality_combo = QComboBox()
        for key, (label, _) in QUALITY_PRESETS.items():
            self.quality_combo.addItem(label, key)
        self.quality_combo.activated.connect(self._on_quality_combo_activated)
        form.addRow("Quality", self.quality_combo)
        self.backend_combo = QComboBox()
        for b in BACKENDS:
            self.backend_combo.addItem(b, b)
        self.backend_combo.activated.connect(self._on_backend_combo_activated)
        form.addRow("Backend", self.backend_combo)
        self.device_combo = QComboBox()
        for d in DEVICES:
            self.device_combo.addItem(d, d)
        self.device_combo.activated.connect(self._on_backend_combo_activated)
        form.addRow("Device", self.device_combo)
        self.provider_label = _wrapping_label("—")
        self.provider_label.setToolTip("The backend, execution provider and precision really in use")
        form.addRow("In use", self.provider_label)
        root.addWidget(box)

        for widget, name in ((self.source_combo, "Input source"), (self.refresh_button, "Look for cameras again"),
                             (self.resolution_combo, "Capture resolution"),
                             (self.strength_slider, "Cartoon strength"), (self.strength_value, "Strength value"),
                             (self.quality_combo, "Inference quality"), (self.backend_combo, "Inference backend"),
                             (self.device_combo, "Inference device"), (self.provider_label, "Backend in use")):
            widget.setAccessibleName(name)
        self.strength_slider.setToolTip("How much of the cartoon is blended over the original (arrow keys when focused)")
        self._cameras: list[CameraInfo] = []
        self._current_spec = "demo"
        self.set_sources([], "demo")

    # -- setters (never emit) ------------------------------------------------------------------------
    def set_sources(self, cameras: list[CameraInfo], current_spec: str) -> None:
        """List the demo, ``cameras`` (by name), the current file if any, and "Open…"."""
        self._cameras = list(cameras)
        self._current_spec = current_spec
        specs = ["demo"] + [f"camera:{c.name}" for c in cameras]
        if current_spec not in specs:
            specs.append(current_spec)  # a file, or a remembered camera that is not connected
        combo = self.source_combo
        combo.blockSignals(True)
        combo.clear()
        for s in specs:
            combo.addItem(source_label(s), s)
        combo.addItem("Open video or image…", OPEN_FILE)
        combo.setCurrentIndex(specs.index(current_spec))
        combo.blockSignals(False)
        self._fill_resolutions(current_spec)

    def set_current_source(self, spec: str) -> None:
        self.set_sources(self._cameras, spec)

    def _fill_resolutions(self, spec: str, current: str | None = None) -> None:
        combo = self.resolution_combo
        prev = combo.currentData() if current is None else current
        combo.blockSignals(True)
        combo.clear()
        if spec == "demo":
            options: tuple[str, ...] = DEMO_RESOLUTIONS
        elif spec.startswith("camera"):
            options = CAMERA_RESOLUTIONS
        else:
            options = ()
        for r in options:
            combo.addItem(r or "Camera default", r)
        combo.setEnabled(bool(options))
        i = combo.findData(prev)
        combo.setCurrentIndex(i if i >= 0 else 0)
        combo.blockSignals(False)

    def set_resolution(self, res: str) -> None:
        self._fill_resolutions(self._current_spec, res)

    def set_granted(self, text: str) -> None:
        self.granted_label.setText(text)

    def set_strength(self, strength: float) -> None:
        self.strength_slider.blockSignals(True)
        self.strength_slider.setValue(round(strength * 100))
        self.strength_slider.blockSignals(False)
        self.strength_value.setText(f"{round(strength * 100)}%")

    def strength(self) -> float:
        return self.strength_slider.value() / 100.0

    def set_quality(self, key: str) -> None:
        i = self.quality_combo.findData(key)
        if i < 0:  # a custom --size
            self.quality_combo.addItem(f"Custom · {key} px", key)
            i = self.quality_combo.count() - 1
        self.quality_combo.setCurrentIndex(i)

    def set_backend(self, backend: str, device: str) -> None:
        for combo, value in ((self.backend_combo, backend), (self.device_combo, device)):
            i = combo.findData(value)
            if i < 0:
                combo.addItem(value, value)
                i = combo.count() - 1
            combo.setCurrentIndex(i)

    def set_unavailable(self, reasons: dict[str, str]) -> None:
        """Grey out the backends and devices this machine cannot run (``{"cuda": "no CUDA GPU"}``);
        their tooltip says why. The current choice stays selectable so it can be changed back."""
        from PySide6.QtCore import Qt

        for combo in (self.backend_combo, self.device_combo):
            model = combo.model()
            for i in range(combo.count()):
                value = str(combo.itemData(i))
                item = model.item(i) if hasattr(model, "item") else None
                if item is None:
                    continue
                why = reasons.get(value) or (reasons.get("cuda") if value.startswith("cuda") else None)
                item.setEnabled(not why or i == combo.currentIndex())
                combo.setItemData(i, f"Not available here: {why}" if why else None, Qt.ItemDataRole.ToolTipRole)

    def is_available(self, combo: QComboBox, value: str) -> bool:
        """False when ``value`` is greyed out in ``combo``."""
        i = combo.findData(value)
        model = combo.model()
        item = model.item(i) if i >= 0 and hasattr(model, "item") else None
        return item is None or item.isEnabled()

    def set_provider(self, text: str) -> None:
        self.provider_label.setText(text or "—")

    # -- user actions ----------------------------------------------------------------------------------
    def _on_source_combo_activated(self, index: int) -> None:
        spec = self.source_combo.itemData(index)
        if spec == OPEN_FILE:
            self.source_combo.setCurrentIndex(max(0, self.source_combo.findData(self._current_spec)))
            emit(self.open_file_requested)
            return
        if spec != self._current_spec:
            self._current_spec = spec
            self._fill_resolutions(spec)
            emit(self.source_chosen, spec)

    def _on_resolution_combo_activated(self, index: int) -> None:
        emit(self.resolution_chosen, self.resolution_combo.itemData(index))

    def _on_strength_slider_value_changed(self, value: int) -> None:
        self.strength_value.setText(f"{value}%")
        emit(self.strength_changed, value / 100.0)

    def _on_live_original_check_toggled(self, on: bool) -> None:
        emit(self.live_original_changed, bool(on))

    def set_live_original(self, on: bool) -> None:
        self.live_original_check.blockSignals(True)
        self.live_original_check.setChecked(bool(on))
        self.live_original_check.blockSignals(False)

    def _on_quality_combo_activated(self, index: int) -> None:
        emit(self.quality_changed, str(self.quality_combo.itemData(index)))

    def _on_backend_combo_activated(self, _index: int) -> None:
        emit(self.backend_changed, str(self.backend_combo.currentData()), str(self.device_combo.currentData()))
