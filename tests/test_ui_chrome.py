"""The window's chrome (issue 14): banners over the picture (one per topic, info ones fold away,
errors stay and copy), importing and removing styles from the menus, the toolbar's icons and
tooltips, the window title, and the Preferences dialog. Waits on signals and conditions only."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from cartoon_cam.core.pipeline import Pipeline  # noqa: E402
from cartoon_cam.core.sources import DemoSource  # noqa: E402
from cartoon_cam.ui.main_window import MainWindow  # noqa: E402

TIMEOUT = 60_000


@pytest.fixture
def qsettings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def idle_window(qtbot, qsettings: QSettings):  # noqa: ANN001, ANN201
    """A shown window over a pipeline that is not started (nothing runs: chrome only)."""
    w = MainWindow(Pipeline(DemoSource(160, 90, 15), "classic"), qsettings)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()


@pytest.fixture
def window(qtbot, qsettings: QSettings):  # noqa: ANN001, ANN201
    """A shown window over a running demo pipeline, with its first cartoon shown."""
    p = Pipeline(DemoSource(160, 90, 15), "classic")
    w = MainWindow(p, qsettings)
    qtbot.addWidget(w)
    p.start()
    w.show()
    qtbot.waitUntil(lambda: p.latest_result() is not None, timeout=TIMEOUT)
    yield w
    w.close()


# ---------------------------------------------------------------------------- banners
def test_banners_float_over_the_picture_without_moving_it(qtbot, idle_window) -> None:  # noqa: ANN001
    w = idle_window
    before = w.preview.geometry()
    b = w.show_banner("The camera went away; reconnecting…", "warning", key="source")
    c = w.show_banner("Something else", "error", key="other")
    qtbot.waitUntil(b.isVisible, timeout=5000)
    assert w.preview.geometry() == before  # the picture neither moves nor shrinks
    assert w.banners.parent() is w.preview
    area = w.banners.geometry()
    assert w.preview.rect().contains(area) and area.top() < 20  # over the top of the picture
    assert area.height() >= b.height() + c.height() and area.height() < w.preview.height() // 2
    w.resize(w.width() - 200, w.height())
    qtbot.waitUntil(lambda: w.banners.width() < area.width(), timeout=5000)  # follows the picture
    assert w.preview.rect().contains(w.banners.geometry())


def test_one_banner_per_topic(qtbot, idle_window) -> None:  # noqa: ANN001
    w = idle_window
    first = w.show_banner("Recording failed: disk full", "error", key="recorder")
    second = w.show_banner("Recording failed: no permission", "error", key="recorder")
    assert first.dismissed and not second.dismissed
    assert [b.text for b in w.banners.banners()] == ["Recording failed: no permission"]
    w.show_banner("Same text twice", "warning")
    w.show_banner("Same text twice", "warning")  # no key: the text is the topic
    assert [b.text for b in w.banners.banners()].count("Same text twice") == 1
    w.banners.dismiss("recorder")
    assert [b.text for b in w.banners.banners()] == ["Same text twice"]


def test_info_banners_fold_away_and_errors_stay(qtbot, idle_window) -> None:  # noqa: ANN001
    w = idle_window
    w.banners.info_timeout_ms = 30  # injectable: no sleeping in tests
    err = w.show_banner("The style failed to load", "error", key="style")
    warn = w.show_banner("Low disk space", "warning", key="disk")
    with qtbot.waitSignal(w.banners.banner_shown, timeout=5000) as shown:
        w.show_banner("Imported x.onnx as style 'x'.", "info", key="import")
    info = shown.args[0]
    assert info.timer is not None and err.timer is None and warn.timer is None
    with qtbot.waitSignal(info.closed, timeout=5000):
        pass
    assert info.dismissed and not err.dismissed and not warn.dismissed
    assert err.isVisible() and warn.isVisible()


def test_error_banners_copy_their_text_and_use_no_emoji(qtbot, idle_window) -> None:  # noqa: ANN001
    w = idle_window
    text = "cannot write /nowhere/cartoon.mp4 (Permission denied)"
    b = w.show_banner(text, "error", key="recorder")
    assert b.copy_button is not None and b.copy_button.isVisible()
    with qtbot.waitSignal(b.copied, timeout=5000):
        qtbot.mouseClick(b.copy_button, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text() == text
    assert b.label.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByMouse
    assert not b.dismissed
    qtbot.mouseClick(b.close_button, Qt.MouseButton.LeftButton)
    assert b.dismissed and not w.banners.isVisible()
    for level in ("info", "warning", "error"):  # glyphs every font has; icons are Qt's pixmaps
        x = w.show_banner(f"a {level}", level)
        assert not x.icon.pixmap().isNull()
        assert all(ord(ch) < 0x2000 for ch in x.close_button.text())
        assert w.show_banner(f"a {level}", level).copy_button is None or level == "error"


def test_the_on_air_mark_keeps_its_corner(qtbot, idle_window) -> None:  # noqa: ANN001
    w = idle_window
    w.show_banner("A long message " * 6, "warning")
    w.set_on_air("● REC 00:03")
    qtbot.waitUntil(w.on_air.isVisible, timeout=5000)
    assert not w.banners.geometry().intersects(w.on_air.geometry())


# ---------------------------------------------------------------------------- import / remove styles
def _banner_texts(w: MainWindow) -> list[str]:
    return [b.text for b in w.banners.banners()]


def test_file_and_style_menus_hold_import_remove_folders_and_quit(qtbot, idle_window, tmp_path: Path,
                                                                  monkeypatch) -> None:  # noqa: ANN001
    from PySide6.QtGui import QDesktopServices

    from cartoon_cam.ui.outputs_controller import OutputsController

    w = idle_window
    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    qs = QSettings(str(tmp_path / "o.ini"), QSettings.Format.IniFormat)
    qs.setValue("outputs/snapshot_dir", str(tmp_path / "pics"))
    ctl = OutputsController(w, w.pipeline, qs)
    try:
        file_items = [a.text() for a in w.file_menu.actions() if not a.isSeparator()]
        assert file_items[:2] == ["Open video or image…", "Import style…"]
        assert "Open snapshot folder" in file_items and "Open recording folder" in file_items
        assert "Preferences…" in file_items and file_items[-1] == "Quit"
        ctl.open_snapshot_folder_action.trigger()
        assert opened == [str(tmp_path / "pics")] and (tmp_path / "pics").is_dir()
        w._fill_style_menu()
        style_items = [a.text() for a in w.style_menu.actions()]
        assert "Import style…" in style_items and "Remove style" in style_items
        assert not w.remove_style_menu.isEnabled()  # only built-ins: nothing to remove
        assert w.import_style_action.shortcut().toString() == "Ctrl+I"
    finally:
        ctl.shutdown()


def test_import_from_the_menu_imports_a_model_and_rejects_a_bad_file(qtbot, window, tmp_path: Path,
                                                                       monkeypatch) -> None:  # noqa: ANN001
    from conftest import shared_path

    from cartoon_cam.ui import main_window

    w = window
    cute = tmp_path / "AnimeGANv3_tiny_Cute.onnx"
    cute.write_bytes(shared_path("models", "animeganv3", "AnimeGANv3_tiny_Cute.onnx").read_bytes())
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not a model")
    asked: list[str] = []

    def pick(parent, title, folder, filt):  # noqa: ANN001, ANN202
        asked.append(filt)
        return str(pick.path), filt

    monkeypatch.setattr(main_window.QFileDialog, "getOpenFileName", staticmethod(pick))
    pick.path = bad  # type: ignore[attr-defined]
    with qtbot.waitSignal(w.banners.banner_shown, timeout=TIMEOUT,
                          check_params_cb=lambda b: b.key == "style_import"):
        w.import_style_action.trigger()
    assert "*.onnx" in asked[0] and "*.safetensors" in asked[0]
    [err] = [b for b in w.banners.banners() if b.key == "style_import"]
    assert err.level == "error" and "broken.onnx was not imported" in err.text
    assert "broken" not in set(w.style_picker.keys())

    pick.path = cute  # type: ignore[attr-defined]
    with qtbot.waitSignal(w.styles_changed, timeout=120_000):
        w.import_style_action.trigger()
    assert "animeganv3_tiny_cute" in set(w.style_picker.keys())
    assert w.style_picker.current_key() == "animeganv3_tiny_cute"
    assert any("Imported AnimeGANv3_tiny_Cute.onnx" in t for t in _banner_texts(w))
    assert not any("broken.onnx" in t for t in _banner_texts(w))  # the same topic: replaced
    assert (w.catalog.user_dir / "animeganv3_tiny_cute.onnx").is_file()
    # the imported style runs (its load may take seconds on a busy machine: let it finish)
    qtbot.waitUntil(lambda: w.pipeline.style_id == "animeganv3_tiny_cute", timeout=120_000)


def test_a_failed_style_puts_the_picker_back_unless_a_newer_pick_overtook_it(idle_window) -> None:  # noqa: ANN001
    """A style that fails to load puts the picker (and the saved choice) back on the style still
    running. A failure that arrives after a newer pick (a style removed while it loaded fails late,
    when the default has already taken over) leaves the newer pick alone: CI once saw the picker
    jump back to the old style while the default was loading."""
    from cartoon_cam.core.pipeline import EventKind, PipelineEvent

    w = idle_window
    w._on_pipeline_event_posted(PipelineEvent(EventKind.STYLE_CHANGED, "Style 'classic' on classic.", style="classic"))
    failed = PipelineEvent(EventKind.STYLE_FAILED, "Style 'hosoda_lite' could not be loaded (x); keeping 'classic'.",
                           style="hosoda_lite", reason="x", fallback="classic")

    w.select_style("hosoda_lite")
    w._on_pipeline_event_posted(failed)  # the pick itself failed: back to what runs
    assert w.style_picker.current_key() == "classic" and w.settings.get("style/id") == "classic"

    w.select_style("hosoda_lite")
    w.select_style("paprika_lite")  # a newer pick, before the first one's failure arrives
    w._on_pipeline_event_posted(failed)
    assert w.style_picker.current_key() == "paprika_lite" and w.settings.get("style/id") == "paprika_lite"
    assert "hosoda_lite" in " ".join(_banner_texts(w))  # the failure is still said


def test_remove_asks_and_removes_only_imported_styles(qtbot, window) -> None:  # noqa: ANN001
    from cartoon_cam import paths
    from cartoon_cam.inference.style import StyleManifest, write_json_style

    w = window
    folder = paths.user_styles_dir()
    folder.mkdir(parents=True, exist_ok=True)
    f = write_json_style(folder / "classic_bold.json", StyleManifest(
        id="classic_bold", name="Bold classic", arch="classic", tier="classic", size_multiple=1,
        recommended_size=640, params={"levels": 3, "smooth_passes": 1}))
    w.reload_styles()
    w.select_style("classic_bold")
    w._fill_style_menu()
    assert w.remove_style_menu.isEnabled()
    [item] = w.remove_style_menu.actions()
    assert item.text() == "Bold classic…"

    questions: list[str] = []
    w._confirm = lambda title, text: questions.append(text) or False  # type: ignore[method-assign]
    item.trigger()
    assert questions and "Bold classic" in questions[0] and f.is_file()  # asked; "No" keeps it

    w._confirm = lambda title, text: questions.append(text) or True  # type: ignore[method-assign]
    with qtbot.waitSignal(w.styles_changed, timeout=TIMEOUT):
        item.trigger()
    assert len(questions) == 2 and not f.exists()
    assert "classic_bold" not in set(w.style_picker.keys())
    assert w.style_picker.current_key() == w.catalog.default_style_id()  # it was in use: the default took over
    assert any("Removed style 'Bold classic'" in t for t in _banner_texts(w))

    w.remove_style("classic")  # a built-in: refused without asking
    assert len(questions) == 2 and any("built-in" in t for t in _banner_texts(w))
    assert "classic" in set(w.style_picker.keys())
    # the default style that took over runs (a busy machine may need seconds to load it)
    qtbot.waitUntil(lambda: w.pipeline.style_id == w.catalog.default_style_id(), timeout=120_000)


# ---------------------------------------------------------------------------- preferences
def test_preferences_save_and_apply_at_once(qtbot, idle_window, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from cartoon_cam.ui.app_settings import AppSettings
    from cartoon_cam.ui.outputs_controller import OutputsController
    from cartoon_cam.ui.preferences_dialog import PreferencesDialog

    w = idle_window
    ctl = OutputsController(w, w.pipeline, w.settings.qsettings)
    try:
        assert w.preferences_action.shortcut().toString() == "Ctrl+,"
        w.preferences_action.trigger()
        d = w._preferences_dialog
        assert isinstance(d, PreferencesDialog)
        qtbot.waitUntil(d.isVisible, timeout=5000)
        assert d.values()["outputs/snapshot_dir"] == "" and d.values()["inference/quality"] == "auto"
        pics, videos = tmp_path / "my pics", tmp_path / "clips" / "new"  # the second does not exist yet
        d.snapshot_dir.edit.setText(str(pics))
        d.record_dir.edit.setText(str(videos))
        d.snapshot_format.setCurrentIndex(d.snapshot_format.findData("jpeg"))
        d.record_quality.setCurrentIndex(d.record_quality.findData("high"))
        d.vcam_size.setCurrentIndex(d.vcam_size.findData("1920x1080"))
        d.quality.setCurrentIndex(d.quality.findData("fast"))
        with qtbot.waitSignal(w.preferences_changed, timeout=5000):
            qtbot.mouseClick(d.buttons.button(d.buttons.StandardButton.Ok), Qt.MouseButton.LeftButton)
        assert not d.isVisible() and videos.is_dir()  # created

        # saved through the schema…
        s = AppSettings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
        assert s.get_output("snapshot_dir") == str(pics) and s.get_output("record_dir") == str(videos)
        assert s.get_output("snapshot_format") == "jpeg" and s.get_output("record_quality") == "high"
        assert s.get_output("vcam_size") == "1920x1080" and s.get("inference/quality") == "fast"
        # …and applied without a restart
        assert w.pipeline.size == 256 and w.controls.quality_combo.currentData() == "fast"
        assert ctl.snapshots.fmt == "jpeg" and ctl.snapshot_dir == pics and ctl.snapshots.folder == pics
        assert ctl.record_dir == videos
        opts = ctl._options()
        assert opts.vcam_size == (1920, 1080) and opts.record_crf == 18
        size_menu = ctl._groups["vcam_size"]
        assert [a.data() for a in size_menu.actions() if a.isChecked()] == ["1920x1080"]  # the menu follows

        w.preferences_action.trigger()  # opened again: shows the saved values
        assert d.values()["outputs/snapshot_format"] == "jpeg" and d.snapshot_dir.value() == str(pics)
        d.reject()
    finally:
        ctl.shutdown()


def test_preferences_refuse_a_folder_that_cannot_be_used(qtbot, idle_window, tmp_path: Path) -> None:  # noqa: ANN001
    w = idle_window
    d = w.open_preferences()
    blocker = tmp_path / "a file"
    blocker.write_text("x")
    changed: list[dict] = []
    w.preferences_changed.connect(changed.append)
    for bad, says in ((blocker, "is a file, not a folder"), (blocker / "sub", "cannot be created"),
                      (Path("relative/folder"), "not a full path")):
        d.snapshot_dir.edit.setText(str(bad))
        d.accept()
        assert d.isVisible() and not changed  # stays open, nothing saved
        assert d.snapshot_dir.error.isVisible() and says in d.snapshot_dir.error.text()
    if os.name == "posix" and os.geteuid() != 0:
        ro = tmp_path / "read-only"
        ro.mkdir()
        ro.chmod(0o500)
        d.snapshot_dir.edit.setText(str(ro))
        d.accept()
        assert "not writable" in d.snapshot_dir.error.text()
        ro.chmod(0o700)
    d.snapshot_dir.edit.setText("")  # the default: fine
    d.accept()
    assert not d.isVisible() and changed and changed[0]["outputs/snapshot_dir"] == ""


def test_writable_folder_rules(tmp_path: Path) -> None:
    from cartoon_cam.errors import OutputError
    from cartoon_cam.files import writable_folder

    assert writable_folder(tmp_path / "x" / "y") == tmp_path / "x" / "y" and (tmp_path / "x" / "y").is_dir()
    for bad in ("", "  ", "relative"):
        with pytest.raises(OutputError):
            writable_folder(bad)


# ---------------------------------------------------------------------------- toolbar and title
def test_toolbar_actions_have_icons_and_tooltips_with_their_shortcut(qtbot, idle_window, tmp_path: Path) -> None:  # noqa: ANN001
    from cartoon_cam.ui import icons
    from cartoon_cam.ui.outputs_controller import OutputsController

    w = idle_window
    ctl = OutputsController(w, w.pipeline, QSettings(str(tmp_path / "o.ini"), QSettings.Format.IniFormat))
    try:
        acts = [a for a in w.toolbar.actions() if not a.isSeparator() and a.text()]
        texts = [a.text() for a in acts]
        for want in ("Side by side", "Split wipe", "Cartoon only", "Mirror", "Fullscreen", "Controls", "About",
                     "Snapshot", "Record", "Virtual camera", "Stream"):
            assert want in texts
        for a in acts:
            assert not a.icon().isNull(), f"{a.text()} has no icon"
            assert "()" not in a.toolTip()
            for k in a.shortcuts():
                assert k.toString(k.SequenceFormat.NativeText) in a.toolTip(), a.toolTip()
        by = {a.text(): a for a in acts}
        assert by["Mirror"].toolTip().endswith("(M)") and by["Controls"].toolTip().endswith("(F9)")
        assert by["Snapshot"].toolTip().endswith("(Space)") and by["Record"].toolTip().endswith("(R)")
        assert by["Side by side"].toolTip().endswith("(Ctrl+1)")
        by["Cartoon only"].trigger()  # toolbar actions trigger
        assert w.view_mode == "cartoon"
        by["Mirror"].trigger()
        assert w.pipeline.mirror
        for name in icons.SVGS:  # every drawn icon renders at 1x and 2x
            ic = icons.icon(name)
            assert not ic.pixmap(16, 16).isNull() and not ic.pixmap(48, 48).isNull()
    finally:
        ctl.shutdown()


def test_window_title_names_the_style_and_the_source(qtbot, window, tmp_path: Path) -> None:  # noqa: ANN001
    w = window
    qtbot.waitUntil(lambda: "Classic" in w.windowTitle() or "classic" in w.windowTitle(), timeout=TIMEOUT)
    assert "Demo scene" in w.windowTitle() and w.windowTitle().endswith("cartoon_cam")
    pic = Path(__file__).resolve().parents[1] / "resources" / "demo" / "chelsea.jpg"
    w.set_source_spec(str(pic), remember=False)
    qtbot.waitUntil(lambda: "chelsea.jpg" in w.windowTitle(), timeout=TIMEOUT)
    names = {c.key: c.name for c in w.style_picker.choices()}
    other = next(k for k in names if k != "classic")
    w.select_style(other)
    qtbot.waitUntil(lambda: names[other] in w.windowTitle(), timeout=TIMEOUT)
