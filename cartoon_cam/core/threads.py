"""How many threads the live pipeline's inference runtime gets, by core count.

The live pipeline runs, besides inference: the capture thread (camera read and MJPEG/YUV decode),
the GUI thread (scale and paint) or nothing (``live``), and, while recording or streaming, the
H.264 encoder (libx264 with ``zerolatency`` sliced threads, its own pool). The inference runtime's
worker threads sleep when idle (ONNX Runtime: spinning off; OpenVINO: latency hint, one stream).

Measured on the 2-core AMD EPYC box (docs/PERFORMANCE.md, "Threads"), ``hayao_lite`` at 640x360 in
the headless pipeline with a 30 fps source: 2 inference threads beat 1 on both runtimes, with and
without H.264 encoding (OpenVINO: 30.0 vs 26.0 fps, and no drops at 2). The other threads need
little CPU at this size, and the inference thread runs at a lower priority (nice 5) so they still
get theirs. So on 2 cores: every core.

On more cores we reason (we have no 4- or 8-core machine): a 1.2 GFLOP lite frame parallelises
well to about 4 threads, after which per-layer work is too small to split (convolutions of a
640x360 frame at 32-64 channels), while the other threads grow with resolution (1080p MJPEG decode
is about a core, 1080p x264 about 1.5): so leave one core to them from 4 cores up, and stop at 8.
"""

from __future__ import annotations

from ..inference.cpu import physical_cores

MAX_INFERENCE_THREADS = 8


def live_inference_threads(physical: int | None = None) -> int:
    """Inference threads for the live pipeline: every core on 1-3 cores, one fewer from 4 up, at
    most :data:`MAX_INFERENCE_THREADS`. ``physical``: physical cores (default: this machine's)."""
    n = physical_cores() if physical is None else max(1, int(physical))
    return n if n < 4 else min(n - 1, MAX_INFERENCE_THREADS)


__all__ = ["MAX_INFERENCE_THREADS", "live_inference_threads"]
