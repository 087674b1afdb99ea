"""Window polish that needs no camera: keyboard reach and accessible names of the controls, a
panel that keeps its width, a readable shortcuts list, and HiDPI panes drawn at device pixels."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import QRect, QSettings, Qt  # noqa: E402
from PySide6.QtWidgets import QAbstractButton, QComboBox, QSlider, QTableWidget  # noqa: E402

from cartoon_cam.core.pipeline import Pipeline  # noqa: E402
from cartoon_cam.core.sources import DemoSource  # noqa: E402
from cartoon_cam.ui.main_window import MainWindow  # noqa: E402
from cartoon_cam.ui.preview_widget import _Pane  # noqa: E402


@pytest.fixture
def window(qtbot, tmp_path: Path):  # noqa: ANN001, ANN201
    p = Pipeline(DemoSource(160, 90, 15), "classic")
    w = MainWindow(p, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    p.start()
    w.show()
    qtbot.waitUntil(lambda: p.latest_result() is not None, timeout=60_000)
    yield w
    w.close()


def test_every_control_has_an_accessible_name_and_the_slider_takes_keys(qtbot, window) -> None:  # noqa: ANN001
    c = window.controls
    for widget in c.findChildren(QComboBox) + c.findChildren(QSlider) + c.findChildren(QAbstractButton):
        if widget.isVisibleTo(c):
            assert widget.accessibleName(), f"{type(widget).__name__} {widget.objectName()!r} has no accessible name"
    s = c.strength_slider
    assert s.focusPolicy() & Qt.FocusPolicy.TabFocus  # reachable with Tab
    s.setFocus()
    qtbot.waitUntil(s.hasFocus, timeout=5000)
    style_before = window.style_picker.current_key()
    before = s.value()
    qtbot.keyClick(s, Qt.Key.Key_Left)  # the slider's key while it has focus, not "previous style"
    assert s.value() == before - s.singleStep()
    qtbot.keyClick(s, Qt.Key.Key_End)
    assert s.value() == s.maximum()
    assert window.style_picker.current_key() == style_before


def test_the_side_panel_keeps_its_width_when_the_in_use_text_changes(qtbot, window) -> None:  # noqa: ANN001
    c = window.controls
    c.set_provider("onnxruntime · cpu · fp32")
    qtbot.wait(50)
    width = c.width()
    c.set_provider("openvino · cpu · fp32 · auto — a much longer description of the runtime in use, "
                   "TensorrtExecutionProvider with fp16 engines cached in the user cache folder")
    qtbot.wait(50)
    assert c.width() == width


def test_shortcuts_are_a_read_only_list(qtbot, window) -> None:  # noqa: ANN001
    from cartoon_cam.ui.shortcuts_dialog import ShortcutsDialog

    rows = window.shortcut_rows()
    d = ShortcutsDialog(rows, window)
    qtbot.addWidget(d)
    t: QTableWidget = d.table
    assert t.rowCount() == len(rows) and t.rowCount() > 5
    assert t.editTriggers() == QTableWidget.EditTrigger.NoEditTriggers
    assert t.selectionMode() == QTableWidget.SelectionMode.NoSelection and not t.showGrid()
    for i in range(t.rowCount()):
        for j in range(2):
            assert not (t.item(i, j).flags() & (Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsSelectable))
    assert any("F1" in k for k, _ in rows)


@pytest.mark.parametrize("dpr", [1.0, 2.0])
def test_panes_are_drawn_at_device_pixels(dpr: float) -> None:
    pane = _Pane()
    src = np.zeros((360, 640, 3), np.uint8)
    pane.set(src, QRect(0, 0, 320, 180), dpr)
    assert (pane.rect.width(), pane.rect.height()) == (320, 180)  # logical size
    assert pane.arr.shape[:2] == (round(180 * dpr), round(320 * dpr))  # device pixels
    assert pane.img.devicePixelRatio() == dpr
    r = pane.source_rect(10, 0, 100, 180)
    assert (r.x(), r.width(), r.height()) == (10 * dpr, 100 * dpr, 180 * dpr)


def test_side_by_side_shows_the_same_moment_by_default(qtbot, window) -> None:  # noqa: ANN001
    pairs: list[tuple[int, int]] = []
    last_frame: list[int] = []
    window.frame_displayed.connect(lambda f: last_frame.append(f.seq))
    window.result_displayed.connect(lambda r: pairs.append((r.source.seq, last_frame[-1] if last_frame else -1)))
    qtbot.waitUntil(lambda: len(pairs) >= 5, timeout=60_000)
    assert all(src == shown for src, shown in pairs[-5:])  # the original pane holds the cartoon's own frame
    assert not window.controls.live_original_check.isChecked()
    window.controls.live_original_check.setChecked(True)  # the option: the newest frame
    assert window.live_original and window.settings.get("view/live_original") is True


def test_the_menu_bar_holds_every_action_and_every_style(qtbot, window) -> None:  # noqa: ANN001
    titles = [m.title().replace("&", "") for m in (window.file_menu, window.view_menu, window.style_menu,
                                                    window.help_menu)]
    assert titles == ["File", "View", "Style", "Help"]
    view = {a.text(): a for a in window.view_menu.actions()}
    view["Split wipe"].trigger()
    assert window.view_mode == "split"
    window._fill_style_menu()
    names = [a.text() for a in window.style_menu.actions() if a.isCheckable()]
    assert names == [c.name for c in window.style_picker.choices()] and len(names) >= 5
    target = window.style_menu.actions()[2]
    target.trigger()  # the third style, picked from the menu
    assert window.style_picker.current_key() == window.style_picker.choices()[2].key
    text = window.about()
    assert "cartoon_cam" in text and "MIT" in text and "LGPL-3.0" in text and "GPL-2.0" in text
    for e in window.catalog.entries():
        assert e.manifest.name in text  # each style with its licence
    assert "Log folder" in text


def test_outputs_menu_sits_in_the_menu_bar(qtbot, window, tmp_path: Path) -> None:  # noqa: ANN001
    from cartoon_cam.ui.outputs_controller import OutputsController

    ctl = OutputsController(window, window.pipeline, QSettings(str(tmp_path / "o.ini"), QSettings.Format.IniFormat))
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert titles.index("Outputs") == titles.index("Help") - 1
    ctl.shutdown()


def _banners(window) -> list[str]:  # noqa: ANN001
    from cartoon_cam.ui.banner_widget import BannerWidget

    return [b.text for b in window.banners.findChildren(BannerWidget)]


def _drop(qtbot, window, path: Path) -> None:  # noqa: ANN001
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    ev = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                    Qt.KeyboardModifier.NoModifier)
    window.dropEvent(ev)


def test_dropping_a_model_imports_it_and_a_bad_file_says_why(qtbot, window, tmp_path: Path) -> None:  # noqa: ANN001
    from conftest import shared_path

    from cartoon_cam.ui.main_window import dropped_file

    cute = shared_path("models", "animeganv3", "AnimeGANv3_tiny_Cute.onnx")
    local = tmp_path / "AnimeGANv3_tiny_Cute.onnx"
    local.write_bytes(cute.read_bytes())
    _drop(qtbot, window, local)
    qtbot.waitUntil(lambda: "animeganv3_tiny_cute" in [c.key for c in window.style_picker.choices()], timeout=120_000)
    qtbot.waitUntil(lambda: any("Imported AnimeGANv3_tiny_Cute.onnx" in t for t in _banners(window)), timeout=10_000)
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not a model")
    _drop(qtbot, window, bad)
    qtbot.waitUntil(lambda: any("broken.onnx was not imported" in t for t in _banners(window)), timeout=60_000)
    assert "broken" not in [c.key for c in window.style_picker.choices()]
    txt = tmp_path / "notes.txt"
    txt.write_text("hello")
    _drop(qtbot, window, txt)
    assert any("not a video, picture or style model" in t for t in _banners(window))
    assert dropped_file(None) is None


def test_dropping_a_picture_makes_it_the_source(qtbot, window) -> None:  # noqa: ANN001
    pic = Path(__file__).resolve().parents[1] / "resources" / "demo" / "chelsea.jpg"
    _drop(qtbot, window, pic)
    qtbot.waitUntil(lambda: window.pipeline.source.spec == str(pic), timeout=30_000)


def test_recording_shows_an_on_air_mark_in_fullscreen_too(qtbot, window, tmp_path: Path) -> None:  # noqa: ANN001
    from cartoon_cam.ui.outputs_controller import OutputsController

    qs = QSettings(str(tmp_path / "o.ini"), QSettings.Format.IniFormat)
    qs.setValue("outputs/record_dir", str(tmp_path / "videos"))
    ctl = OutputsController(window, window.pipeline, qs)
    try:
        assert not window.on_air.isVisible()
        window.fullscreen_action.setChecked(True)
        assert not window.toolbar.isVisible()  # the toolbar's Record button is gone in fullscreen…
        ctl.record_action.trigger()
        qtbot.waitUntil(lambda: window.on_air.isVisible() and "REC" in window.on_air.text(), timeout=60_000)
        assert window.on_air.parent() is window.preview  # …the mark is over the picture
        geo = window.on_air.geometry()
        assert window.preview.rect().contains(geo)
        ctl.record_action.trigger()  # stop
        qtbot.waitUntil(lambda: not window.on_air.isVisible(), timeout=60_000)
        window.fullscreen_action.setChecked(False)
    finally:
        ctl.shutdown()
