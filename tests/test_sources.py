"""Frame sources: contract (uint8 RGB HxWx3), pacing, looping, failures, camera listing by name."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

import cartoon_cam.core.sources.camera as camera_mod
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
from cartoon_cam.errors import InputError


class OpenedCap:
    """A stand-in for ``cv2.VideoCapture`` that opens and accepts every setting; tests override
    ``read`` (and ``__init__`` to record what was opened)."""

    def __init__(self, index: int = 0, api: int = 0) -> None:
        pass

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return True

    def set(self, prop: int, value: float) -> bool:
        return True

    def get(self, prop: int) -> float:
        return 0.0

    def read(self) -> tuple[bool, np.ndarray | None]:
        return False, None

    def release(self) -> None:
        pass

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
    # paced: at least 5 periods of 20 ms (load only makes it slower); the upper bound is a hang
    # guard with room for a loaded 2-core machine, not a speed claim
    assert 0.08 <= elapsed < 30.0
    slow = DemoSource(64, 48, fps=0.01)
    slow.open()
    slow.read()  # the first frame is due at once
    threading.Timer(0.05, slow.interrupt).start()
    t0 = time.perf_counter()
    slow.read()
    # a 100 s wait cut short by the interrupt: 30 s leaves a loaded machine room and still fails
    # an uninterrupted wait by 70 s
    assert time.perf_counter() - t0 < 30.0


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
    # paced: at least 11 periods of 20 ms (load only makes it slower); the upper bound is a hang
    # guard (reading 12 tiny frames takes milliseconds), not a speed claim
    assert 0.15 < elapsed < 30.0
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


class FakeEntry:
    """What ``cv2_enumerate_cameras.enumerate_cameras`` returns (its ``CameraInfo``)."""

    def __init__(self, index: int, name: str | None, path: str | None = None, vid: int | None = None,
                 pid: int | None = None, backend: int = 0) -> None:
        self.index, self.name, self.path, self.vid, self.pid, self.backend = index, name, path, vid, pid, backend


@pytest.fixture
def fake_library(monkeypatch: pytest.MonkeyPatch) -> dict[int, list[FakeEntry]]:
    """The library's enumerate function replaced: returns ``listing[api]`` and records the APIs asked
    in ``listing["asked"]``; warnings start afresh and every /dev node counts as accessible."""
    import cv2_enumerate_cameras

    listing: dict = {"asked": []}

    def enumerate_cameras(api: int = 0) -> list[FakeEntry]:
        listing["asked"].append(api)
        return list(listing.get(api, []))

    monkeypatch.setattr(cv2_enumerate_cameras, "enumerate_cameras", enumerate_cameras)
    monkeypatch.setattr(camera_mod, "_warned", set())
    monkeypatch.setattr(camera_mod.os, "access", lambda path, mode: True)
    return listing


def test_cameras_listed_by_name_from_the_library(fake_library: dict) -> None:
    """Sorted by index, one entry per index, equal names told apart, blank names filled in."""
    v4l2 = cv2.CAP_V4L2
    fake_library[v4l2] = [
        FakeEntry(10, "OBS Virtual Camera", "/dev/video10", backend=v4l2),
        FakeEntry(2, "HD Webcam", "/dev/video2", 0x046D, 0x0825, v4l2),  # a second identical camera
        FakeEntry(0, "HD Webcam", "/dev/video0", 0x046D, 0x0825, v4l2),
        FakeEntry(0, "HD Webcam", "/dev/video0", 0x046D, 0x0825, v4l2),  # listed twice: kept once
        FakeEntry(4, "  ", None, backend=v4l2),
    ]
    cams = camera_mod.list_named_cameras("linux")
    assert cams == [
        CameraInfo(0, "HD Webcam", "/dev/video0", 0x046D, 0x0825, v4l2),
        CameraInfo(2, "HD Webcam (2)", "/dev/video2", 0x046D, 0x0825, v4l2),
        CameraInfo(4, "Camera 4", "", None, None, v4l2),
        CameraInfo(10, "OBS Virtual Camera", "/dev/video10", None, None, v4l2),
    ]
    assert fake_library["asked"] == [v4l2]  # V4L2 only, not GStreamer
    assert find_camera("hd webcam (2)", cams).index == 2
    assert find_camera("OBS", cams).index == 10
    assert find_camera("Logitech", cams) is None


def test_camera_listing_prefers_the_api_per_os(fake_library: dict) -> None:
    """Windows: DirectShow, Media Foundation only when DirectShow lists nothing; macOS: AVFoundation."""
    dshow, msmf, avf = cv2.CAP_DSHOW, cv2.CAP_MSMF, cv2.CAP_AVFOUNDATION
    fake_library[dshow] = [FakeEntry(0, "Integrated Camera", r"\\?\usb#vid_04f2&pid_b6dd", 0x04F2, 0xB6DD, dshow)]
    fake_library[msmf] = [FakeEntry(0, "OBS Virtual Camera", None, backend=msmf),
                          FakeEntry(1, "Integrated Camera", None, backend=msmf)]
    fake_library[avf] = [FakeEntry(0, "FaceTime HD Camera", "8020000005ac8514", backend=avf)]
    win = camera_mod.list_named_cameras("win32")
    assert [(c.index, c.name, c.api, c.vid) for c in win] == [(0, "Integrated Camera", dshow, 0x04F2)]
    assert fake_library["asked"] == [dshow]
    fake_library[dshow] = []
    fake_library["asked"].clear()
    win = camera_mod.list_named_cameras("win32")
    assert [(c.index, c.name, c.api) for c in win] == [(0, "OBS Virtual Camera", msmf), (1, "Integrated Camera", msmf)]
    assert fake_library["asked"] == [dshow, msmf]
    mac = camera_mod.list_named_cameras("darwin")
    assert [(c.index, c.name, c.path, c.api) for c in mac] == [(0, "FaceTime HD Camera", "8020000005ac8514", avf)]


def test_camera_opens_first_with_the_api_that_listed_it(fake_library: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """An index from Media Foundation's listing is opened with Media Foundation before DirectShow."""
    opened: list[tuple[int, int]] = []

    class Cap(OpenedCap):
        def __init__(self, index: int, api: int) -> None:
            opened.append((index, api))

        def read(self) -> tuple[bool, np.ndarray]:
            return True, np.zeros((4, 4, 3), np.uint8)

    win_apis = camera_mod.capture_apis("win32")
    monkeypatch.setattr(camera_mod, "capture_apis", lambda platform=None: win_apis)
    monkeypatch.setattr(camera_mod.cv2, "VideoCapture", Cap)
    fake_library[cv2.CAP_MSMF] = [FakeEntry(0, "Other", backend=cv2.CAP_MSMF),
                                  FakeEntry(1, "USB Cam", backend=cv2.CAP_MSMF)]
    cam = CameraSource("USB Cam")
    cam.open()
    assert opened == [(1, cv2.CAP_MSMF)] and cam.granted["api"] == "msmf"
    cam.close()


