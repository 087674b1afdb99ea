"""``cartoon-cam live`` end to end: demo source → classic style → recording, snapshots, stats;
clean stops on --duration, SIGTERM and Ctrl-C; a missing virtual-camera driver doesn't stop it."""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import pytest

from cartoon_cam.cli import main

REPO = Path(__file__).resolve().parents[1]


def video_pts(path: Path) -> tuple[av.video.stream.VideoStream, list[float]]:
    with av.open(str(path)) as c:
        st = c.streams.video[0]
        return st, [float(f.pts * st.time_base) for f in c.decode(st)]


def test_duration_record_and_snapshots(tmp_path: Path, capsys) -> None:
    out, snaps = tmp_path / "live.mp4", tmp_path / "snaps"
    rc = main(["live", "--source", "demo", "--style", "classic", "--duration", "3",
               "--record", str(out), "--snapshot-every", "1", "--snapshot-dir", str(snaps),
               "--stats-every", "1", "--side-by-side"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    stats = [line for line in cap.out.splitlines() if "capture" in line and "fps" in line]
    assert len(stats) >= 2 and "REC" in stats[-1]
    assert "stopped after" in cap.err and "--duration 3 s" in cap.err
    st, pts = video_pts(out)
    assert st.codec_context.name == "h264"
    assert (st.codec_context.width, st.codec_context.height) == (1280, 360)  # 2 x 640x360 demo
    span = pts[-1] - pts[0]
    assert 1.5 < span < 3.2  # timestamps are capture times: real time
    # every frame the pipeline produced is in the file (how many depends on the CPU: the pipeline
    # drops frames when the style is slower than the source; the demo source runs at 30 fps)
    assert f"recorded {len(pts)} frames" in cap.err
    assert 0 < (len(pts) - 1) / span < 33  # never above the source's 30 fps; below: the machine's load
    assert all(b > a for a, b in zip(pts, pts[1:], strict=False))
    assert 2 <= len(list(snaps.glob("*.png"))) <= 3


def test_live_loads_its_style_file_once(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    """The style checked before anything opens is the one the pipeline runs: not read twice."""
    from cartoon_cam.inference import catalog

    reads: list[str] = []
    real = catalog.read_style
    monkeypatch.setattr(catalog, "read_style", lambda p, *a, **k: reads.append(str(p)) or real(p, *a, **k))
    rc = main(["live", "--source", "demo", "--style", "classic", "--duration", "2", "--stats-every", "0"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "Style 'classic'" in err  # it ran
    assert [Path(r).name for r in reads] == ["classic.json"]


@pytest.mark.skipif(bool(glob.glob("/dev/video*")), reason="a video device exists")
def test_missing_virtual_camera_driver_is_reported_and_the_run_goes_on(tmp_path: Path, capsys) -> None:
    out = tmp_path / "v.mp4"
    rc = main(["live", "--source", "demo", "--style", "classic", "--duration", "1.5",
               "--virtual-camera", "--record", str(out), "--stats-every", "0"])
    cap = capsys.readouterr()
    assert rc == 0
    assert "No virtual camera is available" in cap.err
    assert ("modprobe v4l2loopback" in cap.err) or ("pip install 'cartoon-cam[vcam]'" in cap.err)
    assert len(video_pts(out)[1]) > 0  # the run went on and recorded (how much: the machine's load)


def test_unwritable_record_path_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc = main(["live", "--source", "demo", "--style", "classic", "--duration", "1",
               "--record", str(blocker / "x.mp4")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert err[-1].startswith("cartoon-cam: error: cannot start recording") and "not a folder" in err[-1]


def test_argument_errors(capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["live", "--source", "demo", "--style", "classic", "--duration", "-1"])
    assert e.value.code == 2
    assert main(["live", "--source", "demo", "--style", "classic", "--audio"]) == 2
    assert "--audio needs --record" in capsys.readouterr().err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_and_finalises(tmp_path: Path, sig: signal.Signals) -> None:
    out = tmp_path / "sig.mp4"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cartoon_cam", "live", "--source", "demo", "--style", "classic",
         "--record", str(out), "--stats-every", "0"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err_lines: list[str] = []
    started = threading.Event()

    def read_err() -> None:
        for line in proc.stderr:
            err_lines.append(line)
            if "[recorder] Recording" in line:
                started.set()

    th = threading.Thread(target=read_err, daemon=True)
    th.start()
    try:
        assert started.wait(30), "".join(err_lines)
        time.sleep(1.5)
        proc.send_signal(sig)
        rc = proc.wait(20)
    finally:
        if proc.poll() is None:
            proc.kill()
    th.join(5)
    err = "".join(err_lines)
    assert rc == (130 if sig == signal.SIGINT else 0), err  # Ctrl-C: 130, like any shell tool
    assert f"({sig.name})" in err and "[recorder] Saved" in err
    assert "Traceback" not in err
    with av.open(str(out)) as c:  # finalised: the trailer is there, so the duration is known
        assert c.duration is not None and c.duration > 1_000_000
    # how many frames 1.5 s gives depends on the machine's load; the claim is "finalised and
    # readable to its end", which the decode below checks
    assert len(video_pts(out)[1]) > 0


def test_disk_full_ends_the_run_with_status_1(tmp_path: Path, capsys, monkeypatch) -> None:
    import errno

    from cartoon_cam.outputs import recorder as recorder_module

    class FullAfter:
        def __init__(self, path: Path, limit: int = 20_000):
            self._fh, self.left = open(path, "wb", buffering=0), limit  # noqa: SIM115

        def write(self, data) -> int:
            if len(data) > self.left:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.left -= len(data)
            return self._fh.write(data)

        def truncate(self, size: int) -> int:
            return self._fh.truncate(size)

        def close(self) -> None:
            self._fh.close()

    monkeypatch.setattr(recorder_module, "_default_opener", lambda path, overwrite=False: FullAfter(path))
    rc = main(["live", "--source", "demo", "--style", "classic", "--duration", "20",
               "--record", str(tmp_path / "full.mp4"), "--stats-every", "0"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "Recording stopped: the disk is full" in err and "the recording failed" in err


def write_clip(path: Path, frames: int, fps: int, w: int = 64, h: int = 48) -> Path:
    """A small H.264/MPEG-4 clip: frame i is grey level 8*i with a white band on the left."""
    import numpy as np

    with av.open(str(path), "w") as c:
        st = c.add_stream("mpeg4", rate=fps)
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        for i in range(frames):
            img = np.full((h, w, 3), (8 * i) % 256, np.uint8)
            img[:, : w // 4] = 255
            for pkt in st.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(pkt)
        for pkt in st.encode():
            c.mux(pkt)
    return path


def test_a_video_file_plays_once_and_ends_the_run(tmp_path: Path, capsys) -> None:
    clip = write_clip(tmp_path / "clip.mp4", 25, 25)  # 1 s
    out = tmp_path / "rec.mp4"
    rc = main(["live", "--source", str(clip), "--style", "classic", "--duration", "60",
               "--record", str(out), "--stats-every", "0"])
    err = capsys.readouterr().err
    assert rc == 0, err
    # the end of the file stopped the run (an event), not --duration (however slow the machine)
    assert "(the source ended)" in err and "--duration" not in err and "[recorder] Saved" in err
    with av.open(str(out)) as c:  # finalised
        assert c.duration is not None
    assert 5 <= len(video_pts(out)[1]) <= 25


def test_loop_keeps_a_video_file_playing(tmp_path: Path, capsys) -> None:
    clip = write_clip(tmp_path / "clip.mp4", 10, 20)  # 0.5 s
    rc = main(["live", "--source", str(clip), "--style", "classic", "--loop", "--duration", "1.5",
               "--stats-every", "0"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "--duration 1.5 s" in err and "source ended" not in err


def test_virtual_camera_is_paced_at_the_video_rate(tmp_path: Path, capsys, fake_pyvirtualcam) -> None:
    """The send rate follows the source once it has opened (a video's own 10 fps, not 30)."""
    import numpy as np

    clip = write_clip(tmp_path / "clip.mp4", 10, 10)
    rc = main(["live", "--source", str(clip), "--style", "classic", "--loop", "--duration", "2.5",
               "--virtual-camera", "--vcam-size", "320x240", "--stats-every", "0"])
    err = capsys.readouterr().err
    assert rc == 0, err
    [cam] = fake_pyvirtualcam.Camera.instances
    assert cam.args["fps"] == pytest.approx(10) and (cam.args["width"], cam.args["height"]) == (320, 240)
    assert cam.args["fmt"] is fake_pyvirtualcam.PixelFormat.RGB and cam.closed == 1
    gaps = np.diff(cam.times)
    assert abs(float(np.median(gaps)) - 0.1) < 0.04, gaps  # paced, with room for a loaded machine
    assert 10 <= cam.sent <= 30


def test_vcam_mirror_is_independent_of_mirror(tmp_path: Path, capsys, fake_pyvirtualcam) -> None:
    """--mirror flips what is captured; the virtual camera shows the unmirrored picture unless
    --vcam-mirror (the clip has a white band on the left)."""
    clip = write_clip(tmp_path / "clip.mp4", 10, 20)
    for extra, band_left in (([], True), (["--vcam-mirror"], False)):
        rc = main(["live", "--source", str(clip), "--style", "classic", "--loop", "--duration", "1.5",
                   "--mirror", "--virtual-camera", "--vcam-size", "64x48", "--side-by-side",
                   "--stats-every", "0", *extra])
        assert rc == 0, capsys.readouterr().err
        f = fake_pyvirtualcam.Camera.instances[-1].last  # side by side: original | cartoon in 64x24
        left, right = int(f[24, 2].mean()), int(f[24, 29].mean())  # the original panel's edges
        assert (left > right + 60) == band_left, (left, right)
