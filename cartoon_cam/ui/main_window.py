"""The main window: preview, side panel, toolbar, status bar, banners and hotkeys.

The GUI thread only paints and reacts: a 15 ms ``QTimer`` pulls the newest frame and result from the
:class:`~cartoon_cam.core.pipeline.Pipeline` (scaling them once, painting them unscaled); pipeline
events arrive through a queued signal; camera listing and thumbnail rendering run on a worker
thread (a daemon: a render still running at exit never keeps the process alive). Opening cameras and
loading models happen on the pipeline's threads.

For the outputs (snapshot, recording, virtual camera) the window offers :attr:`MainWindow.toolbar`,
:meth:`MainWindow.show_banner`, :meth:`MainWindow.show_toast` and :meth:`MainWindow.add_close_hook`
(run after the pipeline has stopped, e.g. to finalise a recording).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QMouseEvent,
)
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from ..core.frames import Frame, ResultFrame
from ..core.pipeline import EventKind, Pipeline, PipelineEvent, lower_thread_priority, style_text
from ..core.sources import CameraInfo, FrameSource, list_cameras, open_source
from ..core.stats import RateMeter
from ..errors import CartoonCamError, first_line
from ..inference.catalog import StyleCatalog, StyleLoader
from . import icons
from .app_settings import QUALITY_PRESETS, AppSettings, parse_resolution, quality_for_size
from .banner_widget import BannerAreaWidget, BannerWidget
from .controls_widget import ControlsWidget
from .preferences_dialog import PreferencesDialog
from .preview_widget import MODE_LABELS, MODES, PreviewWidget
from .qt_compat import emit
from .shortcuts_dialog import ShortcutsDialog
from .style_picker_widget import StyleChoice, StylePickerWidget
from .thumbnails import render_thumbnail
from .toast_widget import ToastWidget

log = logging.getLogger(__name__)

PREVIEW_INTERVAL_MS = 15
STATUS_INTERVAL_MS = 500
FILE_FILTER = "Videos and images (*.mp4 *.mov *.mkv *.avi *.webm *.m4v *.png *.jpg *.jpeg *.bmp *.webp);;All files (*)"


def _unavailable_choices() -> dict[str, str]:
    from ..inference.backends import unavailable_choices

    return unavailable_choices()


#: The parts a pip install or the double-click app carries, and their licences.
BUNDLED_LICENCES: tuple[tuple[str, str], ...] = (
    ("Qt / PySide6", "LGPL-3.0"), ("OpenCV", "Apache-2.0"), ("ONNX Runtime", "MIT"),
    ("OpenVINO (openvino extra)", "Apache-2.0"), ("PyAV", "BSD-3-Clause; its FFmpeg wheels carry libx264 (GPL-2.0+)"),
    ("NumPy", "BSD-3-Clause"), ("Pillow", "MIT-CMU"), ("platformdirs", "MIT"),
    ("cv2-enumerate-cameras", "MIT"), ("shtab", "MPL-2.0"), ("pyvirtualcam (vcam extra, bundled in the app)", "GPL-2.0"),
    ("PyTorch (torch extra)", "BSD-3-Clause"),
)


def about_text(styles: list[tuple[str, str]] | None = None, runtime: str = "") -> str:
    """The About dialog's text: version, the runtime in use, the licences of the app, of each
    style (``styles``: (name, licence) pairs) and of the bundled parts, and where the log file and
    crash dumps are."""
    from .. import __version__
    from ..logs import log_file

    lines = [f"cartoon_cam {__version__}", ""]
    if runtime:
        lines += [f"Running: {runtime}", ""]
    lines += ["Licences", "cartoon_cam's code: MIT. The double-click app as a whole: GPL-2.0 (it carries "
              "pyvirtualcam and PyAV's libx264).", ""]
    if styles:
        lines.append("Styles:")
        lines += [f"  {name}: {licence or 'see its file'}" for name, licence in styles]
        lines.append("")
    lines.append("Bundled parts:")
    lines += [f"  {name}: {licence}" for name, licence in BUNDLED_LICENCES]
    lines += ["", f"Log folder (send the log with a bug report): {log_file().parent}",
              f"Log file: {log_file()}", f"Crash dumps: {log_file().parent / 'crash.log'}"]
    return "\n".join(lines)


def dropped_file(mime: object) -> Path | None:
    """The first local file among a drag's URLs (None when it carries none)."""
    urls = mime.urls() if mime is not None and mime.hasUrls() else []  # type: ignore[attr-defined]
    for u in urls:
        if u.isLocalFile():
            p = Path(u.toLocalFile())
            if p.is_file():
                return p
    return None


def source_spec_of(src: FrameSource) -> str:
    """The spec the UI lists and remembers for ``src`` (cameras by name)."""
    return f"camera:{src.name}" if src.kind == "camera" else src.spec


def style_choices(catalog: StyleCatalog, extra: list[str] | tuple[str, ...] = ()) -> list[StyleChoice]:
    """Catalog styles (built-ins first), then style files given by path."""
    out = []
    for e in catalog.entries():
        m = e.manifest
        out.append(StyleChoice(m.id, m.name or m.id, m.description, m.thumbnail, m.sha256 or str(e.path), m.licence))
    for p in extra:
        if p not in {c.key for c in out}:
            out.append(StyleChoice(str(p), Path(p).stem, f"Model file {p}", "", str(p)))
    return out