@pytest.mark.parametrize("failure", ["missing", "raises"])
def test_camera_listing_failure_is_logged_not_fatal(failure: str, fake_library: dict, monkeypatch: pytest.MonkeyPatch,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """No library, or one that raises: a warning (once) with the reason, an empty listing, probing by
    index on request, and a "not connected" error that says why names are unknown."""
    import sys

    if failure == "missing":
        monkeypatch.setitem(sys.modules, "cv2_enumerate_cameras", None)  # import raises ImportError
        reason = "not installed"
    else:
        import cv2_enumerate_cameras

        def broken(api: int = 0) -> list:
            raise OSError("helper crashed")

        monkeypatch.setattr(cv2_enumerate_cameras, "enumerate_cameras", broken)
        reason = "OSError: helper crashed"
    probed = [CameraInfo(0, "Camera 0")]
    monkeypatch.setattr(camera_mod, "_probe_indices", lambda n=4: probed)
    with caplog.at_level("DEBUG", logger=camera_mod.log.name):
        assert camera_mod.list_cameras() == []
        assert camera_mod.list_cameras(probe=True) == probed
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and reason in warnings[0].getMessage()
    assert "Camera names cannot be read" in warnings[0].getMessage()
    with pytest.raises(SourceError, match=f"'HD Webcam' is not connected.*{reason}"):
        CameraSource("HD Webcam").open()


def test_camera_without_device_access_is_listed_with_a_warning(fake_library: dict, monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Without access the library cannot ask the driver and lists metadata nodes too: those are
    dropped by their sysfs index, so the second camera keeps its name "HD Webcam (2)"."""
    v4l2 = cv2.CAP_V4L2
    for n, index in ((0, 0), (1, 1), (2, 0)):  # camera, its metadata node, a second camera
        (tmp_path / f"video{n}").mkdir()
        (tmp_path / f"video{n}" / "index").write_text(f"{index}\n")
    monkeypatch.setattr(camera_mod, "SYSFS_V4L", str(tmp_path))
    fake_library[v4l2] = [FakeEntry(n, "HD Webcam", f"/dev/video{n}", backend=v4l2) for n in (0, 1, 2)]
    monkeypatch.setattr(camera_mod.os, "access", lambda path, mode: False)
    with caplog.at_level("WARNING", logger=camera_mod.log.name):
        cams = camera_mod.list_named_cameras("linux")
    assert [(c.index, c.name) for c in cams] == [(0, "HD Webcam"), (2, "HD Webcam (2)")]
    assert "No access to /dev/video0" in caplog.text and "'video' group" in caplog.text


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

    class SilentCap(OpenedCap):
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
