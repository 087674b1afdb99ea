"""The live window, offscreen (pytest-qt): frames arrive, styles switch live, a failing source shows a
banner and recovers, closing stops every thread, settings round-trip. Waits on signals only."""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, QSettings, Qt  # noqa: E402

from cartoon_cam import app as app_module  # noqa: E402
from cartoon_cam import paths  # noqa: E402
from cartoon_cam.core.pipeline import Pipeline, PipelineEvent  # noqa: E402
from cartoon_cam.core.sources import CameraSource, DemoSource, FrameSource, ScriptedSource  # noqa: E402
from cartoon_cam.inference.style import StyleManifest, write_json_style  # noqa: E402
from cartoon_cam.ui.app_settings import AppSettings  # noqa: E402
from cartoon_cam.ui.main_window import MainWindow  # noqa: E402

FAST = (0.01, 0.05)
TIMEOUT = 15000


def _cc_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("cartoon_cam-")]


@pytest.fixture
def qsettings(tmp_path: Path) -> QSettings:
    """Fresh settings for each test (an INI file in tmp_path)."""
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture(autouse=True)
def _no_thread_left_behind(qtbot) -> Iterator[None]:  # noqa: ANN001 - pytest-qt fixture
    yield
    qtbot.waitUntil(lambda: not _cc_threads(), timeout=5000)


@pytest.fixture
def bold_style() -> Path:
    """A second fast style in the user's style folder: classic with other parameters."""
    m = StyleManifest(id="classic_bold", name="Bold classic", arch="classic", tier="classic",
                      size_multiple=1, recommended_size=640, params={"levels": 3, "smooth_passes": 1})
    folder = paths.user_styles_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return write_json_style(folder / "classic_bold.json", m)


@pytest.fixture
def open_window(qtbot, qsettings: QSettings):  # noqa: ANN001, ANN201
    """``open_window(source, style="classic")`` → a shown window over a started pipeline."""
    made: list[MainWindow] = []

    def make(source: FrameSource, style: str = "classic", **kw: object) -> MainWindow:
        pipeline = Pipeline(source, style, reconnect_delay=FAST, **kw)  # type: ignore[arg-type]
        w = MainWindow(pipeline, qsettings)
        qtbot.addWidget(w)
        pipeline.start()
        w.show()
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


def _result_with(pred):  # noqa: ANN001, ANN202
    return lambda r: bool(pred(r))


def test_window_starts_on_demo_and_frames_arrive(qtbot, open_window) -> None:  # noqa: ANN001
    w = open_window(DemoSource(160, 90, fps=30))
    with qtbot.waitSignals([w.frame_displayed, w.result_displayed], timeout=TIMEOUT):
        pass
    with qtbot.waitSignal(w.result_displayed, timeout=TIMEOUT) as blocker:
        pass
    r = blocker.args[0]
    assert r.cartoon.shape == (90, 160, 3) and r.style_id == "classic"
    assert w.preview.has_images() == (True, True)
    qtbot.waitUntil(lambda: w.pipeline.stats().frames_displayed >= 3, timeout=TIMEOUT)
    st = w.pipeline.stats()
    assert st.latency_p50_ms > 0 and st.display_fps >= 0
    w._on_status_timer_timeout()
    assert "capture" in w.status_label.text() and "classic" in w.status_label.text()
    assert w.gui_ms_per_frame() < 50