class MainWindow(QMainWindow):
    """The live window over a (started or not yet started) :class:`Pipeline`.

    ``settings`` is the app's ``QSettings`` (tests pass a fresh INI file). The window reflects the
    pipeline's current mirror/strength/size/backend and persists every change the user makes.
    """

    frame_displayed = Signal(object)  # Frame painted in the original pane
    result_displayed = Signal(object)  # ResultFrame painted in the cartoon pane
    pipeline_event_received = Signal(object)  # PipelineEvent, re-emitted on the GUI thread once handled
    view_mode_changed = Signal(str)
    style_requested = Signal(str)  # a style key the user picked
    cameras_listed = Signal(list)  # list[CameraInfo]
    preferences_changed = Signal(dict)  # {schema key: value} saved by the Preferences dialog
    styles_changed = Signal()  # a style was imported or removed (the list has been reloaded)
    _worker_finished = Signal(object, object)  # (callbacks, Future) from the worker thread
    _event_posted = Signal(object)  # PipelineEvent from a pipeline thread (queued hop)

    def __init__(self, pipeline: Pipeline, settings: QSettings, *, catalog: StyleCatalog | None = None,
                 extra_styles: list[str] | tuple[str, ...] = (), resolution: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pipeline = pipeline
        self.settings = AppSettings(settings)
        self.catalog = catalog or StyleCatalog()
        self.setWindowTitle("cartoon_cam")
        self.resize(1280, 760)
        self._closing = False
        self._close_hooks: list[Callable[[], None]] = []
        self._executor = _Worker("cartoon_cam-ui")
        self._worker_finished.connect(self._on_worker_finished)
        self._shown_frame: Frame | None = None
        self.live_original = False  # side by side: newest frame (True) or the cartoon's own frame
        self._shown_result: ResultFrame | None = None
        self._pending_frame: Frame | None = None
        self._pending_result: ResultFrame | None = None
        self.original_meter = RateMeter()
        self.cartoon_meter = RateMeter()
        self._resolution = resolution if resolution is not None else self.settings.get("source/resolution")
        self._active_style = ""  # the style producing results (set by style_changed events)
        self._failed_style = ""  # the style the "style" banner is about (it stays until dismissed)
        self._pending_backend: tuple[str, str] | None = None  # chosen, not yet known to work
        self.unavailable: dict[str, str] = {}  # backends/devices this machine can't run → why
        self._cameras: list[CameraInfo] = []
        self._shortcuts_dialog: ShortcutsDialog | None = None
        self._preferences_dialog: PreferencesDialog | None = None
        self._dock_was_visible = True

        # central: the preview; banners float over its top, the toast over its bottom (neither
        # moves nor shrinks the picture)
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.preview = PreviewWidget()
        lay.addWidget(self.preview, 1)
        self.setCentralWidget(central)
        self.banners = BannerAreaWidget(self.preview)
        self.toast = ToastWidget(self.preview)
        self.preview.painted.connect(self._on_preview_painted)
        self.preview.divider_changed.connect(self._on_preview_divider_changed)
        self.preview.mouseDoubleClickEvent = self._on_preview_double_clicked  # type: ignore[method-assign]

        # side panel
        self.style_picker = StylePickerWidget()
        self.controls = ControlsWidget(self.style_picker)
        self.dock = QDockWidget("Controls", self)
        self.dock.setObjectName("controls_dock")
        self.dock.setWidget(self.controls)
        self.dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)

        # toolbar (public: the outputs controller adds Snapshot / Record / Virtual camera here)
        self.toolbar = QToolBar("Main", self)
        self.toolbar.setObjectName("main_toolbar")
        self.toolbar.setMovable(False)
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)
        self._build_actions()
        self._build_menus()
        self.setAcceptDrops(True)  # a video / picture / model file dropped on the window
        # The on-air mark: recording / virtual camera / stream, over the picture's top-right corner,
        # so it shows in every view and in fullscreen (where the toolbar is hidden).
        self.on_air = QLabel("", self.preview)
        self.on_air.setObjectName("on_air")
        self.on_air.setStyleSheet("QLabel#on_air { background: rgba(200, 20, 30, 220); color: white; "
                                  "font-weight: bold; padding: 3px 8px; border-radius: 4px; }")
        self.on_air.setAccessibleName("Recording and live outputs")
        self.on_air.hide()
        self.preview.installEventFilter(self)

        # status bar
        self.status_label = QLabel("")
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.statusBar().addPermanentWidget(self.status_label, 1)

        # wire controls
        self.style_picker.style_selected.connect(self._on_style_picker_style_selected)
        self.controls.source_chosen.connect(self._on_controls_source_chosen)
        self.controls.open_file_requested.connect(self.open_file)
        self.controls.cameras_refresh_requested.connect(self.refresh_cameras)
        self.controls.resolution_chosen.connect(self._on_controls_resolution_chosen)
        self.controls.strength_changed.connect(self._on_controls_strength_changed)
        self.controls.live_original_changed.connect(self.set_live_original)
        self.controls.quality_changed.connect(self._on_controls_quality_changed)
        self.controls.backend_changed.connect(self._on_controls_backend_changed)
        self.cameras_listed.connect(self._on_cameras_listed)
        self._event_posted.connect(self._on_pipeline_event_posted)
        pipeline.add_listener(self._post_pipeline_event)  # called on pipeline threads

        self._restore()

        self._preview_timer = QTimer(self)
        self._preview_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._preview_timer.setInterval(PREVIEW_INTERVAL_MS)
        self._preview_timer.timeout.connect(self._on_preview_timer_timeout)
        self._preview_timer.start()
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(STATUS_INTERVAL_MS)
        self._status_timer.timeout.connect(self._on_status_timer_timeout)
        self._status_timer.start()

        self.refresh_cameras()  # first: quick, and thumbnails may take a while
        self.reload_styles(extra_styles)
        self.run_in_worker(_unavailable_choices, self._on_unavailable_probed)  # imports torch: not here

    # ------------------------------------------------------------------ public API
    def show_banner(self, text: str, level: str = "error", action_text: str | None = None,
                    action: Callable[[], None] | None = None, key: str | None = None) -> BannerWidget:
        """A non-blocking message over the top of the preview (``level``: error | warning | info).
        ``key`` names its topic: a newer banner on the same topic replaces it. Info banners fold
        away by themselves; errors stay until dismissed (and have a Copy button)."""
        return self.banners.show_banner(text, level, action_text, action, key)

    def show_toast(self, text: str, action_text: str | None = None, action: Callable[[], None] | None = None) -> None:
        """A short message over the bottom of the preview that goes away by itself."""
        self.toast.show_toast(text, action_text, action)

    def title_text(self) -> str:
        """The window title: the style producing the picture (or being loaded) and the source,
        e.g. ``Hayao lite · HD Webcam — cartoon_cam``."""
        key = self._active_style or style_text(self.pipeline.requested_style)
        names = {c.key: c.name for c in self.style_picker.choices()}
        style = names.get(key) or (Path(key).stem if key else "")
        src = self.pipeline.source
        source = {"demo": "Demo scene"}.get(src.kind, src.name)
        parts = " · ".join(p for p in (style, source) if p)
        return f"{parts} — cartoon_cam" if parts else "cartoon_cam"

    def _update_title(self) -> None:
        self.setWindowTitle(self.title_text())

    def set_on_air(self, text: str) -> None:
        """Show ``text`` (e.g. ``● REC 00:12  ·  LIVE``) over the preview's top-right corner; hide
        the mark when ``text`` is empty."""
        if text != self.on_air.text():
            self.on_air.setText(text)
            self.on_air.adjustSize()
        self.on_air.setVisible(bool(text))
        self._place_on_air()

    def _place_on_air(self) -> None:
        self.on_air.move(max(0, self.preview.width() - self.on_air.width() - 8), 8)
        self.on_air.raise_()
        # the banners leave the top-right corner to the mark
        self.banners.set_reserved_right(self.on_air.width() + 8 if self.on_air.isVisible() else 0)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if obj is self.preview and event.type() == QEvent.Type.Resize:
            self._place_on_air()  # the preview changes size with the window, the panel, fullscreen
        return super().eventFilter(obj, event)

    # ------------------------------------------------------------------ drag and drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if dropped_file(event.mimeData()) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        path = dropped_file(event.mimeData())
        if path is None:
            return
        event.acceptProposedAction()
        self.open_dropped(path)

    def open_dropped(self, path: Path) -> None:
        """A dropped file: a video or picture becomes the source; a model file is imported as a
        style with the same checks as ``styles import`` (on the worker thread), then selected."""
        from ..core.sources import IMAGE_SUFFIXES
        from ..inference.importers import MODEL_SUFFIXES
        from ..media.convert import VIDEO_SUFFIXES

        suffix = path.suffix.lower()
        if suffix in IMAGE_SUFFIXES or suffix in VIDEO_SUFFIXES:
            self.set_source_spec(str(path))
            return
        if suffix not in MODEL_SUFFIXES:
            self.show_banner(f"{path.name}: not a video, picture or style model "
                             f"(models: {', '.join(MODEL_SUFFIXES)})", "warning", key="drop")
            return
        self.import_style(path)

    def style_file_filter(self) -> str:
        """The file dialog's filter for importable style models (what ``styles import`` takes)."""
        from ..inference.importers import MODEL_SUFFIXES

        return f"Style models ({' '.join('*' + s for s in MODEL_SUFFIXES)});;All files (*)"

    def import_style(self, path: str | Path) -> Future:
        """Import the model file ``path`` as a style with the checks of ``cartoon-cam styles
        import`` (load it, run a probe frame, copy it to the user's style folder), on the worker
        thread; then select it. The result (or why not) shows as a banner on the "style_import"
        topic. Returns the worker's future."""
        path = Path(path)
        self.show_toast(f"Importing {path.name}…")

        def done(entry: object) -> None:
            self.reload_styles()
            self.style_picker.select_key(entry.id)  # type: ignore[attr-defined]
            self._on_style_picker_style_selected(entry.id)  # type: ignore[attr-defined]
            self.show_banner(f"Imported {path.name} as style '{entry.id}'.", "info", key="style_import")  # type: ignore[attr-defined]
            emit(self.styles_changed)

        def failed(e: BaseException) -> None:
            self.show_banner(f"{path.name} was not imported: {first_line(e)}", "error", key="style_import")

        return self.run_in_worker(lambda: self.catalog.import_file(path), done, failed)

    def imported_styles(self) -> list[tuple[str, str]]:
        """(id, name) of the user-imported styles (the ones that can be removed)."""
        return [(e.id, e.manifest.name or e.id) for e in self.catalog.entries() if not e.builtin]

    def _confirm(self, title: str, text: str) -> bool:
        """Ask a yes/no question (No is the default)."""
        from PySide6.QtWidgets import QMessageBox

        ans = QMessageBox.question(self, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                   QMessageBox.StandardButton.No)
        return ans == QMessageBox.StandardButton.Yes

    def remove_style(self, style_id: str) -> Future | None:
        """Remove the imported style ``style_id`` after asking; built-in styles cannot be removed.
        The file is deleted on the worker thread; if the style was in use, the default style takes
        over. None when nothing is done (a built-in, or the user said no)."""
        names = dict(self.imported_styles())
        if style_id not in names:
            self.show_banner(f"'{style_id}' is not an imported style: built-in styles cannot be removed.",
                             "warning", key="style_import")
            return None
        if not self._confirm("Remove style", f"Remove the imported style '{names[style_id]}' ({style_id})?\n\n"
                             "Its file is deleted from your style folder."):
            return None
        in_use = style_id in (style_text(self.pipeline.requested_style), self._active_style)

        def work() -> tuple[Path, str]:
            path = self.catalog.remove(style_id)
            return path, (self.catalog.default_style_id() if in_use else "")

        def done(result: tuple[Path, str]) -> None:
            _path, fallback = result
            if fallback:  # before the reload, so the removed style is not kept in the list
                self._on_style_picker_style_selected(fallback)
            self.reload_styles()
            self.show_banner(f"Removed style '{names[style_id]}'.", "info", key="style_import")
            emit(self.styles_changed)

        def failed(e: BaseException) -> None:
            self.show_banner(f"'{style_id}' was not removed: {first_line(e)}", "error", key="style_import")

        return self.run_in_worker(work, done, failed)

    # ------------------------------------------------------------------ preferences
    def preferences_values(self) -> dict[str, Any]:
        """The values the Preferences dialog edits, from the settings (schema keys)."""
        from .preferences_dialog import KEYS

        out: dict[str, Any] = {}
        for k in KEYS:
            group, _, key = k.partition("/")
            out[k] = self.settings.get_output(key) if group == "outputs" else self.settings.get(k)
        return out

    def open_preferences(self) -> PreferencesDialog:
        """Show the Preferences dialog (not modal to the event loop: the picture keeps moving);
        OK saves and applies its values (:meth:`apply_preferences`)."""
        from ..paths import user_pictures_dir, user_videos_dir

        if self._preferences_dialog is None:
            d = PreferencesDialog(self.preferences_values(), snapshot_default=user_pictures_dir(),
                                  record_default=user_videos_dir(), parent=self)
            d.accepted.connect(lambda: self.apply_preferences(d.values()))
            self._preferences_dialog = d
        else:
            self._preferences_dialog.set_values(self.preferences_values())
        self._preferences_dialog.open()
        return self._preferences_dialog

    def apply_preferences(self, values: dict[str, Any]) -> None:
        """Save ``values`` (schema keys, as :meth:`preferences_values` gives them) and apply them
        now: the inference quality here, the outputs' settings through ``preferences_changed``
        (the outputs controller listens)."""
        for k, v in values.items():
            group, _, key = k.partition("/")
            if group == "outputs":
                self.settings.set_output(key, v)
            else:
                self.settings.set(k, v)
        quality = values.get("inference/quality")
        if quality is not None and quality != quality_for_size(self.pipeline.size):
            self.controls.set_quality(quality)
            self._on_controls_quality_changed(quality)
        self.settings.sync()
        emit(self.preferences_changed, dict(values))
        self.statusBar().showMessage("Preferences saved", 3000)

    def _on_import_style_action_triggered(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a style model", str(Path.home()), self.style_file_filter())
        if path:
            self.import_style(path)

    def add_close_hook(self, fn: Callable[[], None]) -> None:
        """Run ``fn()`` on close, after the pipeline has stopped (finalise outputs here)."""
        self._close_hooks.append(fn)

    def run_in_worker(self, fn: Callable[[], Any], on_done: Callable[[Any], None] | None = None,
                      on_error: Callable[[BaseException], None] | None = None) -> Future:
        """Run ``fn`` on the window's worker thread; ``on_done(result)`` / ``on_error(exc)`` run on
        the GUI thread afterwards."""
        fut = self._executor.submit(fn)
        fut.add_done_callback(lambda f: self._deliver_worker_result((on_done, on_error), f))
        return fut

    def _deliver_worker_result(self, callbacks: tuple[Any, Any], fut: Future) -> None:
        """Worker thread: hand a finished job to the GUI thread, unless the window is already gone
        (a job that outlives a closed window has no one to tell)."""
        try:
            emit(self._worker_finished, callbacks, fut)
        except RuntimeError:  # "Signal source has been deleted": the window was destroyed meanwhile
            log.debug("worker job finished after the window was closed; result dropped")

    @property
    def view_mode(self) -> str:
        return self.preview.mode

    def set_view_mode(self, mode: str) -> None:
        if mode != self.preview.mode:
            self.preview.set_mode(mode)
            self._shown_frame = self._shown_result = None  # re-fill the panes for the new layout
        for a in self._view_actions.actions():
            a.setChecked(a.data() == mode)
        self.settings.set("view/mode", mode)
        emit(self.view_mode_changed, mode)

    def select_style(self, key: str) -> None:
        """Switch to style ``key`` (an id or a path) as if picked in the list."""
        if key not in set(self.style_picker.keys()):
            self.style_picker.add_choice(StyleChoice(key, Path(key).stem, f"Model file {key}", "", key))
        self.style_picker.select_key(key)
        self._on_style_picker_style_selected(key)

    def set_source_spec(self, spec: str, *, remember: bool = True) -> None:
        """Switch the pipeline to the source ``spec`` (opened on the capture thread)."""
        try:
            src = self._make_source(spec)
        except CartoonCamError as e:
            self.show_banner(str(e), "error", key="source")
            return
        self.pipeline.set_source(src)
        self._update_title()
        self.banners.dismiss("source")
        self.banners.dismiss("camera_fallback")
        self.controls.set_current_source(spec)
        self.preview.placeholder_original = f"Opening {spec}…"
        if remember:
            if spec == "demo":
                self.settings.set("source/kind", "demo")
            elif spec.startswith("camera:"):
                self.settings.set("source/kind", "camera")
                self.settings.set("source/camera_name", spec.partition(":")[2])

    def open_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a video or an image", str(Path.home()), FILE_FILTER)
        if path:
            self.set_source_spec(path, remember=False)

    def refresh_cameras(self) -> None:
        """List cameras on the worker thread (names, never opening them)."""
        self.run_in_worker(list_cameras, lambda cams: emit(self.cameras_listed, cams),
                           lambda e: log.warning("listing cameras failed: %s", e))

    def reload_styles(self, extra: list[str] | tuple[str, ...] = ()) -> None:
        """Refill the style list from the catalog (plus ``extra`` paths) and render thumbnails."""
        extra = [*extra]
        req = style_text(self.pipeline.requested_style)
        if req not in {e.id for e in self.catalog.entries()} and req not in extra:
            extra.append(req)
        self.style_picker.set_choices(style_choices(self.catalog, extra))
        self.style_picker.select_key(req)
        self._update_title()
        for c in self.style_picker.needs_thumbnail():
            self.run_in_worker(lambda c=c: _render_thumbnail_low_priority(c.key, c.stamp, self.catalog.resolve),
                               lambda img, c=c: self.style_picker.set_thumbnail(c.key, img),
                               lambda e, c=c: log.info("no thumbnail for %s: %s", c.key, e))

    def gui_ms_per_frame(self) -> float:
        """Mean GUI-thread milliseconds per displayed update (scaling + painting)."""
        return self.preview.gui_ms.mean()

    # ------------------------------------------------------------------ construction helpers
    def _add_action(self, text: str, shortcuts: list[str] | str | None, slot: Callable[..., Any], *,
                    checkable: bool = False, toolbar: bool = False, tip: str = "", icon: str = "") -> QAction:
        act = QAction(text, self)
        seqs = [shortcuts] if isinstance(shortcuts, str) else list(shortcuts or [])
        if seqs:
            act.setShortcuts([QKeySequence(s) for s in seqs])
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        act.setCheckable(checkable)
        if icon:
            act.setIcon(icons.icon(icon))
        act.setToolTip(icons.tooltip_with_shortcut(tip or text, act))
        (act.toggled if checkable else act.triggered).connect(slot)
        self.addAction(act)  # shortcuts work even with the toolbar or panel hidden
        if toolbar:
            self.toolbar.addAction(act)
        return act

    def _build_actions(self) -> None:
        self._view_actions = QActionGroup(self)
        self._view_actions.setExclusive(True)
        for i, mode in enumerate(MODES):
            act = self._add_action(MODE_LABELS[mode], f"Ctrl+{i + 1}", lambda _=False, m=mode: self.set_view_mode(m),
                                   checkable=False, toolbar=True, icon=mode)
            act.setCheckable(True)
            act.setData(mode)
            self._view_actions.addAction(act)
        self.toolbar.addSeparator()
        self.mirror_action = self._add_action("Mirror", "M", self._on_mirror_action_toggled, checkable=True,
                                              toolbar=True, tip="Mirror the picture left/right", icon="mirror")
        self.fullscreen_action = self._add_action("Fullscreen", "F11", self._on_fullscreen_action_toggled,
                                                  checkable=True, toolbar=True, icon="fullscreen",
                                                  tip="Fullscreen (Esc or double-click leaves it)")
        controls_action = self.dock.toggleViewAction()
        controls_action.setText("Controls")
        controls_action.setIcon(icons.icon("controls"))
        controls_action.setShortcut(QKeySequence("F9"))
        controls_action.setToolTip(icons.tooltip_with_shortcut("Show or hide the controls panel", controls_action))
        self.addAction(controls_action)
        self.toolbar.addAction(controls_action)
        self.toolbar.addSeparator()  # outputs go after this
        self._add_action("Exit fullscreen", "Esc", self._on_escape_action_triggered)
        self._add_action("Next style", "Right", lambda: self.style_picker.pick_relative(+1))
        self._add_action("Previous style", "Left", lambda: self.style_picker.pick_relative(-1))
        for i in range(9):
            self._add_action(f"Style {i + 1}", str(i + 1), lambda _=False, i=i: self.style_picker.pick_index(i))
        self._add_action("Next quality preset", "Q", self._on_quality_action_triggered)
        self._add_action("Open video or image…", "Ctrl+O", self.open_file)
        self.import_style_action = self._add_action("Import style…", "Ctrl+I", self._on_import_style_action_triggered,
                                                    tip="Import a model file as a style", icon="import_style")
        self.preferences_action = self._add_action("Preferences…", "Ctrl+,", self.open_preferences,
                                                   tip="Folders, formats, virtual camera size, default quality",
                                                   icon="preferences")
        self.preferences_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self._add_action("Keyboard shortcuts", "F1", self._on_help_action_triggered)
        self.about_action = self._add_action("About", None, self._on_about_action_triggered, toolbar=True,
                                             tip="Version, licences, log file and crash dumps", icon="about")
        self.quit_action = self._add_action("Quit", QKeySequence(QKeySequence.StandardKey.Quit).toString() or "Ctrl+Q",
                                            self.close)
        self._actions_by_text = {a.text(): a for a in self.actions()}

    def _build_menus(self) -> None:
        """File / View / Style / Outputs / Help: every action of the toolbar and the shortcuts,
        with its shortcut shown. The Style menu lists every style (past the ninth too)."""
        a = self._actions_by_text
        bar = self.menuBar()
        self.file_menu = bar.addMenu("&File")
        self.file_menu.addAction(a["Open video or image…"])
        self.file_menu.addAction(self.import_style_action)
        self.file_menu.addSeparator()
        self._file_folders_end = self.file_menu.addSeparator()  # the outputs' folders go before this
        self.file_menu.addAction(self.preferences_action)
        self.file_menu.addSeparator()
        self.file_menu.addAction(self.quit_action)
        self.view_menu = bar.addMenu("&View")
        for act in self._view_actions.actions():
            self.view_menu.addAction(act)
        self.view_menu.addSeparator()
        for act in (self.mirror_action, self.fullscreen_action, self.dock.toggleViewAction()):
            self.view_menu.addAction(act)
        self.style_menu = bar.addMenu("&Style")
        self.style_menu.aboutToShow.connect(self._fill_style_menu)
        self._fill_style_menu()
        self.help_menu = bar.addMenu("&Help")
        self.help_menu.addAction(a["Keyboard shortcuts"])
        self.help_menu.addAction(self.about_action)

    def add_file_actions(self, actions: list[QAction]) -> None:
        """Put ``actions`` (e.g. the outputs' "Open snapshot folder") in the File menu, before
        Preferences."""
        for act in actions:
            self.file_menu.insertAction(self._file_folders_end, act)

    def add_outputs_menu(self, menu: QMenu) -> None:
        """The outputs controller's menu, placed before Help."""
        self.menuBar().insertMenu(self.help_menu.menuAction(), menu)

    def _fill_style_menu(self) -> None:
        m = self.style_menu
        m.clear()
        current = self.style_picker.current_key()
        for i, c in enumerate(self.style_picker.choices()):
            act = m.addAction(c.name, lambda i=i: self.style_picker.pick_index(i))
            act.setCheckable(True)
            act.setChecked(c.key == current)
            if i < 9:
                act.setShortcut(QKeySequence(str(i + 1)))
                act.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)  # shown; the window's own action fires
        m.addSeparator()
        m.addAction(self._actions_by_text["Next style"])
        m.addAction(self._actions_by_text["Previous style"])
        m.addSeparator()
        m.addAction(self.import_style_action)
        self.remove_style_menu = m.addMenu("Remove style")
        self.remove_style_menu.setToolTipsVisible(True)
        imported = self.imported_styles()
        for sid, name in imported:
            self.remove_style_menu.addAction(f"{name}…", lambda sid=sid: self.remove_style(sid))
        self.remove_style_menu.setEnabled(bool(imported))  # built-in styles cannot be removed
        self.remove_style_menu.menuAction().setToolTip(
            "Remove a style you imported" if imported else "Only imported styles can be removed; there are none")

    def shortcut_rows(self) -> list[tuple[str, str]]:
        return [
            ("1 – 9", "Pick style 1–9"), ("← / →", "Previous / next style"),
            ("Ctrl+1 / 2 / 3", "Side by side / split wipe / cartoon only"), ("M", "Mirror"),
            ("F11, double-click", "Fullscreen"), ("Esc", "Leave fullscreen"), ("Q", "Next quality preset"),
            ("F9", "Show / hide the controls"), ("Ctrl+O", "Open a video or image"),
            ("Space", "Snapshot"), ("R", "Start / stop recording"), ("V", "Virtual camera on / off"),
            ("Ctrl+I", "Import a style"), ("Ctrl+,", "Preferences"), ("F1", "This list"),
            ("Ctrl+Q", "Quit"),
        ]

    def _restore(self) -> None:
        s = self.settings
        geo = s.get("window/geometry")
        if not geo.isEmpty():
            self.restoreGeometry(geo)
        state = s.get("window/state")
        if not state.isEmpty():
            self.restoreState(state)
        self.dock.setVisible(s.get("window/controls_visible"))
        self.set_view_mode(s.get("view/mode"))
        self.set_live_original(bool(s.get("view/live_original")))
        self.preview.set_divider(s.get("view/divider"))
        p = self.pipeline
        self.mirror_action.blockSignals(True)
        self.mirror_action.setChecked(p.mirror)
        self.mirror_action.blockSignals(False)
        self.controls.set_strength(p.strength)
        self.controls.set_quality(quality_for_size(p.size))
        self.controls.set_backend(*p.backend_choice)
        spec = source_spec_of(p.source)
        self.controls.set_sources([], spec)
        if self._resolution:
            self.controls.set_resolution(self._resolution)
        self.preview.placeholder_original = f"Opening {spec}…"

    def _make_source(self, spec: str) -> FrameSource:
        try:
            res = parse_resolution(self._resolution) if self._resolution else None
        except ValueError:
            res = None
        if spec == "demo" and res is None:
            res = (640, 360)
        w, h = res if res else (None, None)
        return open_source(spec, width=w, height=h)

    # ------------------------------------------------------------------ preview
    def _on_preview_timer_timeout(self) -> None:
        f = self.pipeline.latest_frame()
        r = self.pipeline.latest_result()
        orig = cart = None
        if self.preview.mode == "side_by_side" and (self.live_original or r is None):
            # the newest frame (until the first cartoon, always: something shows while a style loads)
            if f is not None and f is not self._shown_frame:
                self._shown_frame = self._pending_frame = f
                orig = f.image
            if r is not None and r is not self._shown_result:
                self._shown_result = self._pending_result = r
                cart = r.cartoon
        elif r is not None and r is not self._shown_result:
            self._shown_result = self._pending_result = r
            orig, cart = r.source.image, r.cartoon
            self._shown_frame = self._pending_frame = r.source
        if orig is not None or cart is not None:
            self.preview.set_images(orig, cart)

    def _on_preview_painted(self) -> None:
        f, r = self._pending_frame, self._pending_result
        self._pending_frame = self._pending_result = None
        if f is not None:
            self.original_meter.mark()
            emit(self.frame_displayed, f)
        if r is not None:
            self.cartoon_meter.mark()
            self.pipeline.mark_displayed(r)
            emit(self.result_displayed, r)

    def _on_preview_divider_changed(self, x: float) -> None:
        self.settings.set("view/divider", x)

    def _on_preview_double_clicked(self, event: QMouseEvent) -> None:
        self.fullscreen_action.toggle()

    # ------------------------------------------------------------------ status
    def status_text(self) -> str:
        st = self.pipeline.stats()
        state = {"live": "", "reconnecting": " · reconnecting…", "failed": " · unavailable",
                 "starting": " · starting…", "ended": " · ended", "stopped": " · stopped"}.get(st.source_state, "")

        def ms(v: float) -> str:
            return "–" if v != v else f"{v:.0f}"

        style = st.style_id or "…"
        if st.loading_style:
            style += f" (loading {Path(st.loading_style).name}…)"
        return (f"{st.source}{state}   |   capture {st.capture_fps:.1f} fps · cartoon {st.inference_fps:.1f} fps"
                f" · shown {self.original_meter.rate():.1f} | {st.display_fps:.1f} fps"
                f" · latency {ms(st.latency_p50_ms)}/{ms(st.latency_p95_ms)} ms (p50/p95)"
                f" · dropped {st.dropped}   |   {style} · {st.backend or '–'}")

    def _on_status_timer_timeout(self) -> None:
        self.status_label.setText(self.status_text())
        self.controls.set_provider(self.pipeline.stats().backend)

    # ------------------------------------------------------------------ pipeline events
    def _post_pipeline_event(self, ev: PipelineEvent) -> None:
        """Pipeline thread → GUI thread. Only this private signal crosses threads; the public
        ``pipeline_event_received`` is emitted on the GUI thread, so no queued call can reach a
        receiver that has gone away."""
        emit(self._event_posted, ev)

    def _on_pipeline_event_posted(self, ev: PipelineEvent) -> None:
        if self._closing:
            return
        self._handle_pipeline_event(ev)
        emit(self.pipeline_event_received, ev)

    def _handle_pipeline_event(self, ev: PipelineEvent) -> None:
        kind, msg = ev.kind, ev.message
        src = self.pipeline.source
        self._update_title()
        if kind == EventKind.SOURCE_OPENED:
            self.banners.dismiss("source")
            self.controls.set_granted(src.describe())
            if src.kind == "camera":  # opened by index: now we know its name
                if self.settings.get("source/kind") == "camera":
                    self.settings.set("source/camera_name", src.name)
                self.controls.set_current_source(source_spec_of(src))
        elif kind == EventKind.SOURCE_FAILED:
            if src.kind == "camera" and self.pipeline.source_state == "failed":
                spec = source_spec_of(src)
                self.set_source_spec("demo", remember=False)
                reason = ev.reason
                self.show_banner(f"{reason} Showing the demo scene instead.", "warning", "Retry camera",
                                 lambda: self.set_source_spec(spec), key="camera_fallback")
            else:
                self.show_banner(msg, "error", key="source")
        elif kind == EventKind.SOURCE_LOST:
            self.show_banner(msg, "warning", key="source")
        elif kind == EventKind.SOURCE_RECOVERED:
            self.banners.dismiss("source")
            self.controls.set_granted(src.describe())
            self.show_toast(msg)
        elif kind == EventKind.SOURCE_ENDED:
            self.show_banner(msg, "info", key="source")
        elif kind == EventKind.STYLE_LOADING:
            self.statusBar().showMessage(msg, 3000)
        elif kind == EventKind.STYLE_CHANGED:
            if self._failed_style and ev.style == self._failed_style:
                self.banners.dismiss("style")  # the style that failed works now; else the banner stays
                self._failed_style = ""
            self._active_style = ev.style
            if self._pending_backend is not None and self._pending_backend == self.pipeline.backend_choice:
                self.settings.set("inference/backend", self._pending_backend[0])  # it works: remember it
                self.settings.set("inference/device", self._pending_backend[1])
                self._pending_backend = None
            if ev.style == style_text(self.pipeline.requested_style):  # not overtaken by a newer pick
                self.style_picker.select_key(ev.style)
            self.controls.set_provider(self.pipeline.stats().backend)
            self.statusBar().showMessage(msg, 3000)
            self._update_title()
        elif kind == EventKind.STYLE_FAILED:
            self._failed_style = ev.style
            self.show_banner(msg, "error", key="style")  # an error banner stays until dismissed
            # back to the style still running (the pipeline asks for it again), unless a newer pick
            # has overtaken the failed one: a style removed while it loaded fails late, after the
            # default took over, and the picker must keep showing the default
            if self._active_style and style_text(self.pipeline.requested_style) in (ev.style, self._active_style):
                self.style_picker.select_key(self._active_style)
                self.settings.set("style/id", self._active_style)
            # the backend/device that failed is neither kept in the pickers nor saved
            self._pending_backend = None
            self.controls.set_backend(*self.pipeline.backend_choice)
        else:
            self.show_banner(msg, "error")

    # ------------------------------------------------------------------ user actions
    def _on_style_picker_style_selected(self, key: str) -> None:
        self.pipeline.set_style(key)
        self.settings.set("style/id", key)
        emit(self.style_requested, key)

    def _on_controls_source_chosen(self, spec: str) -> None:
        self.set_source_spec(spec)

    def _on_controls_resolution_chosen(self, res: str) -> None:
        self._resolution = res
        self.settings.set("source/resolution", res)
        self.set_source_spec(source_spec_of(self.pipeline.source), remember=False)

    def set_live_original(self, on: bool) -> None:
        """Side by side: show the newest camera frame (``on``) or, by default, the frame each
        cartoon was made from (the same moment in both panes). Saved in the settings."""
        self.live_original = bool(on)
        self.settings.set("view/live_original", self.live_original)
        self.controls.set_live_original(self.live_original)
        self._shown_frame = self._shown_result = None  # re-fill both panes

    def _on_controls_strength_changed(self, strength: float) -> None:
        self.pipeline.set_strength(strength)
        self.settings.set("view/strength", strength)

    def _on_controls_quality_changed(self, key: str) -> None:
        size = QUALITY_PRESETS[key][1] if key in QUALITY_PRESETS else int(key)
        self.pipeline.set_size(size)
        self.settings.set("inference/quality", key)
        self.statusBar().showMessage(f"Inference size: {size or 'style default'}", 2000)

    def _on_quality_action_triggered(self) -> None:
        keys = list(QUALITY_PRESETS)
        cur = quality_for_size(self.pipeline.size)
        nxt = keys[(keys.index(cur) + 1) % len(keys)] if cur in keys else keys[0]
        self.controls.set_quality(nxt)
        self._on_controls_quality_changed(nxt)

    def _on_controls_backend_changed(self, backend: str, device: str) -> None:
        """Run the style on another backend/device; saved only once a style runs on it."""
        self._pending_backend = (backend, device)
        self.pipeline.set_backend(backend, device)

    def _on_unavailable_probed(self, reasons: dict[str, str]) -> None:
        self.unavailable = dict(reasons)
        self.controls.set_unavailable(self.unavailable)

    def about(self) -> str:
        """The About text for this window: its styles' licences and the runtime really in use."""
        styles = [(e.manifest.name or e.manifest.id, e.manifest.licence) for e in self.catalog.entries()]
        return about_text(styles, self.pipeline.stats().backend)

    def _on_about_action_triggered(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        box = QMessageBox(QMessageBox.Icon.NoIcon, "About cartoon_cam", self.about(),
                          QMessageBox.StandardButton.Close, self)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)  # copy a path
        box.open()  # not exec(): the window keeps painting

    def _on_mirror_action_toggled(self, on: bool) -> None:
        self.pipeline.set_mirror(on)
        self.settings.set("view/mirror", on)

    def _on_fullscreen_action_toggled(self, on: bool) -> None:
        if on:
            self._dock_was_visible = self.dock.isVisible()
            self.dock.hide()
            self.toolbar.hide()
            self.menuBar().hide()
            self.statusBar().hide()
            self.showFullScreen()
        else:
            self.showNormal()
            self.toolbar.show()
            self.menuBar().show()
            self.statusBar().show()
            self.dock.setVisible(self._dock_was_visible)

    def _on_escape_action_triggered(self) -> None:
        if self.fullscreen_action.isChecked():
            self.fullscreen_action.setChecked(False)

    def _on_help_action_triggered(self) -> None:
        if self._shortcuts_dialog is None:
            self._shortcuts_dialog = ShortcutsDialog(self.shortcut_rows(), self)
        self._shortcuts_dialog.show()
        self._shortcuts_dialog.raise_()

    # ------------------------------------------------------------------ worker + cameras
    def _on_worker_finished(self, callbacks: tuple[Callable | None, Callable | None], fut: Future) -> None:
        if self._closing or fut.cancelled():
            return
        on_done, on_error = callbacks
        exc = fut.exception()
        if exc is not None:
            if on_error is not None:
                on_error(exc)
            else:
                log.warning("background task failed: %s", exc)
        elif on_done is not None:
            on_done(fut.result())

    def _on_cameras_listed(self, cameras: list[CameraInfo]) -> None:
        self._cameras = list(cameras)
        self.controls.set_sources(self._cameras, source_spec_of(self.pipeline.source))
        if self._resolution:
            self.controls.set_resolution(self._resolution)

    # ------------------------------------------------------------------ shutdown
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        """Save the settings and hide the window at once; then stop capture → inference (≤ 1 s),
        run the outputs' close hooks (finalising a recording) and stop the worker (≤ 1 s)."""
        if not self._closing:
            self._closing = True
            self._preview_timer.stop()
            self._status_timer.stop()
            full = self.fullscreen_action.isChecked()
            if full:
                self.showNormal()
            self.settings.set("window/geometry", self.saveGeometry())
            self.settings.set("window/state", self.saveState())
            self.settings.set("window/controls_visible", self._dock_was_visible if full else self.dock.isVisible())
            self.settings.sync()
            self.hide()  # gone from the screen now, not after the shutdown below
            self.pipeline.remove_listener(self._post_pipeline_event)
            self.pipeline.stop(timeout=1.0)
            for fn in self._close_hooks:
                try:
                    fn()
                except Exception:
                    log.exception("close hook %r failed", fn)
            if not self._executor.shutdown(timeout=1.0):
                log.info("a background task (thumbnail?) is still running; it will not delay the exit")
        super().closeEvent(event)


class _Worker:
    """One daemon thread running submitted functions in order, returning :class:`Future` s.

    Unlike ``ThreadPoolExecutor`` (whose threads the interpreter joins at exit) a long job still
    running when the window closes never keeps the process alive.
    """

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[tuple[Future, Callable[[], Any]] | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def submit(self, fn: Callable[[], Any]) -> Future:
        """Queue ``fn()`` (called from one thread, the GUI's); cancelled at once after shutdown."""
        fut: Future = Future()
        if self._closed:
            fut.cancel()
            return fut
        self._jobs.put((fut, fn))
        if self._thread.ident is None:
            self._thread.start()  # on first use
        return fut

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            fut, fn = job
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn())
            except BaseException as e:  # handed to the future (and on to on_error)
                fut.set_exception(e)

    def shutdown(self, timeout: float = 1.0) -> bool:
        """Cancel the queued jobs and wait at most ``timeout`` s for the running one; True when the
        thread has ended. Idempotent."""
        if not self._closed:
            self._closed = True
            while True:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    job[0].cancel()
            self._jobs.put(None)
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()


def _render_thumbnail_low_priority(key: str, stamp: str, load: StyleLoader) -> Any:
    lower_thread_priority(5)
    return render_thumbnail(key, stamp, load)
