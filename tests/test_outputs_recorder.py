"""Recorder: files re-opened with PyAV (codec, size, frame count, timestamps), encoder fallback,
bounded queue, write errors (disk full, bad folder), SIGKILL safety and audio."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from cartoon_cam.core.frames import Frame, ResultFrame
from cartoon_cam.errors import OutputError
from cartoon_cam.outputs.audio import ToneSource
from cartoon_cam.outputs.recorder import Recorder, choose_encoder

REPO = Path(__file__).resolve().parents[1]


def result(i: int, t: float, w: int = 320, h: int = 240, noise: bool = False) -> ResultFrame:
    """A synthetic result: the original is a moving bar, the cartoon its negative."""
    if noise:
        img = np.random.default_rng(i).integers(0, 256, (h, w, 3), dtype=np.uint8)
    else:
        img = np.full((h, w, 3), (i * 5) % 200, np.uint8)
        img[:, (i * 7) % w] = 255
    return ResultFrame(Frame(img, i, t), 255 - img, "test")


@dataclass(frozen=True)
class StreamInfo:
    """What a test asks of a decoded video stream, read while its container is open (PyAV 18.1.1
    refuses a closed container's stream attributes)."""

    name: str
    width: int
    height: int
    time_base: Fraction


def decode(path: Path) -> tuple[StreamInfo, list[int], list[np.ndarray]]:
    """(stream info, pts list, decoded RGB frames) of the video stream; fails on a decode error."""
    with av.open(str(path)) as c:
        st = c.streams.video[0]
        info = StreamInfo(st.codec_context.name, st.codec_context.width, st.codec_context.height, st.time_base)
        pts, imgs = [], []
        for f in c.decode(st):
            pts.append(f.pts)
            imgs.append(f.to_ndarray(format="rgb24"))
        return info, pts, imgs


def test_variable_frame_rate_keeps_capture_times(tmp_path: Path) -> None:
    path = tmp_path / "vfr.mp4"
    times, t = [], 1000.0
    for i in range(60):
        t += 0.02 if i % 2 else 0.07  # 20 ms / 70 ms: ~22 fps on average, very uneven
        times.append(t)
    events = []
    rec = Recorder(path, fps=22, queue_size=1000, on_event=events.append).start()
    for i, t in enumerate(times):
        assert rec.submit(result(i, t))
    info = rec.stop()

    assert info.error is None and info.frames == 60 and info.dropped == 0
    assert info.encoder == "libx264"
    assert [e.kind for e in events] == ["started", "stopped"]
    with av.open(str(path)) as c:
        st = c.streams.video[0]
        assert st.codec_context.name == "h264"
        assert (st.codec_context.width, st.codec_context.height) == (320, 240)
        assert st.codec_context.pix_fmt == "yuv420p"
        playback = c.duration / 1e6
        tb = st.time_base
        pts = [f.pts for f in c.decode(st)]
    assert len(pts) == 60
    assert all(b > a for a, b in zip(pts, pts[1:], strict=False))
    got = np.array([float(p * tb) for p in pts])
    np.testing.assert_allclose(got, np.array(times) - times[0], atol=1e-3)
    span = times[-1] - times[0]
    assert span < playback < span + 0.1  # plays at the speed it was captured


def test_content_and_even_side_by_side(tmp_path: Path) -> None:
    path = tmp_path / "sbs.mp4"
    rec = Recorder(path, layout="side_by_side", queue_size=100).start()
    for i in range(10):
        rec.submit(result(i, 5.0 + i / 30, w=161, h=121))
    rec.stop()
    st, pts, imgs = decode(path)
    assert imgs[0].shape == (120, 322, 3)  # 2 x 161 = 322 wide; 121 → 120 (4:2:0 needs even)
    src = result(9, 0.0, w=161, h=121)
    left = imgs[-1][:, :161].astype(int)
    right = imgs[-1][:, 161:].astype(int)
    # lossy, but the original is on the left and the cartoon (its negative) on the right
    assert np.abs(left - src.source.image[:120].astype(int)).mean() < 6
    assert np.abs(right - src.cartoon[:120].astype(int)).mean() < 6


def test_demo_source_real_time(tmp_path: Path) -> None:
    from cartoon_cam.core.sources import DemoSource

    path = tmp_path / "demo.mp4"
    src = DemoSource(320, 180, fps=30)
    src.open()
    rec = Recorder(path, fps=src.fps).start()
    t_end = time.perf_counter() + 2.0
    i = 0
    try:
        while time.perf_counter() < t_end:
            img = src.read()
            frame = Frame(img, i)
            rec.submit(ResultFrame(frame, img, "identity"))
            i += 1
    finally:
        src.close()
    info = rec.stop()
    st, pts, _ = decode(path)
    assert st.name == "h264" and (st.width, st.height) == (320, 180)
    duration = float(pts[-1] * st.time_base)
    assert abs(duration - info.duration_s) < 1e-3
    assert len(pts) == info.frames == i
    assert abs(len(pts) - duration * 30) <= 0.15 * duration * 30 + 2  # slack for a busy CI box
    assert all(b > a for a, b in zip(pts, pts[1:], strict=False))


class _StuckFile:
    """A file whose writes wait until ``release`` is set: an encoder thread that cannot go on."""

    def __init__(self, path: Path):
        self._fh = open(path, "wb", buffering=0)  # noqa: SIM115
        self.release = threading.Event()
        self.entered = threading.Event()

    def write(self, data) -> int:
        self.entered.set()
        self.release.wait(30)
        return self._fh.write(bytes(data))

    def truncate(self, size: int) -> int:
        return self._fh.truncate(size)

    def close(self) -> None:
        self._fh.close()


def test_queue_is_bounded_and_submit_never_blocks(tmp_path: Path) -> None:
    """submit() returns while the encoder thread is stuck in a write (ordering, not speed)."""
    stuck: list[_StuckFile] = []

    def opener(p: Path) -> _StuckFile:
        stuck.append(_StuckFile(p))
        return stuck[0]

    rec = Recorder(tmp_path / "q.mp4", queue_size=3, opener=opener).start()
    rec.submit(result(0, 10.0, w=640, h=480, noise=True))
    assert stuck[0].entered.wait(20), "the encoder never wrote"
    accepted: list[bool] = []
    th = threading.Thread(target=lambda: accepted.extend(
        rec.submit(result(i, 10.0 + i / 30, w=640, h=480, noise=True)) for i in range(1, 300)))
    th.start()
    th.join(20)  # generous: only a submit() that waits for the encoder can take this long
    done_while_stuck = not th.is_alive()
    stuck[0].release.set()
    th.join()
    info = rec.stop()
    assert done_while_stuck, "submit() waited for the stuck encoder"
    assert all(accepted) and len(accepted) == 299
    assert info.dropped >= 299 - 3
    assert info.frames + info.dropped == 300
    assert not rec.submit(result(301, 99.0))  # stopped: refused, not queued


def test_existing_file_is_never_replaced_without_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "keep.mp4"
    path.write_bytes(b"precious")
    with pytest.raises(OutputError, match="exists .*--overwrite"):
        Recorder(path).start()
    assert path.read_bytes() == b"precious"
    rec = Recorder(path, overwrite=True).start()
    for i in range(5):
        rec.submit(result(i, 1.0 + i / 30))
    assert rec.stop().frames == 5
    assert len(decode(path)[1]) == 5


def test_disk_full_from_the_first_byte_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "nothing.mp4"
    rec, events, _ = _record_until_full(path, opener=lambda p: _FullDisk(p, 0))
    assert rec.error is not None and "disk is full" in str(rec.error)
    assert events[-1].kind == "error"
    assert not path.exists(), "a 0-byte recording was left behind"


def test_recording_respects_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        rec = Recorder(tmp_path / "m.mp4").start()
        rec.submit(result(0, 1.0))
        rec.stop()
    finally:
        os.umask(old)
    assert (tmp_path / "m.mp4").stat().st_mode & 0o777 == 0o640


def test_same_capture_twice_is_written_once_and_pts_stay_increasing(tmp_path: Path) -> None:
    path = tmp_path / "dup.mp4"
    rec = Recorder(path, queue_size=100).start()
    rec.submit(result(0, 1.0))
    rec.submit(result(0, 1.0))  # the same capture (e.g. re-run after a style switch)
    rec.submit(result(1, 1.0))  # a later frame with a clock that did not move
    rec.submit(result(2, 1.1))
    assert rec.stop().frames == 3
    _, pts, _ = decode(path)
    assert len(pts) == 3 and pts[0] < pts[1] < pts[2]


def test_encoder_fallback_chain(tmp_path: Path) -> None:
    path = tmp_path / "fallback.mp4"
    rec = Recorder(path, encoder=["no_such_encoder", "mpeg4"], queue_size=100).start()
    for i in range(5):
        rec.submit(result(i, i / 30))
    info = rec.stop()
    assert info.encoder == "mpeg4"
    st, pts, _ = decode(path)
    assert st.name == "mpeg4" and len(pts) == 5

    with pytest.raises(OutputError, match="no_such_encoder: not in this FFmpeg build"):
        choose_encoder(320, 240, candidates=["no_such_encoder"])


def test_unwritable_folder_is_a_clear_synchronous_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="not a folder"):
        Recorder(blocker / "sub" / "x.mp4").start()