def test_style_hotkeys_switch_the_output_without_stopping(qtbot, open_window, bold_style: Path) -> None:  # noqa: ANN001
    w = open_window(ScriptedSource(64, 48, fps=60))
    keys = w.style_picker.keys()  # built-ins (classic first), then the user's styles
    assert keys[0] == "classic" and keys[-1] == "classic_bold" and len(keys) <= 9
    bold_key = getattr(Qt.Key, f"Key_{len(keys)}")  # digit N picks the N-th style
    with qtbot.waitSignal(w.result_displayed, timeout=TIMEOUT,
                          check_params_cb=_result_with(lambda r: r.style_id == "classic")) as first:
        pass
    before = first.args[0]
    pipeline = w.pipeline
    qtbot.keyClick(w, bold_key)
    with qtbot.waitSignal(w.result_displayed, timeout=TIMEOUT,
                          check_params_cb=_result_with(lambda r: r.style_id == "classic_bold")) as blocker:
        pass
    after = blocker.args[0]
    assert after.seq > before.seq
    assert not np.array_equal(after.cartoon, before.cartoon)
    assert w.pipeline is pipeline and pipeline.running
    assert pipeline.stats().source_state == "live"
    assert w.style_picker.current_key() == "classic_bold"
    assert AppSettings(w.settings.qsettings).get("style/id") == "classic_bold"
    qtbot.keyClick(w, Qt.Key.Key_Right)  # wraps around to classic
    with qtbot.waitSignal(w.result_displayed, timeout=TIMEOUT,
                          check_params_cb=_result_with(lambda r: r.style_id == "classic")):
        pass
    qtbot.keyClick(w, Qt.Key.Key_Left)
    with qtbot.waitSignal(w.result_displayed, timeout=TIMEOUT,
                          check_params_cb=_result_with(lambda r: r.style_id == "classic_bold")):
        pass


def test_switching_to_a_builtin_neural_style_live(qtbot, open_window) -> None:  # noqa: ANN001
    """The shipped real-time styles show in the picker (with their thumbnails) and run live."""
    from cartoon_cam.inference.catalog import StyleCatalog

    lite = [e.id for e in StyleCatalog().entries() if e.builtin and e.manifest.tier == "lite"]
    if not lite:
        pytest.skip("no lite built-in style ships")
    w = open_window(DemoSource(160, 96, fps=30))
    shown = {c.key: c for c in w.style_picker.choices()}
    for sid in lite:
        assert shown[sid].name and shown[sid].description and shown[sid].thumbnail_b64 and shown[sid].licence
    with qtbot.waitSignal(w.result_displayed, timeout=TIMEOUT,
                          check_params_cb=_result_with(lambda r: r.style_id == "classic")) as first:
        pass
    w.select_style(lite[0])
    with qtbot.waitSignal(w.result_displayed, timeout=TIMEOUT,
                          check_params_cb=_result_with(lambda r: r.style_id == lite[0])) as blocker:
        pass
    r = blocker.args[0]
    assert r.cartoon.shape == first.args[0].cartoon.shape == (96, 160, 3)
    assert np.abs(r.cartoon.astype(np.int16) - r.source.image.astype(np.int16)).mean() > 2.0  # restyled


def test_failing_style_shows_a_banner_and_keeps_the_old_one(qtbot, open_window, tmp_path: Path) -> None:  # noqa: ANN001
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    w = open_window(ScriptedSource(64, 48, fps=60))
    with qtbot.waitSignal(w.result_displayed, timeout=TIMEOUT):
        pass
    with qtbot.waitSignal(w.banners.banner_shown, timeout=TIMEOUT) as blocker:
        w.select_style(str(broken))
    banner = blocker.args[0]
    assert banner.level == "error" and "keeping 'classic'" in banner.text
    assert w.style_picker.current_key() == "classic"
    with qtbot.waitSignal(w.result_displayed, timeout=TIMEOUT,
                          check_params_cb=_result_with(lambda r: r.style_id == "classic")):
        pass


def test_source_failing_mid_stream_shows_a_banner_and_recovers(qtbot, open_window) -> None:  # noqa: ANN001
    src = ScriptedSource(64, 48, fps=60, fail_at={20}, reopen_failures=3, name="test cam")
    w = open_window(src)
    with qtbot.waitSignal(w.banners.banner_shown, timeout=TIMEOUT) as blocker:
        pass
    banner = blocker.args[0]
    assert banner.level == "warning" and "reconnecting" in banner.text
    with qtbot.waitSignal(w.pipeline_event_received, timeout=TIMEOUT,
                          check_params_cb=lambda ev: ev.kind == "source_recovered"):
        pass
    assert banner.dismissed and not w.banners.banners()
    assert w.toast.isVisible() and "back" in w.toast.label.text()
    seq = w.pipeline.latest_result().seq
    with qtbot.waitSignal(w.result_displayed, timeout=TIMEOUT,
                          check_params_cb=_result_with(lambda r: r.seq > seq + 3)):
        pass
    assert src.opens == 2


