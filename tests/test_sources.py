"""Frame sources: contract (uint8 RGB HxWx3), pacing, looping, failures, camera listing by name."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from cartoon_cam.core.sources import (
    CameraInfo,
    CameraSource,
    DemoSource,
    ImageSource,
    ScriptedSource,
    SourceEnded,
    SourceError,
    SourceLost,
    VideoFileSource,
    capture_apis,
    demo_pictures,
    find_camera,
    frame_number,
    open_source,
)
from cartoon_cam.core.sources.camera import list_linux_cameras, parse_device_list
from cartoon_cam.errors import InputError


def _check_frame(img: np.ndarray, h: int, w: int) -> None:
    assert isinstance(img, np.ndarray) and img.dtype == np.uint8
    assert img.shape == (h, w, 3) and img.flags.c_contiguous


# ----------------------------------------------------------------- scripted


def test_scripted_frames_encode_their_number_and_fail_on_cue() -> None:
    s = ScriptedSource(8, 6, fps=None, fail_at={3}, reopen_failures=2)
    s.open()
    got = [frame_number(s.read()) for _ in range(3)]
    assert got == [0, 1, 2]
    with pytest.raises(SourceLost):
        s.read()
    s.close()
    for _ in range(2):  # still "unplugged"
        with pytest.raises(SourceError):
            s.open()
    s.open()
    img = s.read()
    _check_frame(img, 6, 8)
    assert frame_number(img) == 3
    assert img[0, 0, 2] == 0 and img[0, -1, 2] == 255  # B ramp left → right
    assert (s.opens, s.open_attempts, s.closes) == (2, 4, 1)


def test_scripted_open_failures_and_limit() -> None:
    s = ScriptedSource(4, 4, fps=None, open_failures=1, limit=2)
    with pytest.raises(SourceError):
        s.open()
    s.open()
    s.read(), s.read()
    with pytest.raises(SourceEnded):
        s.read()


# ----------------------------------------------------------------- demo


def test_demo_pictures_are_shipped() -> None:
    pics = demo_pictures()
    assert {p.name for p in pics} == {"astronaut.jpg", "chelsea.jpg", "coffee.jpg", "rocket.jpg"}
    for p in pics:
        assert p.stat().st_size < 120_000


def test_demo_source_animates_deterministically() -> None:
    d = DemoSource(160, 90, fps=30)
    d.open()
    a = d.read()
    _check_frame(a, 90, 160)
    b = d.read()
    assert not np.array_equal(a, b)  # pan/zoom and the ball move every frame
    assert np.array_equal(d.render(0), a)
    # the slide to the next picture happens inside each 4 s turn
    assert not np.array_equal(d.render(0), d.render(4 * 30 + 10))
    d.close()
    with pytest.raises(SourceError):
        d.read()


def test_demo_without_pictures_still_runs(tmp_path: Path) -> None:
    d = DemoSource(64, 48, pictures=[])
    d.open()
    _check_frame(d.read(), 48, 64)


def test_demo_is_paced_and_interruptible() -> None:
    d = DemoSource(64, 48, fps=50)
    d.open()
    t0 = time.perf_counter()
    for _ in range(6):
        d.read()
    elapsed = time.perf_counter() - t0
    assert 0.08 <= elapsed < 5.0  # paced: at least 5 periods of 20 ms (upper bound: a loaded machine)
    slow = DemoSource(64, 48, fps=0.05)
    slow.open()
    slow.read()
    threading.Timer(0.05, slow.interrupt).start()
    t0 = time.perf_counter()
    slow.read()
    assert time.perf_counter() - t0 < 10.0  # a 20 s wait cut short


# ----------------------------------------------------------------- files


def test_image_source_reads_rgb(tmp_path: Path) -> None:
    img = np.zeros((10, 20, 3), np.uint8)
    img[..., 0] = 200  # red in RGB
    p = tmp_path / "red.png"
    cv2.imwrite(str(p), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    s = ImageSource(p, fps=100)
    s.open()
    out = s.read()
    _check_frame(out, 10, 20)
    assert out[0, 0].tolist() == [200, 0, 0]
    assert s.resolution == (20, 10)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(SourceError):
        ImageSource(bad).open()


def _write_video(path: Path, n: int, fps: int = 25, w: int = 32, h: int = 24) -> None:
    import av

    with av.open(str(path), "w") as c:
        st = c.add_stream("mpeg4", rate=fps)
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        for i in range(n):
            img = np.full((h, w, 3), (i * 20) % 256, np.uint8)
            for pkt in st.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(pkt)
        for pkt in st.encode():
            c.mux(pkt)


def test_video_file_source_paces_and_loops(tmp_path: Path) -> None:
    p = tmp_path / "clip.mp4"
    _write_video(p, 5, fps=50)
    s = VideoFileSource(p)
    s.open()
    assert s.fps == pytest.approx(50)
    t0 = time.perf_counter()
    frames = [s.read() for _ in range(12)]  # past the end twice
    elapsed = time.perf_counter() - t0
    for f in frames:
        _check_frame(f, 24, 32)
    assert 0.15 < elapsed < 10.0  # paced: at least 11 periods of 20 ms (upper bound: a loaded machine)
    assert s.frame_count == 12
    s.close()
    once = VideoFileSource(p, loop=False, fps=1000)
    once.open()
    for _ in range(5):
        once.read()
    with pytest.raises(SourceEnded):
        once.read()
    with pytest.raises(SourceError):
        VideoFileSource(tmp_path / "missing.mp4").open()


# ----------------------------------------------------------------- specs


def test_open_source_specs(tmp_path: Path) -> None:
    assert isinstance(open_source("demo"), DemoSource)
    cam = open_source("camera:2")
    assert isinstance(cam, CameraSource) and cam.camera == 2 and cam.spec == "camera:2"
    named = open_source("camera:HD Webcam", width=1280, height=720)
    assert named.camera == "HD Webcam" and named.req_width == 1280
    assert open_source("camera").camera == 0
    img = tmp_path / "x.jpg"
    cv2.imwrite(str(img), np.zeros((4, 4, 3), np.uint8))
    assert isinstance(open_source(str(img)), ImageSource)
    vid = tmp_path / "x.mp4"
    _write_video(vid, 2)
    assert isinstance(open_source(str(vid)), VideoFileSource)
    with pytest.raises(InputError):
        open_source(str(tmp_path / "nope.mp4"))


# ----------------------------------------------------------------- cameras


def test_capture_api_per_os() -> None:
    assert [label for _, label in capture_apis("win32")] == ["dshow", "msmf"]
    assert [label for _, label in capture_apis("darwin")] == ["avfoundation"]
    assert [label for _, label in capture_apis("linux")] == ["v4l2"]


def test_linux_cameras_listed_by_name(tmp_path: Path) -> None:
    def node(n: int, name: str, index: int) -> None:
        d = tmp_path / f"video{n}"
        d.mkdir()
        (d / "name").write_text(name + "\n")
        (d / "index").write_text(f"{index}\n")

    node(0, "HD Webcam", 0)
    node(1, "HD Webcam", 1)  # its metadata node: skipped
    node(2, "HD Webcam", 0)  # a second identical camera
    node(10, "OBS Virtual Camera", 0)
    cams = list_linux_cameras(tmp_path)
    assert cams == [CameraInfo(0, "HD Webcam", "/dev/video0"), CameraInfo(2, "HD Webcam (2)", "/dev/video2"),
                    CameraInfo(10, "OBS Virtual Camera", "/dev/video10")]
    assert find_camera("hd webcam (2)", cams).index == 2
    assert find_camera("OBS", cams).index == 10
    assert find_camera("Logitech", cams) is None
    assert list_linux_cameras(tmp_path / "absent") == []


def test_ffmpeg_device_lists_parse() -> None:
    new = ['"Integrated Camera" (video)', '  Alternative name "@device_pnp_\\\\?\\usb"',
           '"Microphone (Realtek)" (audio)', '"OBS Virtual Camera" (video)']
    assert parse_device_list("dshow", new) == ["Integrated Camera", "OBS Virtual Camera"]
    old = ["DirectShow video devices (some may be both video and audio devices)", ' "USB Cam"',
           "DirectShow audio devices", ' "Mic"']
    assert parse_device_list("dshow", old) == ["USB Cam"]
    mac = ["AVFoundation video devices:", "[0] FaceTime HD Camera", "[1] Capture screen 0",
           "AVFoundation audio devices:", "[0] MacBook Pro Microphone"]
    assert parse_device_list("avfoundation", mac) == ["FaceTime HD Camera", "Capture screen 0"]


def test_missing_camera_fails_to_open_with_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    import cartoon_cam.core.sources.camera as camera

    monkeypatch.setattr(camera, "list_cameras", lambda probe=False: [CameraInfo(0, "Other Cam")])
    with pytest.raises(SourceError, match="'HD Webcam' is not connected.*Other Cam"):
        CameraSource("HD Webcam").open()


def test_camera_source_with_a_fake_capture(monkeypatch: pytest.MonkeyPatch) -> None:
    """Granted settings are read back; a dead stream raises SourceLost; reopen works by name."""
    import cartoon_cam.core.sources.camera as camera

    class FakeCap:
        alive = True

        def __init__(self, index: int, api: int) -> None:
            self.index, self.props = index, {cv2.CAP_PROP_FPS: 30.0, cv2.CAP_PROP_FOURCC: float(cv2.VideoWriter.fourcc(*"MJPG"))}

        def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
            return True

        def set(self, prop: int, value: float) -> bool:
            if prop != cv2.CAP_PROP_FPS:
                self.props[prop] = value
            return True

        def get(self, prop: int) -> float:
            return self.props.get(prop, 0.0)

        def read(self) -> tuple[bool, np.ndarray | None]:
            if not FakeCap.alive:
                return False, None
            bgr = np.zeros((int(self.props.get(cv2.CAP_PROP_FRAME_HEIGHT, 48)), int(self.props.get(cv2.CAP_PROP_FRAME_WIDTH, 64)), 3), np.uint8)
            bgr[..., 0] = 255  # blue in BGR
            return True, bgr

        def release(self) -> None:
            pass

    monkeypatch.setattr(camera.cv2, "VideoCapture", FakeCap)
    monkeypatch.setattr(camera, "list_cameras", lambda probe=False: [CameraInfo(3, "Fake Cam")])
    cam = CameraSource("Fake Cam", width=320, height=240, fps=60, lost_timeout=0.1)
    cam.open()
    assert cam.index == 3
    img = cam.read()
    _check_frame(img, 240, 320)
    assert img[0, 0].tolist() == [0, 0, 255]  # converted to RGB
    assert cam.granted["fourcc"] == "MJPG" and cam.granted["fps"] == 30.0 and cam.fps == 30.0
    assert "320x240" in cam.describe()
    FakeCap.alive = False
    with pytest.raises(SourceLost):
        cam.read()
    cam.close()
    FakeCap.alive = True
    cam.open()
    _check_frame(cam.read(), 240, 320)
    cam.close()


def test_open_source_plays_files_in_a_loop_unless_told(tmp_path: Path) -> None:
    vid = tmp_path / "x.mp4"
    _write_video(vid, 2)
    assert open_source(str(vid)).loop is True  # the window
    once = open_source(str(vid), loop=False)  # headless live
    assert isinstance(once, VideoFileSource) and once.loop is False


def test_camera_open_stops_waiting_for_a_first_frame_when_interrupted(monkeypatch: pytest.MonkeyPatch) -> None:
    """A camera that opens but never delivers: interrupt() (stop, source switch) ends open() at once
    instead of after open_timeout per capture API."""
    import cartoon_cam.core.sources.camera as camera

    released: list[int] = []

    class SilentCap:
        def __init__(self, index: int, api: int) -> None:
            pass

        def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
            return True

        def set(self, prop: int, value: float) -> bool:
            return True

        def get(self, prop: int) -> float:
            return 0.0

        def read(self) -> tuple[bool, None]:
            return False, None

        def release(self) -> None:
            released.append(1)

    monkeypatch.setattr(camera.cv2, "VideoCapture", SilentCap)
    monkeypatch.setattr(camera, "list_cameras", lambda probe=False: [])
    monkeypatch.setattr(camera, "capture_apis", lambda: [(0, "a"), (1, "b")])
    cam = CameraSource(0, open_timeout=3.0)
    errors: list[BaseException] = []

    def opener() -> None:
        try:
            cam.open()
        except BaseException as e:
            errors.append(e)

    th = threading.Thread(target=opener)
    th.start()
    time.sleep(0.2)
    t0 = time.perf_counter()
    cam.interrupt()
    th.join(5)
    assert time.perf_counter() - t0 < 0.5
    assert len(errors) == 1 and isinstance(errors[0], SourceError) and "interrupted" in str(errors[0])
    assert released == [1] and not cam.is_open