class _FullDisk:
    """A file that accepts ``limit`` bytes, then fails like a full disk."""

    def __init__(self, path: Path, limit: int):
        self._fh = open(path, "wb", buffering=0)  # noqa: SIM115
        self.left = limit

    def write(self, data) -> int:
        data = bytes(data)
        if len(data) > self.left:
            self._fh.write(data[: self.left])
            self.left = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self.left -= len(data)
        return self._fh.write(data)

    def truncate(self, size: int) -> int:
        return self._fh.truncate(size)

    def close(self) -> None:
        self._fh.close()


def _record_until_full(path: Path, opener=None) -> tuple[Recorder, list, int]:
    events: list = []
    rec = Recorder(path, queue_size=1000, on_event=events.append, opener=opener).start()
    n = 0
    for i in range(300):
        if not rec.submit(result(i, 50.0 + i / 30, noise=True)):
            break
        n += 1
        time.sleep(0.005)
    rec.stop()
    return rec, events, n


def _assert_partial_playable(path: Path, rec: Recorder, events: list) -> None:
    assert rec.error is not None and "disk is full" in str(rec.error)
    assert events[-1].kind == "error" and "disk is full" in events[-1].message
    assert "were saved to" in events[-1].message
    assert not rec.is_recording
    _, pts, imgs = decode(path)  # opens and decodes to the end without an error
    assert 5 <= len(pts) < rec.frames_written + 1
    assert all(b > a for a, b in zip(pts, pts[1:], strict=False))