def test_camera_that_cannot_open_falls_back_to_demo(qtbot, open_window, monkeypatch) -> None:  # noqa: ANN001
    import cartoon_cam.core.sources.camera as camera

    monkeypatch.setattr(camera, "list_cameras", lambda probe=False: [])
    w = open_window(CameraSource("Missing Cam"))
    qtbot.waitUntil(lambda: bool(w.banners.banners()), timeout=TIMEOUT)
    banner = w.banners.banners()[-1]
    assert "Missing Cam" in banner.text and "demo" in banner.text
    assert "Retrying" not in banner.text  # the event's reason, not its message cut back
    assert banner.action_button is not None and banner.action_button.text() == "Retry camera"
    qtbot.waitUntil(lambda: w.pipeline.source.kind == "demo", timeout=TIMEOUT)
    with qtbot.waitSignal(w.result_displayed, timeout=TIMEOUT,
                          check_params_cb=_result_with(lambda r: r.cartoon.shape == (360, 640, 3))):
        pass
    # the camera is not remembered as replaced by the demo
    assert AppSettings(w.settings.qsettings).get("source/kind") == "auto"


def test_closing_stops_every_thread_quickly(qtbot, open_window) -> None:  # noqa: ANN001
    w = open_window(DemoSource(160, 90))
    hook_calls: list[bool] = []
    w.add_close_hook(lambda: hook_calls.append(w.pipeline.running))
    with qtbot.waitSignal(w.result_displayed, timeout=TIMEOUT):
        pass
    assert _cc_threads()
    w.close()
    assert w.pipeline.threads_alive() == []
    assert hook_calls == [False]  # hooks run after the pipeline stopped
    qtbot.waitUntil(lambda: not _cc_threads(), timeout=3000)


