"""Virtual camera: the sending loop against a fake backend that records what it was sent (size,
letterbox, pacing, newest-wins, mirror) and the no-driver / not-installed message paths."""

from __future__ import annotations

import glob
import sys
import threading
import time

import numpy as np
import pytest

from cartoon_cam.core.frames import Frame, ResultFrame
from cartoon_cam.outputs.virtual_camera import (
    VirtualCamera,
    VirtualCameraError,
    driver_help,
    pyvirtualcam_factory,
)


class RecordingCamera:
    """Fake pyvirtualcam camera: checks each frame like pyvirtualcam does and keeps a copy."""

    def __init__(self, width: int, height: int, fps: float):
        self.width, self.height, self.fps = width, height, fps
        self.device = "/dev/fake0"
        self.frames: list[np.ndarray] = []
        self.times: list[float] = []
        self.closed = 0
        self.lock = threading.Lock()

    def send(self, frame: np.ndarray) -> None:
        assert frame.dtype == np.uint8 and frame.shape == (self.height, self.width, 3)
        with self.lock:
            self.frames.append(frame.copy())
            self.times.append(time.perf_counter())

    def close(self) -> None:
        self.closed += 1


def make_factory():
    made: list[RecordingCamera] = []

    def factory(w: int, h: int, fps: float) -> RecordingCamera:
        made.append(RecordingCamera(w, h, fps))
        return made[-1]

    return factory, made


