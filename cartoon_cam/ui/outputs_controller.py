"""Snapshots (Space), recording (R), the virtual camera (V) and the live stream in the main window.

:class:`OutputsController` adds the toolbar actions, hotkeys and an options menu to the window,
keeps the choices (folders, formats, layouts, mirror) in ``QSettings`` under ``outputs/``, and
drives the Qt-free outputs of :mod:`cartoon_cam.outputs`, built from the one list of them
(:data:`cartoon_cam.outputs.registry.OUTPUTS`) and run in an ``OutputSet``, as ``cartoon-cam live``
does:

* the GUI thread never waits on I/O: files are opened, written and finalised on worker threads;
  their events come back through a queued signal;
* errors show as banners on the window, successes as small toasts with an "Open folder" action;
* the stream's action shows its bitrate while live (dropped frames in its tooltip), and says when it
  is reconnecting;
* closing the window (or quitting) finalises a recording and turns the virtual camera off, within
  one overall deadline (:data:`SHUTDOWN_TIMEOUT_S`); a recording that needs longer is finished by
  :meth:`OutputsController.wait_finished` before the process exits.

The window needs ``toolbar`` (``QToolBar``), ``show_banner(text, level, action_text=None,
action=None, key=None)`` (``key``: the output the message is about, one banner each) and ``show_toast(text, action_text=None, action=None)``, and may offer
``add_close_hook(fn)`` (else a close-event filter is used); the pipeline needs
``latest_result()``, ``add_sink``/``remove_sink`` and ``source_fps``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QObject,
    QSettings,
    Qt,
    QTimer,
    QUrl,
    Signal,
    Slot,
)
from PySide6.QtGui import QAction, QActionGroup, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu, QToolButton

from ..errors import OutputError
from ..files import unique_path
from ..outputs.compose import OutputEvent
from ..outputs.recorder import Recorder
from ..outputs.registry import KINDS, OutputOptions, OutputSet
from ..outputs.snapshot import SnapshotWriter
from ..outputs.stream import StreamOutput
from ..outputs.virtual_camera import CameraFactory, VirtualCamera
from ..paths import user_pictures_dir, user_videos_dir
from ..settings import OUTPUT_CHOICES, OUTPUT_DEFAULTS, RECORD_QUALITY, validate_output
from . import icons
from .qt_compat import emit

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_S = 10.0  # closing the window: all the outputs together
_LAYOUT_LABELS = {"cartoon": "Cartoon", "original": "Original", "side_by_side": "Side by side"}
DEFAULTS = OUTPUT_DEFAULTS  # the schema's (cartoon_cam.settings)


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:d}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


class OutputsController(QObject):
    """Toolbar actions, hotkeys and settings for snapshots, recording and the virtual camera."""

    recording_changed = Signal(bool)
    virtual_camera_changed = Signal(bool)
    streaming_changed = Signal(bool)
    snapshot_saved = Signal(object)  # Path
    _event_received = Signal(object)  # OutputEvent, emitted on worker threads
    _job_done = Signal(object, object, object)  # then(result, error), result, error

    def __init__(self, window, pipeline, settings: Any = None, *,
                 camera_factory: CameraFactory | None = None) -> None:
        """``settings``: a ``QSettings``, or an object holding one as ``.qsettings`` (AppSettings)."""
        super().__init__(window)
        self.window = window
        self.pipeline = pipeline
        qs = getattr(settings, "qsettings", settings)
        self.settings: QSettings = qs if qs is not None else QSettings()
        self._camera_factory = camera_factory
        self.outputs = OutputSet(pipeline)  # the running recorder / virtual camera / stream
        self._record_pending = False
        self._stream_pending = False
        self._pending_stream: StreamOutput | None = None
        self._pending_recorder: Recorder | None = None
        self._jobs: list[threading.Thread] = []
        self._finishing: list[Recorder] = []  # recordings still being finalised after shutdown
        self._shut = False
        self._groups: dict[str, QActionGroup] = {}  # the Outputs menu's choices, by setting
        self.snapshots: SnapshotWriter = KINDS["snapshot"].build(OutputOptions(  # type: ignore[assignment]
            on_event=self._post_event, snapshot_dir=self.snapshot_dir,
            snapshot_format=self._get("snapshot_format"), snapshot_layout=self._get("snapshot_layout")))
        self._event_received.connect(self._on_output_event, Qt.ConnectionType.QueuedConnection)
        self._job_done.connect(self._on_job_done, Qt.ConnectionType.QueuedConnection)
        self._build_actions()
        self._timer = QTimer(self)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self._on_timer_timeout)
        if hasattr(window, "preferences_changed"):  # MainWindow's Preferences dialog
            window.preferences_changed.connect(self.apply_settings)
        if hasattr(window, "add_close_hook"):  # MainWindow: runs after the pipeline has stopped
            window.add_close_hook(self.shutdown)
        else:
            window.installEventFilter(self)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # ------------------------------------------------------------------ settings
    def _get(self, key: str) -> Any:
        return validate_output(key, self.settings.value(f"outputs/{key}", DEFAULTS.get(key)))

    @property
    def recorder(self) -> Recorder | None:
        return self.outputs.get("recorder")  # type: ignore[return-value]

    @property
    def virtual_camera(self) -> VirtualCamera | None:
        return self.outputs.get("virtual_camera")  # type: ignore[return-value]

    @property
    def stream(self) -> StreamOutput | None:
        return self.outputs.get("stream")  # type: ignore[return-value]

    def _options(self) -> OutputOptions:
        """What the outputs are asked to do, from the settings (and the pipeline's frame rate)."""
        w, h = (int(v) for v in str(self._get("vcam_size")).split("x"))
        return OutputOptions(
            on_event=self._post_event, fps=self.pipeline.source_fps,
            record_layout=self._get("record_layout"), audio=bool(self._get("record_audio")),
            record_crf=RECORD_QUALITY[self._get("record_quality")][1],
            vcam_size=(w, h), vcam_layout=self._get("vcam_layout"),
            vcam_mirror=bool(self._get("vcam_mirror")), camera_factory=self._camera_factory,
            stream_url=str(self._get("stream_url") or "").strip() or None,
            stream_layout=self._get("stream_layout"), stream_audio=bool(self._get("record_audio")))

    def _set(self, key: str, value: Any) -> None:
        self.settings.setValue(f"outputs/{key}", value)

    @property
    def snapshot_dir(self) -> Path:
        v = self._get("snapshot_dir")
        return Path(v).expanduser() if v else user_pictures_dir()

    @property
    def record_dir(self) -> Path:
        v = self._get("record_dir")
        return Path(v).expanduser() if v else user_videos_dir()

    def apply_settings(self, _changed: dict[str, Any] | None = None) -> None:
        """Take the saved settings into use now (after the Preferences dialog saved them; its
        ``preferences_changed`` payload is not needed: the settings are read back). The snapshot
        folder and format apply to the next snapshot, the recording folder and quality to the next
        recording, the virtual-camera size the next time it is turned on; the Outputs menu's
        choices follow."""
        self.snapshots.fmt = self._get("snapshot_format")
        self.snapshots.folder = self.snapshot_dir
        for key, group in self._groups.items():
            current = self._get(key)
            for a in group.actions():
                a.setChecked(a.data() == current)

    def set_snapshot_dir(self, folder: str | Path) -> None:
        self._set("snapshot_dir", str(folder))
        self.snapshots.folder = Path(folder)

    def set_record_dir(self, folder: str | Path) -> None:
        self._set("record_dir", str(folder))

    # ------------------------------------------------------------------ actions
    def _action(self, text: str, slot: Callable, key: QKeySequence | None = None, tip: str = "",
                checkable: bool = False, icon: str = "") -> QAction:
        a = QAction(text, self.window)
        if key is not None:
            a.setShortcut(key)
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if icon:
            a.setIcon(icons.icon(icon))
        a.setToolTip(icons.tooltip_with_shortcut(tip or text, a))
        a.setCheckable(checkable)
        (a.toggled if checkable else a.triggered).connect(slot)
        self.window.addAction(a)  # hotkeys work even when the toolbar is hidden
        return a

    def _build_actions(self) -> None:
        self.snapshot_action = self._action("Snapshot", self.take_snapshot,
                                            QKeySequence(Qt.Key.Key_Space), "Save a picture", icon="snapshot")
        self.record_action = self._action("Record", self.set_recording, QKeySequence(Qt.Key.Key_R),
                                          "Start / stop recording", checkable=True, icon="record")
        self.vcam_action = self._action("Virtual camera", self.set_virtual_camera,
                                        QKeySequence(Qt.Key.Key_V),
                                        "Send to a virtual camera (OBS, Zoom, Meet…)", checkable=True,
                                        icon="virtual_camera")
        self.stream_action = self._action("Stream", self.set_streaming, None,
                                          "Stream live to a server (rtmp://, udp://, srt://)",
                                          checkable=True, icon="stream")
        self.menu = self._build_menu()
        if hasattr(self.window, "add_outputs_menu"):
            self.window.add_outputs_menu(self.menu)
        self.open_snapshot_folder_action = QAction("Open snapshot folder", self.window)
        self.open_snapshot_folder_action.triggered.connect(lambda: self.open_folder(self.snapshot_dir))
        self.open_record_folder_action = QAction("Open recording folder", self.window)
        self.open_record_folder_action.triggered.connect(lambda: self.open_folder(self.record_dir))
        if hasattr(self.window, "add_file_actions"):  # MainWindow: File → Open snapshot folder
            self.window.add_file_actions([self.open_snapshot_folder_action, self.open_record_folder_action])
        toolbar = getattr(self.window, "toolbar", None)
        if toolbar is None:
            toolbar = self.window.addToolBar("Outputs")
        toolbar.addSeparator()
        for a in (self.snapshot_action, self.record_action, self.vcam_action, self.stream_action):
            toolbar.addAction(a)
        button = QToolButton(toolbar)
        button.setText("Outputs")
        button.setIcon(icons.icon("outputs"))
        button.setToolButtonStyle(toolbar.toolButtonStyle())
        button.setAccessibleName("Outputs options")
        button.setToolTip("Folders, formats and what each output shows")
        button.setMenu(self.menu)
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keep Space/R/V for the window
        toolbar.addWidget(button)

    def _choice(self, menu: QMenu, title: str, key: str, options: dict[str, str],
                on_change: Callable[[str], None] | None = None) -> QActionGroup:
        sub = menu.addMenu(title)
        group = QActionGroup(sub)
        group.setExclusive(True)
        current = self._get(key)
        for value, label in options.items():
            a = sub.addAction(label)
            a.setCheckable(True)
            a.setChecked(value == current)
            a.setData(value)
            group.addAction(a)

        def changed(action: QAction) -> None:
            self._set(key, action.data())
            if on_change is not None:
                on_change(action.data())

        group.triggered.connect(changed)
        self._groups[key] = group
        return group

    def _build_menu(self) -> QMenu:
        m = QMenu("Outputs", self.window)
        self._choice(m, "Snapshot format", "snapshot_format", {"png": "PNG", "jpeg": "JPEG"},
                     lambda v: setattr(self.snapshots, "fmt", v))
        self._choice(m, "Snapshot shows", "snapshot_layout", _LAYOUT_LABELS,
                     lambda v: setattr(self.snapshots, "layout", v))
        m.addAction("Snapshot folder…", self._on_choose_snapshot_dir)
        m.addAction("Open snapshot folder", lambda: self.open_folder(self.snapshot_dir))
        m.addSeparator()
        self._choice(m, "Recording shows", "record_layout",
                     {k: _LAYOUT_LABELS[k] for k in ("cartoon", "side_by_side")})
        audio = m.addAction("Record microphone")
        audio.setCheckable(True)
        audio.setChecked(bool(self._get("record_audio")))
        audio.toggled.connect(lambda on: self._set("record_audio", bool(on)))
        m.addAction("Recording folder…", self._on_choose_record_dir)
        m.addAction("Open recording folder", lambda: self.open_folder(self.record_dir))
        m.addSeparator()
        self._choice(m, "Virtual camera shows", "vcam_layout",
                     {k: _LAYOUT_LABELS[k] for k in ("cartoon", "side_by_side")},
                     self._on_vcam_layout_changed)
        mirror = m.addAction("Mirror virtual camera")
        mirror.setCheckable(True)
        mirror.setChecked(bool(self._get("vcam_mirror")))
        mirror.toggled.connect(self._on_vcam_mirror_toggled)
        self._choice(m, "Virtual camera size", "vcam_size", {s: s for s in OUTPUT_CHOICES["vcam_size"]})
        m.addSeparator()
        self._choice(m, "Stream shows", "stream_layout",
                     {k: _LAYOUT_LABELS[k] for k in ("cartoon", "side_by_side")})
        m.addAction("Stream URL…", self._on_choose_stream_url)
        return m

    @Slot()
    def _on_choose_stream_url(self) -> None:
        from PySide6.QtWidgets import QInputDialog, QLineEdit

        url, ok = QInputDialog.getText(self.window, "Stream URL",
                                       "rtmp://server/app/stream-key, udp://host:port or srt://host:port",
                                       QLineEdit.EchoMode.Password, str(self._get("stream_url") or ""))
        if ok:
            self.set_stream_url(url)

    def set_stream_url(self, url: str) -> None:
        """Remember the stream URL (used the next time the stream starts)."""
        self._set("stream_url", url.strip())

    @Slot()
    def _on_choose_snapshot_dir(self) -> None:
        d = QFileDialog.getExistingDirectory(self.window, "Snapshot folder", str(self.snapshot_dir))
        if d:
            self.set_snapshot_dir(d)

    @Slot()
    def _on_choose_record_dir(self) -> None:
        d = QFileDialog.getExistingDirectory(self.window, "Recording folder", str(self.record_dir))
        if d:
            self.set_record_dir(d)

    def _on_vcam_layout_changed(self, layout: str) -> None:
        if self.virtual_camera is not None:
            self.virtual_camera.layout = layout

    def _on_vcam_mirror_toggled(self, on: bool) -> None:
        self._set("vcam_mirror", bool(on))
        if self.virtual_camera is not None:
            self.virtual_camera.mirror = bool(on)

    def open_folder(self, folder: Path) -> None:
        """Show ``folder`` in the system file manager (created first if it is not there yet)."""
        try:
            Path(folder).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            self.window.show_banner(f"Cannot open {folder}: {e.strerror or e}", "error", key="folder")
            return
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def _post_event(self, ev: OutputEvent) -> None:
        """Called on the outputs' threads: hand the event to the GUI thread."""
        emit(self._event_received, ev)

    # ------------------------------------------------------------------ background jobs
    def _background(self, work: Callable[[], Any], then: Callable[[Any, Exception | None], None]) -> None:
        def runner() -> None:
            try:
                result, error = work(), None
            except Exception as e:
                result, error = None, e
            emit(self._job_done, then, result, error)

        t = threading.Thread(target=runner, name="cartoon_cam-outputs-io", daemon=True)
        self._jobs = [j for j in self._jobs if j.is_alive()] + [t]
        t.start()

    @Slot(object, object, object)
    def _on_job_done(self, then, result, error) -> None:
        then(result, error)

    # ------------------------------------------------------------------ snapshot
    @Slot()
    def take_snapshot(self) -> None:
        """Save the newest result (Space). Confirmed by a toast; errors show as a banner."""
        result = self.pipeline.latest_result()
        if result is None:
            self.window.show_toast("No picture yet.")
            return
        self.snapshots.folder = self.snapshot_dir
        self.snapshots.save(result)  # reports through _event_received

    # ------------------------------------------------------------------ recording
    @property
    def is_recording(self) -> bool:
        return self.recorder is not None

    @Slot(bool)
    def set_recording(self, on: bool) -> None:
        """Start or stop recording (R)."""
        if on and self.recorder is None and not self._record_pending:
            self._start_recording()
        elif not on and self.recorder is not None:
            self._stop_recording()
        self._sync_record_action()

    def _start_recording(self) -> None:
        name = datetime.now().strftime("cartoon-cam_%Y-%m-%d_%H-%M-%S.mp4")
        # a new name every time (two recordings in one second get -2, -3…): never over a file
        opts = self._options()
        opts.record_path = unique_path(self.record_dir / name)
        rec: Recorder = KINDS["recorder"].build(opts)  # type: ignore[assignment]
        self._record_pending = True
        self._pending_recorder = rec
        self.record_action.setEnabled(False)
        self._background(rec.start, lambda _r, err: self._on_recorder_started(rec, err))

    def _on_recorder_started(self, rec: Recorder, error: Exception | None) -> None:
        self._record_pending = False
        self._pending_recorder = None
        self.record_action.setEnabled(True)
        if error is not None:
            msg = str(error) if isinstance(error, OutputError) else f"Could not start recording: {error}"
            self.window.show_banner(msg, "error", key="recorder")
        elif self._shut:  # the window closed while the file was being opened
            rec.stop()
        else:
            self.outputs.attach(rec)
            self._timer.start()
            emit(self.recording_changed, True)
        self._sync_record_action()

    def _stop_recording(self, wait: float | None = None) -> None:
        """Stop the recording; ``wait``: finalise it here, waiting at most that many seconds."""
        rec = self.outputs.detach("recorder")
        if rec is None:
            return
        emit(self.recording_changed, False)
        if wait is not None:
            self._finish(rec, wait)
        else:
            self._background(rec.stop, lambda _info, _err: None)  # "stopped" event → toast

    def _sync_record_action(self) -> None:
        on = self.recorder is not None
        self.record_action.blockSignals(True)
        self.record_action.setChecked(on or self._record_pending)
        self.record_action.blockSignals(False)
        if on:
            self.record_action.setText(f"■ {_clock(self.recorder.elapsed)}")
        else:
            self.record_action.setText("Record")
        self._maybe_stop_timer()

    def _maybe_stop_timer(self) -> None:
        self._sync_on_air()
        if not self.outputs.items():
            self._timer.stop()

    def on_air_text(self) -> str:
        """What the window's on-air mark says: ``● REC 00:12``, ``LIVE`` (virtual camera),
        ``● STREAM 2.1 Mbit/s`` — those running, in that order; "" when none is."""
        parts = []
        if self.recorder is not None:
            parts.append(f"● REC {_clock(self.recorder.elapsed)}")
        if self.virtual_camera is not None:
            parts.append("LIVE")
        st = self.stream
        if st is not None:
            s = st.stats()
            parts.append(f"● STREAM {(s.bitrate_bps or 0) / 1e6:.1f} Mbit/s" if s.state == "running"
                         else "● STREAM reconnecting…")
        return "  ·  ".join(parts)

    def _sync_on_air(self) -> None:
        if hasattr(self.window, "set_on_air"):
            self.window.set_on_air(self.on_air_text())

    # ------------------------------------------------------------------ virtual camera
    @Slot(bool)
    def set_virtual_camera(self, on: bool) -> None:
        """Turn the virtual camera on or off (V)."""
        if on and self.virtual_camera is None:
            vc: VirtualCamera = KINDS["virtual_camera"].build(self._options())  # type: ignore[assignment]
            latest = self.pipeline.latest_result()
            if latest is not None:
                vc.submit(latest)
            self.outputs.attach(vc)
            vc.open()  # opens the device on its own thread; failures come back as events
            self._timer.start()
            emit(self.virtual_camera_changed, True)
        elif not on and self.virtual_camera is not None:
            self._stop_virtual_camera()
        self._sync_vcam_action()

    def _stop_virtual_camera(self, wait: float | None = None) -> None:
        """Turn the virtual camera off; ``wait``: join its thread here, at most that many seconds."""
        vc = self.outputs.detach("virtual_camera")
        if vc is None:
            return
        emit(self.virtual_camera_changed, False)
        if wait is not None:
            vc.stop(timeout=wait)
        else:
            self._background(vc.stop, lambda _r, _e: None)

    def _sync_vcam_action(self) -> None:
        self.vcam_action.blockSignals(True)
        self.vcam_action.setChecked(self.virtual_camera is not None)
        self.vcam_action.blockSignals(False)
        self._maybe_stop_timer()

    # ------------------------------------------------------------------ live stream
    @property
    def is_streaming(self) -> bool:
        return self.stream is not None

    @Slot(bool)
    def set_streaming(self, on: bool) -> None:
        """Start or stop the live stream to the URL in the settings (``Stream URL…``)."""
        if on and self.stream is None and not self._stream_pending:
            self._start_stream()
        elif not on and self.stream is not None:
            self._stop_stream()
        self._sync_stream_action()

    def _start_stream(self) -> None:
        opts = self._options()
        if not opts.stream_url:
            self.window.show_banner("Set a stream URL first (Outputs → Stream URL…).", "warning", key="stream")
            return
        try:
            st: StreamOutput = KINDS["stream"].build(opts)  # type: ignore[assignment]
        except Exception as e:  # InputError: unsupported scheme, no host
            self.window.show_banner(str(e), "error", key="stream")
            return
        self._stream_pending = True
        self._pending_stream = st
        self.stream_action.setEnabled(False)
        self._background(st.open, lambda _r, err: self._on_stream_started(st, err))  # may open a microphone

    def _on_stream_started(self, st: StreamOutput, error: Exception | None) -> None:
        self._stream_pending = False
        self._pending_stream = None
        self.stream_action.setEnabled(True)
        if error is not None:
            self.window.show_banner(f"Could not start the stream: {error}", "error", key="stream")
        elif self._shut:
            st.close(timeout=0.0)
        else:
            self.outputs.attach(st)  # connects on its own thread; events say how it goes
            self._timer.start()
            emit(self.streaming_changed, True)
        self._sync_stream_action()

    def _stop_stream(self, wait: float | None = None) -> None:
        st = self.outputs.detach("stream")
        if st is None:
            return
        emit(self.streaming_changed, False)
        if wait is not None:
            st.close(timeout=wait)
        else:
            self._background(st.close, lambda _r, _e: None)

    def _sync_stream_action(self) -> None:
        st = self.stream
        self.stream_action.blockSignals(True)
        self.stream_action.setChecked(st is not None or self._stream_pending)
        self.stream_action.blockSignals(False)
        if st is None:
            self.stream_action.setText("Stream")
            self.stream_action.setToolTip("Stream live to a server (rtmp://, udp://, srt://)")
        else:
            s = st.stats()
            live = (f"● LIVE {(s.bitrate_bps or 0) / 1e6:.1f} Mbit/s" if s.state == "running"
                    else "● reconnecting…")
            self.stream_action.setText(live)
            self.stream_action.setToolTip(f"Streaming to {st.where}: {s.frames} frames sent, "
                                          f"{s.dropped} dropped")
        self._maybe_stop_timer()

    # ------------------------------------------------------------------ events
    @Slot(object)
    def _on_output_event(self, ev: OutputEvent) -> None:
        if ev.output == "snapshot":
            if ev.kind == "saved" and ev.path is not None:
                folder = ev.path.parent
                self.window.show_toast(f"Saved {ev.path.name}", "Open folder",
                                       lambda: self.open_folder(folder))
                emit(self.snapshot_saved, ev.path)
            elif ev.kind == "error":
                self.window.show_banner(ev.message, "error", key=ev.output)
        elif ev.output == "recorder":
            if ev.kind == "error":
                if self.recorder is not None and str(self.recorder.path) == str(ev.path):
                    self._stop_recording()
                    self._sync_record_action()
                self.window.show_banner(ev.message, "error", key=ev.output)
            elif ev.kind == "warning":
                self.window.show_banner(ev.message, "warning", key=ev.output)
            elif ev.kind == "stopped" and ev.path is not None:
                folder = ev.path.parent
                self.window.show_toast(ev.message, "Open folder", lambda: self.open_folder(folder))
        elif ev.output == "virtual_camera":
            if ev.kind == "error":
                if self.virtual_camera is not None and self.virtual_camera.error is not None:
                    self._stop_virtual_camera()
                    self._sync_vcam_action()
                self.window.show_banner(ev.message, "error", key=ev.output)
            elif ev.kind == "started":
                self.window.show_toast(ev.message)
        elif ev.output == "stream":
            if ev.kind == "error":
                st = self.stream
                if st is not None and st.stats().state == "failed":
                    self._stop_stream()
                self.window.show_banner(ev.message, "error", key=ev.output)
            elif ev.kind in ("started", "stopped"):
                self.window.show_toast(ev.message)
            elif ev.kind == "reconnecting" and self.stream is not None and self.stream.connections:
                self.window.show_toast(ev.message)  # the server went away; we keep trying
            self._sync_stream_action()

    @Slot()
    def _on_timer_timeout(self) -> None:
        self._sync_on_air()
        if self.recorder is not None:
            self.record_action.setText(f"■ {_clock(self.recorder.elapsed)}")
        if self.virtual_camera is not None:
            self.virtual_camera.fps = self.pipeline.source_fps  # follows a source switch
        if self.stream is not None:
            self._sync_stream_action()

    # ------------------------------------------------------------------ shutdown
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if obj is self.window and event.type() == QEvent.Type.Close:
            QTimer.singleShot(0, self._on_window_closed)  # after the window decided to close
        return False

    @Slot()
    def _on_window_closed(self) -> None:
        if not self.window.isVisible():
            self.shutdown()

    @Slot()
    def shutdown(self, timeout: float = SHUTDOWN_TIMEOUT_S) -> None:
        """Finalise a recording, turn the virtual camera off, finish snapshots: at most ``timeout``
        s in all (the window is already hidden). A recording not finalised by then goes on in the
        background; :meth:`wait_finished` waits for it. Idempotent; called when the window closes
        or the application quits."""
        if self._shut:
            return
        self._shut = True
        self._timer.stop()
        deadline = time.perf_counter() + timeout

        def left() -> float:
            return max(0.0, deadline - time.perf_counter())

        for t in list(self._jobs):  # a recording being opened / stopped
            t.join(left())
        self._jobs = [t for t in self._jobs if t.is_alive()]
        pending, self._pending_recorder = self._pending_recorder, None
        if pending is not None:  # opened after the window closed: finalise it too
            self._finish(pending, left())
        pending_stream, self._pending_stream = self._pending_stream, None
        if pending_stream is not None:
            pending_stream.close(timeout=min(left(), 2.0))
        self._stop_recording(wait=left())
        self._stop_virtual_camera(wait=min(left(), 2.0))
        self._stop_stream(wait=min(left(), 5.0))
        self.snapshots.close(wait=False)  # queued pictures are still written (non-daemon worker)

    def _finish(self, rec: Recorder, timeout: float) -> None:
        rec.stop(timeout=timeout)
        if rec.is_finalising:
            self._finishing.append(rec)

    def wait_finished(self, timeout: float | None = None) -> bool:
        """After :meth:`shutdown`: wait until every recording is finalised (and every background
        job done); True when nothing is left. For process exit: a file is never cut off."""
        deadline = None if timeout is None else time.perf_counter() + timeout

        def left() -> float | None:
            return None if deadline is None else max(0.0, deadline - time.perf_counter())

        for t in list(self._jobs):
            t.join(left())
        for rec in list(self._finishing):
            rec.stop(timeout=left())  # idempotent: joins the encoder thread again
        self._jobs = [t for t in self._jobs if t.is_alive()]
        self._finishing = [r for r in self._finishing if r.is_finalising]
        return not self._jobs and not self._finishing