def test_disk_full_simulated(tmp_path: Path) -> None:
    path = tmp_path / "full.mp4"
    rec, events, n = _record_until_full(path, opener=lambda p: _FullDisk(p, 400_000))
    assert n < 300  # the recorder stopped accepting frames
    _assert_partial_playable(path, rec, events)


@pytest.fixture
def tiny_tmpfs(tmp_path: Path):
    """A 512 KiB tmpfs (needs root and mount rights; skipped elsewhere)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if not shutil.which("mount") or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_disk_full_real_tmpfs(tiny_tmpfs: Path) -> None:
    path = tiny_tmpfs / "full.mp4"
    rec, events, n = _record_until_full(path)
    assert n < 300
    _assert_partial_playable(path, rec, events)


_KILL_CHILD = r"""
import sys, time
import numpy as np
from cartoon_cam.core.frames import Frame, ResultFrame
from cartoon_cam.outputs.recorder import Recorder
rec = Recorder(sys.argv[1], fps=30).start()
i = 0
while True:
    t = time.perf_counter()
    img = np.full((180, 320, 3), (i * 7) % 256, np.uint8)
    img[:, (i * 5) % 320] = 255
    rec.submit(ResultFrame(Frame(img, i, t), img, "x"))
    print(i, repr(t), flush=True)
    i += 1
    time.sleep(max(0.0, t + 1 / 30 - time.perf_counter()))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_sigkill_loses_at_most_the_last_second(tmp_path: Path) -> None:
    path = tmp_path / "killed.mp4"
    proc = subprocess.Popen([sys.executable, "-c", _KILL_CHILD, str(path)], cwd=REPO,
                            stdout=subprocess.PIPE, text=True)
    submitted: list[float] = []

    def reader() -> None:
        for line in proc.stdout:
            submitted.append(float(line.split()[1]))

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    deadline = time.monotonic() + 30
    while (not submitted or submitted[-1] - submitted[0] < 3.0) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert submitted, "the recording child never started"
    t_kill = time.perf_counter()  # CLOCK_MONOTONIC: comparable with the child's perf_counter
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    th.join(5)

    older = sum(1 for t in submitted if t < t_kill - 1.0)
    assert older > 0  # how many depends on the machine's load; the claim is the next line
    _, pts, _ = decode(path)  # opens and decodes without error
    assert len(pts) >= older, f"{len(pts)} frames in the file, {older} submitted > 1 s before the kill"


def test_audio_stream_when_requested(tmp_path: Path) -> None:
    path = tmp_path / "audio.mp4"
    rec = Recorder(path, audio=ToneSource(), queue_size=100).start()
    t0 = time.perf_counter()
    for i in range(45):
        rec.submit(result(i, time.perf_counter()))
        time.sleep(max(0.0, t0 + (i + 1) / 30 - time.perf_counter()))
    info = rec.stop()
    assert info.audio and info.error is None
    with av.open(str(path)) as c:
        assert [s.type for s in c.streams] == ["video", "audio"]
        a = c.streams.audio[0]
        assert a.codec_context.name == "aac" and a.codec_context.sample_rate == 48000
        samples = sum(f.samples for f in c.decode(a))
    assert abs(samples / 48000 - info.duration_s) < 0.25


def test_microphone_unavailable_records_without_sound(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # as if the audio extra were missing
    events = []
    path = tmp_path / "mute.mp4"
    rec = Recorder(path, audio=True, on_event=events.append, queue_size=100).start()
    for i in range(5):
        rec.submit(result(i, i / 30))
    info = rec.stop()
    assert not info.audio and info.frames == 5
    assert "sounddevice" in rec.audio_status
    assert events[0].kind == "warning" and "without sound" in events[0].message
    with av.open(str(path)) as c:
        assert [s.type for s in c.streams] == ["video"]


def test_no_frames_leaves_no_file_and_elapsed_freezes(tmp_path: Path) -> None:
    events = []
    path = tmp_path / "empty.mp4"
    rec = Recorder(path, on_event=events.append).start()
    time.sleep(0.05)
    assert rec.is_recording and rec.elapsed >= 0.05
    info = rec.stop()
    assert info.frames == 0 and not path.exists()
    assert events[-1].kind == "warning"
    frozen = rec.elapsed
    time.sleep(0.02)
    assert rec.elapsed == frozen and not rec.is_recording