def result(seq: int, w: int = 320, h: int = 240) -> ResultFrame:
    img = np.zeros((h, w, 3), np.uint8)
    img[:, : w // 4] = (200, 0, 0)  # original: red band on the left
    cartoon = np.zeros((h, w, 3), np.uint8)
    cartoon[:, : w // 4] = (0, 0, 200)  # cartoon: blue band on the left
    cartoon[0, 0] = seq % 256  # tells results apart
    return ResultFrame(Frame(img, seq, float(seq)), cartoon, "test")


def run_for(vc: VirtualCamera, seconds: float) -> None:
    vc.start()
    assert vc.wait_open(5)
    time.sleep(seconds)
    vc.stop()


def wait_frames(cam: RecordingCamera, n: int, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while len(cam.frames) < n and time.monotonic() < end:
        time.sleep(0.01)


def test_letterbox_size_and_black_before_first_result() -> None:
    factory, made = make_factory()
    vc = VirtualCamera(width=1280, height=720, fps=30, camera_factory=factory)
    vc.start()
    assert vc.wait_open(5) and vc.device == "/dev/fake0"
    cam = made[0]
    wait_frames(cam, 1)
    assert cam.frames[0].max() == 0  # black until a result arrives
    vc.submit(result(1))  # 4:3 → pillarboxed: 960x720 picture, 160 px bars left and right
    end = time.monotonic() + 5
    while cam.frames[-1].max() == 0 and time.monotonic() < end:
        time.sleep(0.01)
    vc.stop()
    f = cam.frames[-1]
    assert (cam.width, cam.height, cam.fps) == (1280, 720, 30)
    assert f[:, :158].max() == 0 and f[:, 1122:].max() == 0  # bars
    assert tuple(f[360, 200]) == (0, 0, 200)  # cartoon's blue band starts right after the bar
    assert tuple(f[360, 600]) == (0, 0, 0)
    assert cam.closed == 1


def test_side_by_side_is_letterboxed_top_and_bottom() -> None:
    factory, made = make_factory()
    vc = VirtualCamera(fps=30, layout="side_by_side", camera_factory=factory)
    vc.submit(result(1))  # 640x240 → 1280x480, 120 px bars top and bottom
    run_for(vc, 0.2)
    f = made[0].frames[-1]
    assert f[:118].max() == 0 and f[602:].max() == 0
    assert tuple(f[360, 100]) == (200, 0, 0)  # original on the left
    assert tuple(f[360, 700]) == (0, 0, 200)  # cartoon on the right


def test_mirror_flips_each_panel_and_can_change_live() -> None:
    factory, made = make_factory()
    vc = VirtualCamera(width=320, height=240, fps=50, camera_factory=factory, mirror=True)
    vc.submit(result(1))
    vc.start()
    assert vc.wait_open(5)
    cam = made[0]
    wait_frames(cam, 3)
    assert tuple(cam.frames[-1][120, 310]) == (0, 0, 200)  # band now on the right
    assert cam.frames[-1][120, 10].max() == 0
    vc.mirror = False
    n = len(cam.frames)
    wait_frames(cam, n + 3)
    vc.stop()
    assert tuple(cam.frames[-1][120, 10]) == (0, 0, 200)


def test_paced_at_the_source_rate_with_the_newest_result() -> None:
    factory, made = make_factory()
    vc = VirtualCamera(width=320, height=240, fps=20, camera_factory=factory)
    vc.start()
    assert vc.wait_open(5)
    t0 = time.perf_counter()
    seq = 0
    while time.perf_counter() - t0 < 1.0:  # results arrive at ~200 fps, much faster than 20
        seq += 1
        vc.submit(result(seq))
        time.sleep(0.005)
    vc.stop()
    cam = made[0]
    sent = len(cam.frames)
    assert 10 <= sent <= 25, sent  # 20 fps for 1 s; fewer when a loaded machine wakes threads late
    gaps = np.diff(cam.times)
    assert abs(float(np.median(gaps)) - 0.05) < 0.02
    assert vc.frames_composed <= sent  # only the newest result is composed at each tick
    markers = [int(f[0, 0, 2]) for f in cam.frames[1:]]  # letterbox-free size: pixel (0,0) maps 1:1
    assert markers == sorted(markers)


def test_factory_failure_is_reported_and_nothing_else_stops() -> None:
    events = []

    def broken(w: int, h: int, fps: float):
        raise VirtualCameraError("No virtual camera is available (test).")

    vc = VirtualCamera(camera_factory=broken, on_event=events.append)
    vc.submit(result(1))
    vc.start()
    with pytest.raises(VirtualCameraError, match="No virtual camera"):
        vc.wait_open(5)
    vc.stop()
    assert not vc.is_running
    assert events and events[0].kind == "error" and events[0].output == "virtual_camera"


def test_send_failure_stops_with_an_event() -> None:
    events = []

    class Flaky(RecordingCamera):
        def send(self, frame):
            if len(self.frames) >= 3:
                raise RuntimeError("device disconnected")
            super().send(frame)

    cams = []

    def factory(w, h, fps):
        cams.append(Flaky(w, h, fps))
        return cams[-1]

    vc = VirtualCamera(width=64, height=48, fps=100, camera_factory=factory, on_event=events.append)
    vc.start()
    assert vc.wait_open(5)
    end = time.monotonic() + 5
    while vc.error is None and time.monotonic() < end:
        time.sleep(0.01)
    vc.stop()
    assert "device disconnected" in str(vc.error)
    assert [e.kind for e in events] == ["started", "error"]
    assert cams[0].closed == 1


@pytest.mark.parametrize("layout", ["cartoon", "original", "side_by_side"])
@pytest.mark.parametrize("mirror", [False, True])
def test_render_matches_compose_then_letterbox(layout: str, mirror: bool) -> None:
    from cartoon_cam.outputs.compose import compose, letterbox

    rng = np.random.default_rng(0)
    img = cv2_blur(rng.integers(0, 256, (360, 480, 3), dtype=np.uint8))
    r = ResultFrame(Frame(img, 0, 0.0), 255 - img, "test")
    vc = VirtualCamera(width=640, height=360, layout=layout, mirror=mirror)
    got = vc.render(r).astype(int)
    want = letterbox(compose(r, layout, mirror), 640, 360).astype(int)
    assert got.shape == want.shape == (360, 640, 3)
    assert np.abs(got - want).mean() < 1.0


def cv2_blur(img: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(img, (9, 9), 3)


@pytest.mark.parametrize("system,needle", [
    ("Linux", "modprobe v4l2loopback"),
    ("Windows", "Unity Capture"),
    ("Darwin", "Start Virtual Camera"),
])
def test_driver_help_per_os(system: str, needle: str) -> None:
    assert needle in driver_help(system)


@pytest.mark.skipif(bool(glob.glob("/dev/video*")) or sys.platform != "linux",
                    reason="a video device exists; this checks the no-driver path")
def test_no_driver_message_from_real_pyvirtualcam() -> None:
    pytest.importorskip("pyvirtualcam")
    events = []
    vc = VirtualCamera(camera_factory=pyvirtualcam_factory(), on_event=events.append)
    vc.start()
    with pytest.raises(VirtualCameraError) as exc:
        vc.wait_open(10)
    vc.stop()
    msg = str(exc.value)
    assert msg.startswith("No virtual camera is available")
    assert "sudo modprobe v4l2loopback" in msg
    assert events[0].message == msg


def test_pyvirtualcam_not_installed(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pyvirtualcam", None)
    with pytest.raises(VirtualCameraError, match=r"pip install 'cartoon-cam\[vcam\]'"):
        pyvirtualcam_factory()(1280, 720, 30)


def _band_result(mirrored: bool, w: int = 320, h: int = 240) -> ResultFrame:
    """A scene with a red band on its left, as captured with or without the preview's mirror."""
    img = np.zeros((h, w, 3), np.uint8)
    img[:, : w // 4] = (200, 0, 0)
    if mirrored:
        img = np.ascontiguousarray(img[:, ::-1])
    return ResultFrame(Frame(img, 1, 0.0, mirrored), img.copy(), "test")


@pytest.mark.parametrize("captured_mirrored", [False, True])
@pytest.mark.parametrize("vcam_mirror", [False, True])
@pytest.mark.parametrize("layout", ["cartoon", "side_by_side"])
def test_vcam_mirror_is_independent_of_the_preview_mirror(captured_mirrored: bool, vcam_mirror: bool,
                                                          layout: str) -> None:
    r = _band_result(captured_mirrored)
    assert r.mirrored is captured_mirrored
    vc = VirtualCamera(width=320, height=240, layout=layout, mirror=vcam_mirror)
    out = vc.render(r)
    panel = out[120, :160] if layout == "side_by_side" else out[120]  # the first panel's row
    band_left = panel[2, 0] > 100
    band_right = panel[-3, 0] > 100
    assert (band_left, band_right) == (not vcam_mirror, vcam_mirror)


def test_pipeline_mirror_does_not_mirror_the_virtual_camera() -> None:
    """A live pipeline mirroring at capture (the preview's M) feeds an unmirrored virtual camera."""
    from cartoon_cam.core.pipeline import Pipeline
    from cartoon_cam.core.sources import ScriptedSource

    factory, made = make_factory()
    vc = VirtualCamera(width=64, height=48, fps=50, layout="original", camera_factory=factory)
    p = Pipeline(ScriptedSource(64, 48, fps=100), "classic", mirror=True)  # blue: left→right ramp
    p.add_sink(vc.submit)
    p.start()
    vc.start()
    try:
        assert vc.wait_open(5)
        end = time.monotonic() + 10
        while (not made[0].frames or made[0].frames[-1].max() == 0) and time.monotonic() < end:
            time.sleep(0.01)
        r = p.latest_result()
        assert r is not None and r.mirrored and r.source.image[0, 0, 2] > 200  # mirrored at capture
    finally:
        p.stop()
        vc.stop()
    f = made[0].frames[-1]
    assert f[24, 1, 2] < 30 and f[24, 62, 2] > 220  # the ramp runs left→right again


def test_pyvirtualcam_factory_opens_and_feeds_the_camera(fake_pyvirtualcam) -> None:
    events = []
    vc = VirtualCamera(width=640, height=360, fps=24, mirror=False, on_event=events.append,
                       camera_factory=pyvirtualcam_factory(backend="v4l2loopback", device="/dev/video7"))
    vc.submit(result(5))
    vc.start()
    assert vc.wait_open(5) and vc.device == "/dev/video7"
    [cam] = fake_pyvirtualcam.Camera.instances
    end = time.monotonic() + 5
    while (cam.sent < 3 or cam.last is None or cam.last.max() == 0) and time.monotonic() < end:
        time.sleep(0.01)
    vc.stop()
    assert cam.args == {"width": 640, "height": 360, "fps": 24.0, "fmt": fake_pyvirtualcam.PixelFormat.RGB,
                        "device": "/dev/video7", "backend": "v4l2loopback"}
    assert cam.sent >= 3 and vc.frames_sent == cam.sent
    assert tuple(cam.last[180, 140]) == (0, 0, 200)  # the cartoon, pillarboxed: 480x360 from x=80
    assert cam.closed == 1
    assert [e.kind for e in events] == ["started", "stopped"] and "/dev/video7" in events[0].message


def test_pyvirtualcam_runtime_error_is_the_no_driver_message(fake_pyvirtualcam) -> None:
    fake_pyvirtualcam.Camera.fail = RuntimeError("'v4l2loopback' backend: no loopback device found\nmore")
    with pytest.raises(VirtualCameraError) as exc:
        pyvirtualcam_factory()(1280, 720, 30)
    msg = str(exc.value)
    assert msg.startswith("No virtual camera is available ('v4l2loopback' backend: no loopback device found).")
    assert driver_help() in msg and "more" not in msg
    assert fake_pyvirtualcam.Camera.instances == []
