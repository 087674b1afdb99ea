"""Measure the live pipeline, headless and in the (offscreen) window.

    python bench/bench_pipeline.py [--seconds 8] [--only classic_headless,classic_window,heavy_window,gui_720p]

Scenarios (demo source, so no camera is needed):

* ``classic_headless``: classic style, 640x360 @ 30 fps, no window: capture / inference fps,
  capture → cartoon-ready latency.
* ``classic_window``: the same in the offscreen window: preview fps (original and cartoon panes),
  end-to-end latency capture → shown (p50/p95).
* ``heavy_window``: AnimeGANv2 (``../shared/models/animeganv2/random_seed0.pt``) at 640x360: original
  pane fps vs cartoon pane fps, and UI input response (a key press posted to the event loop →
  handled), sampled every 100 ms.
* ``gui_720p``: classic style on 1280x720 frames: GUI-thread ms per displayed update (scale + paint).

Prints a markdown table (and the machine) to paste into docs/PERFORMANCE.md ("Live pipeline and window").
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from cartoon_cam.core.pipeline import Pipeline  # noqa: E402
from cartoon_cam.core.sources import DemoSource  # noqa: E402

HEAVY = REPO.parent / "shared" / "models" / "animeganv2" / "random_seed0.pt"


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import cv2
    import onnxruntime
    import PySide6
    import torch

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{cpu}, {os.cpu_count()} logical CPUs, no GPU, {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}, PySide6 {PySide6.__version__}, OpenCV {cv2.__version__}, "
            f"ONNX Runtime {onnxruntime.__version__}, torch {torch.__version__}; load average at start {load:.2f}")


def fmt(v: float, nd: int = 1) -> str:
    return "–" if v != v else f"{v:.{nd}f}"


# ------------------------------------------------------------------------------- headless


def classic_headless(seconds: float) -> dict[str, str]:
    p = Pipeline(DemoSource(640, 360, 30), "classic")
    p.start()
    _wait(lambda: p.style_id == "classic" and p.latest_result() is not None, 30)
    time.sleep(1.0)
    c0, r0, d0 = p.stats().frames_captured, p.stats().frames_processed, p.stats().dropped
    t0 = time.perf_counter()
    time.sleep(seconds)
    st = p.stats()
    dt = time.perf_counter() - t0
    t = time.perf_counter()
    p.stop()
    stop_s = time.perf_counter() - t
    return {
        "scenario": "classic 640x360, headless",
        "capture fps": fmt((st.frames_captured - c0) / dt),
        "cartoon fps": fmt((st.frames_processed - r0) / dt),
        "latency p50/p95 ms": f"{fmt(st.result_latency_p50_ms, 0)}/{fmt(st.result_latency_p95_ms, 0)} (capture→ready)",
        "inference ms": fmt(st.inference_ms),
        "dropped": str(st.dropped - d0),
        "other": f"stop() {stop_s * 1000:.0f} ms",
    }


def _wait(pred, timeout: float) -> None:  # noqa: ANN001
    deadline = time.perf_counter() + timeout
    while not pred():
        if time.perf_counter() > deadline:
            raise TimeoutError("benchmark setup timed out")
        time.sleep(0.01)


# ------------------------------------------------------------------------------- window


class WindowRun:
    """An offscreen MainWindow over a pipeline, driven by a local event loop."""

    def __init__(self, source: DemoSource, style: str, tmp: Path, size: tuple[int, int] = (1280, 760)) -> None:
        from PySide6.QtCore import QSettings
        from PySide6.QtWidgets import QApplication

        from cartoon_cam.ui.main_window import MainWindow

        self.app = QApplication.instance() or QApplication([])
        self.pipeline = Pipeline(source, style)
        self.window = MainWindow(self.pipeline, QSettings(str(tmp / "bench.ini"), QSettings.Format.IniFormat))
        self.window.resize(*size)
        self.pipeline.start()
        self.window.show()
        self.frames = self.results = 0  # distinct frames / results shown
        self._last_f = self._last_r = -1
        self.window.frame_displayed.connect(self._on_frame)
        self.window.result_displayed.connect(self._on_result)

    def _on_frame(self, f) -> None:  # noqa: ANN001
        if f.seq != self._last_f:
            self._last_f = f.seq
            self.frames += 1

    def _on_result(self, r) -> None:  # noqa: ANN001
        if r.seq != self._last_r:
            self._last_r = r.seq
            self.results += 1

    def spin(self, seconds: float, every: float | None = None, fn=None) -> None:  # noqa: ANN001
        from PySide6.QtCore import QEventLoop, QTimer

        loop = QEventLoop()
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        timer = None
        if every and fn:
            timer = QTimer()
            timer.timeout.connect(fn)
            timer.start(int(every * 1000))
        loop.exec()
        if timer:
            timer.stop()

    def spin_until(self, pred, timeout: float) -> None:  # noqa: ANN001
        deadline = time.perf_counter() + timeout
        while not pred():
            if time.perf_counter() > deadline:
                raise TimeoutError("benchmark setup timed out")
            self.spin(0.05)

    def close(self) -> float:
        t = time.perf_counter()
        self.window.close()
        return time.perf_counter() - t


def window_scenario(name: str, source: DemoSource, style: str, seconds: float, tmp: Path, *,
                    probe_input: bool = False, style_id: str = "") -> dict[str, str]:
    from PySide6.QtCore import QCoreApplication, Qt, QTimer
    from PySide6.QtTest import QTest

    run = WindowRun(source, style, tmp)
    p, w = run.pipeline, run.window
    run.spin_until(lambda: bool(p.style_id) and (not style_id or p.style_id == style_id) and run.results > 2, 120)
    run.spin(1.5)
    w.preview.gui_ms.reset()
    w.preview.gui_cpu_ms.reset()
    p._e2e.reset()  # measure the steady state only
    f0, r0, c0, i0, d0 = run.frames, run.results, p.stats().frames_captured, p.stats().frames_processed, p.stats().dropped
    responses: list[float] = []

    def probe() -> None:
        t0 = time.perf_counter()

        def handle() -> None:
            QTest.keyClick(w, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)  # view mode shortcut
            responses.append((time.perf_counter() - t0) * 1000)

        QTimer.singleShot(0, handle)

    t0 = time.perf_counter()
    run.spin(seconds, 0.1 if probe_input else None, probe if probe_input else None)
    dt = time.perf_counter() - t0
    st = p.stats()
    QCoreApplication.processEvents()
    gui = w.preview.gui_ms
    out = {
        "scenario": name,
        "capture fps": fmt((st.frames_captured - c0) / dt),
        "cartoon fps": fmt((st.frames_processed - i0) / dt),
        "original pane fps": fmt((run.frames - f0) / dt),
        "cartoon pane fps": fmt((run.results - r0) / dt),
        "latency p50/p95 ms": f"{fmt(st.latency_p50_ms, 0)}/{fmt(st.latency_p95_ms, 0)} (capture→shown)",
        "inference ms": fmt(st.inference_ms),
        "dropped": str(st.dropped - d0),
        "GUI ms/update": f"wall {fmt(gui.mean(), 2)} (p95 {fmt(gui.percentile(95), 2)}), "
                         f"CPU {fmt(w.preview.gui_cpu_ms.mean(), 2)} (p95 {fmt(w.preview.gui_cpu_ms.percentile(95), 2)})",
    }
    if responses:
        r = np.array(responses)
        out["input response ms"] = f"p50 {np.percentile(r, 50):.1f}, p95 {np.percentile(r, 95):.1f}, max {r.max():.1f} (n={len(r)})"
    out["close ms"] = f"{run.close() * 1000:.0f}"
    out["backend"] = st.backend
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--only", default="classic_headless,classic_window,heavy_window,gui_720p")
    args = ap.parse_args()
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="cc_bench_"))
    os.environ.setdefault("CARTOON_CAM_DATA_DIR", str(tmp / "data"))
    print(f"machine: {machine()}\n", flush=True)
    rows = []
    todo = args.only.split(",")
    if "classic_headless" in todo:
        rows.append(classic_headless(args.seconds))
    if "classic_window" in todo:
        rows.append(window_scenario("classic 640x360, window", DemoSource(640, 360, 30), "classic", args.seconds, tmp,
                                    probe_input=True))
    if "heavy_window" in todo:
        if not HEAVY.is_file():
            print(f"skipping heavy_window: {HEAVY} not found")
        else:
            rows.append(window_scenario("AnimeGANv2 640x360, window", DemoSource(640, 360, 30), str(HEAVY),
                                        max(args.seconds, 10.0), tmp, probe_input=True, style_id="random_seed0"))
    if "gui_720p" in todo:
        rows.append(window_scenario("classic 1280x720, window", DemoSource(1280, 720, 30), "classic", args.seconds, tmp))
    for r in rows:
        print(f"## {r['scenario']}")
        for k, v in r.items():
            if k != "scenario":
                print(f"  {k:20s} {v}")
        print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
