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
    assert 5 < (len(pts) - 1) / span < 33
    assert all(b > a for a, b in zip(pts, pts[1:], strict=False))
    assert 2 <= len(list(snaps.glob("*.png"))) <= 3


@pytest.mark.skipif(bool(glob.glob("/dev/video*")), reason="a video device exists")
def test_missing_virtual_camera_driver_is_reported_and_the_run_goes_on(tmp_path: Path, capsys) -> None:
    out = tmp_path / "v.mp4"
    rc = main(["live", "--source", "demo", "--style", "classic", "--duration", "1.5",
               "--virtual-camera", "--record", str(out), "--stats-every", "0"])
    cap = capsys.readouterr()
    assert rc == 0
    assert "No virtual camera is available" in cap.err
    assert ("modprobe v4l2loopback" in cap.err) or ("pip install 'cartoon-cam[vcam]'" in cap.err)
    assert len(video_pts(out)[1]) > 10


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
    assert rc == 0, err
    assert f"({sig.name})" in err and "[recorder] Saved" in err
    assert "Traceback" not in err
    with av.open(str(out)) as c:  # finalised: the trailer is there, so the duration is known
        assert c.duration is not None and c.duration > 1_000_000
    assert len(video_pts(out)[1]) >= 30


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

    monkeypatch.setattr(recorder_module, "_default_opener", FullAfter)
    rc = main(["live", "--source", "demo", "--style", "classic", "--duration", "20",
               "--record", str(tmp_path / "full.mp4"), "--stats-every", "0"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "Recording stopped: the disk is full" in err and "the recording failed" in err
