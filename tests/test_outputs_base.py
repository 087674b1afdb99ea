"""The Output protocol and its one threading and drop policy (outputs/base.py), and the one list of
outputs (outputs/registry.py) that the window and ``live`` both build from."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from cartoon_cam.core.frames import Frame, ResultFrame
from cartoon_cam.outputs.base import Output, RateMeter, ThreadedOutput
from cartoon_cam.outputs.registry import KINDS, OUTPUTS, OutputOptions, OutputSet


def result(i: int) -> ResultFrame:
    img = np.full((24, 32, 3), i % 256, np.uint8)
    return ResultFrame(Frame(img, i, float(i)), img, "test")


class Slow(ThreadedOutput[ResultFrame]):
    """Handles one item only when the test lets it."""

    name = "slow"

    def __init__(self, **kw):
        super().__init__(**kw)
        self.go = threading.Event()
        self.seen: list[int] = []
        self.finished = False

    def _handle(self, item: ResultFrame) -> None:
        self.go.wait(30)
        self.seen.append(item.seq)

    def _finish(self) -> None:
        self.finished = True

    def _frames_done(self) -> int:
        return len(self.seen)


def test_a_full_queue_drops_the_oldest_and_counts_and_close_finishes_the_rest() -> None:
    events = []
    out = Slow(queue_size=3, on_event=events.append)
    assert isinstance(out, Output) and out.stats().state == "idle"
    assert not out.submit(result(0))  # not open: refused
    out.open()
    assert out.submit(result(1))
    deadline = time.perf_counter() + 10
    while out.queued and time.perf_counter() < deadline:  # the worker took #1 and waits in _handle
        time.sleep(0.01)
    # submit never waits for the worker, which is stuck until out.go: a blocking submit would
    # block forever, so the submits run on a thread and that thread must end, by an event, with
    # a minute for a loaded machine (the worker is released either way, so nothing hangs)
    accepted: list[bool] = []
    feeder = threading.Thread(target=lambda: accepted.extend(out.submit(result(i)) for i in range(2, 12)))
    feeder.start()
    feeder.join(60)
    blocked = feeder.is_alive()
    if blocked:
        out.go.set()
        feeder.join(10)
    assert not blocked, "submit waited for the stuck worker"
    assert accepted == [True] * 10
    s = out.stats()
    assert s.queued == 3 and s.dropped == 7 and s.state == "running"
    out.go.set()
    out.close(timeout=10)
    assert out.seen == [1, 9, 10, 11]  # the newest were kept, in order
    assert out.finished and out.stats().state == "stopped" and out.stats().frames == 4
    assert not out.submit(result(99))


def test_a_worker_error_is_an_event_and_the_state_failed() -> None:
    class Broken(Slow):
        def _handle(self, item):
            raise RuntimeError("boom")

    events = []
    out = Broken(on_event=events.append).open()
    out.submit(result(1))
    out.close(timeout=10)
    assert out.stats().state == "failed" and not out.active
    assert events[-1].kind == "error" and "boom" in events[-1].message and events[-1].output == "slow"


def test_rate_meter() -> None:
    m = RateMeter(window_s=2.0)
    assert m.bps(0.0) == 0.0
    for k in range(20):
        m.add(1000, now=k * 0.1)
    assert m.bps(now=2.0) == 8 * 20_000 / 2.0  # every sample is inside the last 2 s
    assert m.bps(now=2.5) == 8 * 15_000 / 2.0  # 0.0 .. 0.4 left the window
    assert m.bps(now=100.0) == 0.0 and m.total_bytes == 20_000


class FakePipeline:
    def __init__(self):
        self.sinks = []

    def add_sink(self, fn):
        self.sinks.append(fn)

    def remove_sink(self, fn):
        self.sinks = [s for s in self.sinks if s != fn]


def test_every_listed_output_fits_the_protocol(tmp_path: Path) -> None:
    """Adding an output is one class plus one OutputKind line: each one builds from options alone."""
    opts = OutputOptions(record_path=tmp_path / "r.mp4", stream_url="udp://127.0.0.1:9",
                         snapshot_dir=tmp_path / "pics", camera_factory=lambda w, h, fps: None)
    assert [k.name for k in OUTPUTS] == ["snapshot", "recorder", "virtual_camera", "stream"]
    for kind in OUTPUTS:
        out = kind.build(opts)
        assert isinstance(out, Output), kind.name
        assert out.name == kind.name and not out.active or kind.name == "snapshot"
        assert out.stats().state in ("idle", "running")


def test_output_set_feeds_sinks_and_closes_everything_once(tmp_path: Path) -> None:
    pipe = FakePipeline()
    outs = OutputSet(pipe)
    rec = outs.attach(KINDS["recorder"].build(OutputOptions(record_path=tmp_path / "r.mp4")).open())
    snaps = outs.attach(KINDS["snapshot"].build(OutputOptions(snapshot_dir=tmp_path / "p")).open())
    assert pipe.sinks == [rec.submit]  # snapshots are requests, not a sink
    for i in range(5):
        for s in pipe.sinks:
            s(result(i))
    snaps.submit(result(7))
    status = " | ".join(outs.status())
    assert status.startswith("snapshots") and "REC" in status
    assert outs.close_all(timeout=10) == [] and pipe.sinks == [] and not outs.items()
    assert rec.info.frames == 5 and len(list((tmp_path / "p").glob("*.png"))) == 1