def test_view_modes_mirror_fullscreen_and_divider(qtbot, open_window) -> None:  # noqa: ANN001
    w = open_window(ScriptedSource(64, 48, fps=60))
    with qtbot.waitSignal(w.result_displayed, timeout=TIMEOUT):
        pass
    with qtbot.waitSignal(w.view_mode_changed, timeout=TIMEOUT):
        qtbot.keyClick(w, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert w.view_mode == "split"
    with qtbot.waitSignal(w.result_displayed, timeout=TIMEOUT):
        pass
    rect = w.preview._image_rect()
    with qtbot.waitSignal(w.preview.divider_changed, timeout=TIMEOUT):
        qtbot.mousePress(w.preview, Qt.MouseButton.LeftButton, pos=QPoint(rect.x() + rect.width() // 4, rect.center().y()))
    qtbot.mouseRelease(w.preview, Qt.MouseButton.LeftButton)
    assert w.preview.divider == pytest.approx(0.25, abs=0.02)
    qtbot.keyClick(w, Qt.Key.Key_M)
    assert w.pipeline.mirror and w.mirror_action.isChecked()
    qtbot.keyClick(w, Qt.Key.Key_F11)
    qtbot.waitUntil(lambda: w.isFullScreen(), timeout=TIMEOUT)
    assert not w.toolbar.isVisible()
    qtbot.keyClick(w, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not w.isFullScreen(), timeout=TIMEOUT)
    assert w.toolbar.isVisible()
    with qtbot.waitSignal(w.view_mode_changed, timeout=TIMEOUT):
        qtbot.keyClick(w, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert w.view_mode == "cartoon"


def test_banner_and_toast_api(qtbot, open_window) -> None:  # noqa: ANN001
    w = open_window(ScriptedSource(32, 24, fps=30))
    clicked: list[int] = []
    b = w.show_banner("Disk almost full", "warning", "Open folder", lambda: clicked.append(1))
    assert b.isVisible() and w.banners.isVisible()
    qtbot.mouseClick(b.action_button, Qt.MouseButton.LeftButton)
    assert clicked == [1] and b.dismissed and not w.banners.isVisible()
    w.show_banner("first", key="k")
    w.show_banner("second", key="k")  # replaces the first
    assert [x.text for x in w.banners.banners()] == ["second"]
    with pytest.raises(ValueError):
        w.show_banner("x", level="fatal")
    w.show_toast("Snapshot saved", "Show", lambda: clicked.append(2))
    assert w.toast.isVisible() and w.toast.button.isVisible()
    qtbot.mouseClick(w.toast.button, Qt.MouseButton.LeftButton)
    assert clicked == [1, 2] and not w.toast.isVisible()
    assert w.toolbar.actions()  # public toolbar the outputs add to


def test_settings_round_trip(qtbot, qsettings: QSettings, open_window, tmp_path: Path) -> None:  # noqa: ANN001
    w = open_window(DemoSource(160, 90))
    w.set_view_mode("split")
    w.controls.strength_slider.setValue(40)
    w.controls.set_quality("fast")
    w.controls._on_quality_combo_activated(w.controls.quality_combo.currentIndex())
    w.mirror_action.setChecked(True)
    w.preview.set_divider(0.3)
    w.set_source_spec("camera:HD Webcam")  # remembered by name
    w.close()

    s = AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    assert s.get("view/mode") == "split"
    assert s.get("view/strength") == pytest.approx(0.4)
    assert s.get("view/mirror") is True
    assert s.get("view/divider") == pytest.approx(0.3)
    assert s.get("inference/quality") == "fast" and s.inference_size() == 256
    assert s.get("source/kind") == "camera" and s.get("source/camera_name") == "HD Webcam"
    assert not s.get("window/geometry").isEmpty()
    assert app_module.startup_source_spec(s.get("source/kind"), s.get("source/camera_name")) == "camera:HD Webcam"

    # a new window built the way the app does picks it all up (the command line would win)
    s.set("source/kind", "demo")
    args = argparse.Namespace(style=None, source=None, backend=None, device=None, size=None, resolution=None,
                              fps=None, mirror=None, strength=None, view=None)
    w2, p2 = app_module.build_window(args, s.qsettings)
    qtbot.addWidget(w2)
    assert (p2.mirror, p2.strength, p2.size) == (True, pytest.approx(0.4), 256)
    assert w2.view_mode == "split" and w2.preview.divider == pytest.approx(0.3)
    assert w2.controls.quality_combo.currentData() == "fast"
    assert p2.source.kind == "demo"
    w2.close()


def test_settings_reject_unknown_keys_and_bad_values(qsettings: QSettings) -> None:
    qsettings.setValue("view/colour", "red")  # unknown key in our group: dropped
    qsettings.setValue("view/mode", "sideways")  # invalid value: default
    qsettings.setValue("view/strength", "7")  # clamped
    qsettings.setValue("outputs/folder", "/tmp")  # another group: left alone
    s = AppSettings(qsettings)
    assert "view/colour" not in qsettings.allKeys()
    assert qsettings.value("outputs/folder") == "/tmp"
    assert s.get("view/mode") == "side_by_side" and s.get("view/strength") == 1.0
    assert qsettings.value("settings_version") in (1, "1")
    with pytest.raises(KeyError):
        s.set("view/colour", "red")
    qsettings.setValue("inference/quality", "99999")  # a saved size over the limits: the default
    assert s.inference_size() is None
    qsettings.setValue("inference/quality", "600")
    assert s.inference_size() == 600


def test_app_main_takes_a_screenshot_and_exits_0(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    from cartoon_cam.cli import build_parser

    shot = tmp_path / "shot.png"
    args = build_parser().parse_args(["--source", "demo", "--style", "classic", "--settings",
                                      str(tmp_path / "s.ini"), "--screenshot", str(shot), "--quit-after", "1.5"])
    assert app_module.main(args) == 0
    assert shot.is_file() and shot.stat().st_size > 10_000
    from PySide6.QtGui import QImage

    img = QImage(str(shot))
    assert img.width() >= 640 and img.height() >= 360
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    assert app.desktopFileName() == "cartoon-cam"  # matches packaging/linux/cartoon-cam.desktop
    assert not app.windowIcon().isNull()


def test_cli_rejects_bad_window_options(tmp_path: Path) -> None:
    from cartoon_cam.cli import main

    assert main(["--style", "no_such_style", "--quit-after", "0"]) == 2
    assert main(["--source", str(tmp_path / "missing.mp4"), "--quit-after", "0"]) == 2
    assert main(["--resolution", "big", "--quit-after", "0"]) == 2


def test_pipeline_event_bridge_delivers_on_the_gui_thread(qtbot, open_window) -> None:  # noqa: ANN001
    w = open_window(ScriptedSource(32, 24, fps=30))
    seen: list[bool] = []
    w.pipeline_event_received.connect(lambda ev: seen.append(threading.current_thread() is threading.main_thread()))
    with qtbot.waitSignal(w.pipeline_event_received, timeout=TIMEOUT):
        threading.Thread(target=lambda: w.pipeline._emit("error", "Test error."), name="cartoon_cam-test").start()
    assert seen and all(seen)
    qtbot.waitUntil(lambda: any(b.text == "Test error." for b in w.banners.banners()), timeout=TIMEOUT)
    assert isinstance(PipelineEvent("error", "x"), PipelineEvent)


def test_close_hides_the_window_before_the_slow_part(qtbot, open_window) -> None:  # noqa: ANN001
    w = open_window(DemoSource(160, 90))
    seen: list[bool] = []
    w.add_close_hook(lambda: seen.append(w.isVisible()))  # e.g. finalising a recording
    with qtbot.waitSignal(w.result_displayed, timeout=TIMEOUT):
        pass
    assert w.isVisible()
    w.close()
    assert seen == [False]


def test_a_running_background_job_never_holds_up_closing_or_exit(qtbot, open_window) -> None:  # noqa: ANN001
    """The window's worker (camera listing, thumbnails) is a daemon; close waits ≤ 1 s for it."""
    w = open_window(DemoSource(160, 90))
    release = threading.Event()
    started = threading.Event()

    def slow_render() -> str:
        started.set()
        release.wait(30)
        return "done"

    fut = w.run_in_worker(slow_render)
    queued = w.run_in_worker(lambda: "never")
    assert started.wait(10)
    workers = [t for t in threading.enumerate() if t.name.startswith("cartoon_cam-ui")]
    assert workers and all(t.daemon for t in workers)  # the interpreter won't wait for them
    start = time.perf_counter()
    w.close()
    assert time.perf_counter() - start < 3.0
    assert queued.cancelled() and not fut.done()
    assert w.run_in_worker(lambda: 1).cancelled()  # closed: nothing new runs
    release.set()
    assert fut.result(5) == "done"


def _style_banners(w: MainWindow) -> list:
    return [b for b in w.banners.banners() if b.key == "style"]


def test_a_backend_that_cannot_run_keeps_the_style_and_is_not_saved(qtbot, open_window) -> None:  # noqa: ANN001
    """Nothing silent: asking for CUDA on a CPU machine keeps the running style, says so in a
    banner that stays, puts the combo back and does not save the choice."""
    w = open_window(ScriptedSource(64, 48, fps=60), style="hayao_lite")
    with qtbot.waitSignal(w.result_displayed, timeout=60_000,
                          check_params_cb=_result_with(lambda r: r.style_id == "hayao_lite")):
        pass
    combo = w.controls.device_combo
    combo.setCurrentIndex(combo.findData("cuda"))
    with qtbot.waitSignal(w.banners.banner_shown, timeout=TIMEOUT) as blocker:
        w.controls.backend_changed.emit("auto", "cuda")
    banner = blocker.args[0]
    assert banner.level == "error" and "keeping 'hayao_lite'" in banner.text and "cuda" in banner.text
    assert combo.currentData() == "auto"  # put back
    assert w.pipeline.backend_choice == ("auto", "auto")
    assert w.settings.get("inference/device") == "auto"  # not saved
    with qtbot.waitSignal(w.result_displayed, timeout=TIMEOUT,
                          check_params_cb=_result_with(lambda r: r.style_id == "hayao_lite")):
        pass
    w.select_style("classic")  # another style loads: the banner about the failure stays
    with qtbot.waitSignal(w.result_displayed, timeout=TIMEOUT,
                          check_params_cb=_result_with(lambda r: r.style_id == "classic")):
        pass
    assert _style_banners(w) and _style_banners(w)[0].isVisibleTo(w)


def test_a_first_style_that_fails_falls_back_with_a_banner_that_stays(qtbot, open_window, tmp_path: Path) -> None:  # noqa: ANN001
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    w = open_window(ScriptedSource(64, 48, fps=60), style=str(broken))
    with qtbot.waitSignal(w.result_displayed, timeout=TIMEOUT,
                          check_params_cb=_result_with(lambda r: r.style_id == "classic")):
        pass
    qtbot.wait(100)  # let the style_changed event for the fallback arrive too
    [banner] = _style_banners(w)
    assert "broken.onnx" in banner.text and "using 'classic'" in banner.text
    banner.dismiss()
    assert not _style_banners(w)


def test_devices_this_machine_cannot_run_are_greyed_out(qtbot, open_window, monkeypatch) -> None:  # noqa: ANN001
    from cartoon_cam.ui import main_window

    monkeypatch.setattr(main_window, "_unavailable_choices", lambda: {"cuda": "no CUDA GPU here"})
    w = open_window(ScriptedSource(64, 48, fps=60))
    qtbot.waitUntil(lambda: "cuda" in w.unavailable, timeout=TIMEOUT)
    combo = w.controls.device_combo
    item = combo.model().item(combo.findData("cuda"))
    assert not item.isEnabled()
    assert "no CUDA GPU here" in combo.itemData(combo.findData("cuda"), Qt.ItemDataRole.ToolTipRole)
    assert combo.model().item(combo.findData("cpu")).isEnabled()


def test_the_real_probe_knows_this_machine_has_no_cuda_when_it_has_none() -> None:
    import ctypes.util

    from cartoon_cam.inference.backends import unavailable_choices

    reasons = unavailable_choices()
    if ctypes.util.find_library("cuda") is None:
        assert "cuda" in reasons


def test_about_names_the_log_file() -> None:
    from cartoon_cam.logs import log_file
    from cartoon_cam.ui.main_window import about_text

    assert str(log_file()) in about_text() and "crash.log" in about_text()


def test_opening_a_huge_picture_in_the_window_is_a_banner(qtbot, open_window, tmp_path: Path) -> None:  # noqa: ANN001
    from test_limits import huge_png

    w = open_window(ScriptedSource(64, 48, fps=60))
    with qtbot.waitSignal(w.banners.banner_shown, timeout=TIMEOUT) as blocker:
        w.set_source_spec(str(huge_png(tmp_path / "big.png")))
    assert "larger than the limit" in blocker.args[0].text
    assert w.pipeline.source.kind != "image"  # the old source keeps running


def test_window_resolution_over_the_limits_is_refused(capsys) -> None:
    from cartoon_cam.cli import main

    assert main(["--resolution", "20000x20000", "--source", "demo", "--quit-after", "0"]) == 2
    assert "larger than the limit" in capsys.readouterr().err
