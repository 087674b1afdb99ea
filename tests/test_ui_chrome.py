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
