"""Live streaming (outputs/stream.py) against a receiver on 127.0.0.1 that the test starts itself
(tests/stream_receiver.py, PyAV/FFmpeg in a process of its own): frames arrive and decode with
increasing timestamps, a receiver that dies and comes back is reconnected to, submit never blocks,
and bad URLs are clear errors."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from cartoon_cam.core.frames import Frame, ResultFrame
from cartoon_cam.errors import InputError
from cartoon_cam.outputs.base import Output
from cartoon_cam.outputs.stream import SCHEMES, StreamOutput, check_stream_url, output_protocols

RECEIVER = Path(__file__).with_name("stream_receiver.py")


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """tests/stream_receiver.py in a process: ``frames`` fills with its decoded-frame lines."""

    def __init__(self, url: str, fmt: str):
        self.proc = subprocess.Popen([sys.executable, str(RECEIVER), url, fmt], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        self.opened: dict | None = None
        self.frames: list[dict] = []
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            d = json.loads(line)
            if "open" in d:
                self.opened = d
            else:
                self.frames.append(d)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        self._t.join(10)


class Feeder:
    """Submits synthetic results at ~30 fps from a thread (a stand-in for the pipeline); records
    how long each submit took."""

    def __init__(self, out: StreamOutput, w: int = 320, h: int = 240):
        self.out, self.w, self.h = out, w, h
        self.submit_s: list[float] = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            img = np.full((self.h, self.w, 3), (i * 3) % 256, np.uint8)
            img[:, (i * 5) % self.w] = 255
            r = ResultFrame(Frame(img, i, time.perf_counter()), 255 - img, "test")
            t = time.perf_counter()
            self.out.submit(r)
            self.submit_s.append(time.perf_counter() - t)
            i += 1
            self._stop.wait(1 / 30)

    def stop(self) -> None:
        self._stop.set()
        self._t.join(5)


def wait_for(cond, timeout: float = 60.0) -> bool:
    end = time.perf_counter() + timeout  # a hang guard, not a speed claim
    while time.perf_counter() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def test_this_pyav_writes_rtmp_and_udp() -> None:
    have = output_protocols()
    if have is None:
        pytest.skip("the protocol list is only read on Linux")
    assert {"rtmp", "udp"} <= have  # srt needs an FFmpeg built with libsrt (PyAV's wheels: not)


@pytest.mark.parametrize("url", ["http://example.com/live", "file:///tmp/x.flv", "rtsp://h/x", "nonsense"])
def test_unsupported_url_names_the_supported_schemes(url: str) -> None:
    with pytest.raises(InputError) as e:
        check_stream_url(url)
    for scheme in SCHEMES:
        assert f"{scheme}://" in str(e.value)


def test_srt_without_libsrt_is_a_clear_error() -> None:
    have = output_protocols()
    if have is None or "srt" in have:
        pytest.skip("this FFmpeg build has srt (or can't say)")
    with pytest.raises(InputError, match="no srt protocol; use rtmp://"):
        check_stream_url("srt://127.0.0.1:9000")


def test_containers_per_scheme() -> None:
    assert check_stream_url("rtmp://a.example/live/key") == ("rtmp", "flv")
    assert check_stream_url("udp://127.0.0.1:1234") == ("udp", "mpegts")
    assert SCHEMES["srt"] == "mpegts"


def test_udp_frames_arrive_decode_and_timestamps_increase() -> None:
    url = f"udp://127.0.0.1:{free_port(socket.SOCK_DGRAM)}"
    rx = Receiver(url, "mpegts")
    events = []
    out = StreamOutput(url, fps=30, stats_every=0.5, on_event=events.append)
    assert isinstance(out, Output)
    out.open()
    feed = Feeder(out)
    try:
        assert wait_for(lambda: len(rx.frames) >= 45), (rx.frames[-3:], events[-3:])
        s = out.stats()
        assert s.state == "running" and s.frames >= 45 and s.bitrate_bps and s.bitrate_bps > 10_000
        assert wait_for(lambda: any(e.kind == "stats" for e in events))
    finally:
        feed.stop()
        out.close()
        rx.kill()
    assert rx.opened == {"open": True, "streams": ["video"]}
    ts = [f["t"] for f in rx.frames]
    assert all(b > a for a, b in zip(ts, ts[1:], strict=False))
    assert {(f["w"], f["h"]) for f in rx.frames} == {(320, 240)}
    stat = next(e for e in events if e.kind == "stats")
    assert "Mbit/s" in stat.message and "dropped" in stat.message
    assert [e.kind for e in events][0] == "started" and events[-1].kind == "stopped"
    assert max(feed.submit_s) < 0.5  # never blocked on the encoder or the network (generous bound)


def test_rtmp_receiver_that_dies_and_comes_back_is_reconnected_to() -> None:
    url = f"rtmp://127.0.0.1:{free_port()}/live/secret-key"
    events = []
    out = StreamOutput(url, fps=30, backoff=(0.2, 1.0), connect_timeout=5.0, on_event=events.append)
    out.open()
    feed = Feeder(out)  # before any server: results are dropped and counted, nothing blocks
    rx = rx2 = None
    try:
        assert wait_for(lambda: any(e.kind == "reconnecting" for e in events))
        assert out.stats().state == "reconnecting" and out.stats().dropped > 0
        rx = Receiver(url, "flv")
        assert wait_for(lambda: len(rx.frames) >= 20), events[-3:]
        assert out.connections == 1
        rx.kill()  # the server goes away
        assert wait_for(lambda: any(e.kind == "reconnecting" and "lost" in e.message for e in events))
        rx2 = Receiver(url, "flv")  # and comes back on the same address
        assert wait_for(lambda: len(rx2.frames) >= 20), events[-3:]
        assert out.connections == 2
        assert any(e.kind == "started" and "again" in e.message for e in events)
    finally:
        feed.stop()
        out.close()
        for r in (rx, rx2):
            if r is not None:
                r.kill()
    for r in (rx, rx2):
        ts = [f["t"] for f in r.frames]
        assert all(b > a for a, b in zip(ts, ts[1:], strict=False))
    assert "secret-key" not in " ".join(e.message for e in events)  # stream keys stay out of messages
    assert max(feed.submit_s) < 0.5


def test_submit_never_blocks_and_a_full_queue_drops_the_oldest() -> None:
    out = StreamOutput("rtmp://127.0.0.1:1/live/x", queue_size=3, backoff=(30.0, 30.0))
    # not opened: nothing is taken
    img = np.zeros((48, 64, 3), np.uint8)
    assert not out.submit(ResultFrame(Frame(img, 0, 0.0), img, "t"))
    out.open()
    try:
        for i in range(200):
            out.submit(ResultFrame(Frame(img, i, float(i)), img, "t"))
        assert wait_for(lambda: out.queued == 0)
        s = out.stats()
        assert s.frames == 0 and s.dropped == 200 and s.state == "reconnecting"
    finally:
        out.close(timeout=10)
    assert out.stats().state == "stopped"


# ------------------------------------------------------------------ cartoon-cam live --stream


def test_live_stream_bad_scheme_is_exit_2_naming_the_supported_ones(capsys) -> None:
    from cartoon_cam.cli import main

    rc = main(["live", "--source", "demo", "--style", "classic", "--stream", "http://127.0.0.1/x",
               "--duration", "1"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "unsupported URL" in err and "rtmp://" in err and "udp://" in err and "srt://" in err
    assert "[source_opened]" not in err  # found before anything opened


def test_live_streams_to_a_local_receiver_and_reports_bitrate(capsys) -> None:
    from cartoon_cam.cli import main

    url = f"udp://127.0.0.1:{free_port(socket.SOCK_DGRAM)}"
    rx = Receiver(url, "mpegts")
    try:
        time.sleep(1.0)  # the receiver binds its port (a UDP sender does not wait for anyone)
        rc = main(["live", "--source", "demo", "--style", "classic", "--duration", "4", "--stream", url,
                   "--stream-bitrate", "800", "--stats-every", "1"])
        cap = capsys.readouterr()
        assert wait_for(lambda: len(rx.frames) >= 5, 20)
    finally:
        rx.kill()
    assert rc == 0, cap.err
    stats = [line for line in cap.out.splitlines() if "stream" in line]
    assert stats and "Mbit/s" in stats[-1] and "dropped" in stats[-1], cap.out
    assert "[stream] Streaming to udp://127.0.0.1" in cap.err and "streamed " in cap.err
    assert {(f["w"], f["h"]) for f in rx.frames} == {(640, 360)}  # the demo's size
    ts = [f["t"] for f in rx.frames]
    assert all(b > a for a, b in zip(ts, ts[1:], strict=False))


def test_live_stream_that_never_connects_is_status_1(capsys) -> None:
    from cartoon_cam.cli import main

    url = f"rtmp://127.0.0.1:{free_port()}/live/key"  # nobody listens
    rc = main(["live", "--source", "demo", "--style", "classic", "--duration", "2", "--stream", url,
               "--stats-every", "0"])
    err = capsys.readouterr().err
    assert rc == 1, err
    assert "nothing was streamed" in err and "refused" in err and "retrying" in err


@pytest.mark.parametrize(("url", "shown"), [
    ("rtmp://a.rtmp.youtube.com/live2/abcd-efgh", "rtmp://a.rtmp.youtube.com/live2/…"),
    ("rtmp://user:pw@host:1936/key123", "rtmp://host:1936/…"),
    ("srt://127.0.0.1:9000?passphrase=secret", "srt://127.0.0.1:9000"),
    ("udp://127.0.0.1:1234", "udp://127.0.0.1:1234"),
])
def test_messages_never_show_keys_or_passwords(url: str, shown: str) -> None:
    from cartoon_cam.outputs.stream import describe

    assert describe(url) == shown
