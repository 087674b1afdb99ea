"""How ``--backend auto`` picks a CPU runtime: a short probe per style and size, cached.

On a CPU, a style's graph can run in ONNX Runtime or (when the ``openvino`` extra is installed) in
OpenVINO. Which is faster depends on the CPU and the graph: OpenVINO with static shapes was 1.3-1.4x
faster on our lite students on a 2-core AMD EPYC, and Intel's own CPUs favour it more; other CPUs and
graphs may not. So ``auto`` measures instead of guessing:

* each candidate is built, warmed up (OpenVINO compiles for the size) and timed on a 16:9 frame at
  the inference size, candidates interleaved, :data:`PROBE_RUNS` runs each (fewer when a frame is
  slow, see :data:`PROBE_BUDGET_S`); the best run of each counts (the least disturbed by other load);
* OpenVINO wins only when it is at least :data:`MARGIN` faster (ONNX Runtime is the default runtime);
* the winner is kept (the loser closed) and the answer cached in ``<user cache>/backend_choice.json``
  under a key of the model's hash, the network input shape, the thread count, the CPU and the
  runtimes' versions: the next load of the same style at the same size takes no probe.

A probe takes about 0.2-0.5 s for a lite student and a few seconds for a heavy model, once per
style, size and machine; it runs where the backend is built (the style-loader thread), never on the
GUI thread. Delete the cache file to measure again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..style import StyleFile

log = logging.getLogger(__name__)

PROBE_RUNS = 5
PROBE_BUDGET_S = 1.5  # per candidate, after its first run: stop timing early on heavy models
MARGIN = 0.05
CACHE_NAME = "backend_choice.json"
CACHE_VERSION = 1


@dataclass(frozen=True)
class Choice:
    """What ``auto`` chose: the backend ``kind`` (``onnx``/``openvino``), each candidate's best ms
    per frame, and whether the answer came from the cache."""

    kind: str
    ms: dict[str, float]
    cached: bool

    def describe(self) -> str:
        runs = ", ".join(f"{k} {v:.1f} ms" for k, v in sorted(self.ms.items(), key=lambda kv: kv[1]))
        return f"{self.kind} ({'cached probe' if self.cached else 'probe'}: {runs})"


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for dist in ("onnxruntime", "onnxruntime-gpu", "openvino"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def probe_shape(style: StyleFile, size: int | None) -> tuple[int, int]:
    """The (h, w) frame a probe runs: 16:9 at the inference long side (the style's recommendation
    when ``size`` is None), or the style's fixed size."""
    m = style.manifest
    if m.fixed_size is not None:
        return (int(m.fixed_size[0]), int(m.fixed_size[1]))
    long_side = int(size or m.recommended_size)
    return (max(1, round(long_side * 9 / 16)), long_side)


def model_hash(style: StyleFile) -> str:
    """A stable hash of the style's model: its verified sha256, else the ONNX bytes' hash."""
    if style.manifest.sha256:
        return style.manifest.sha256
    if style.onnx_bytes is not None:
        return hashlib.sha256(style.onnx_bytes).hexdigest()
    return style.id


def cache_key(style: StyleFile, shape: tuple[int, int], threads: int | None, candidates: list[str]) -> str:
    """What a cached answer depends on, hashed (see the module docstring)."""
    from ..cpu import cpu_info
    from .onnx_backend import EXPORT_VERSION

    parts = {"v": CACHE_VERSION, "model": model_hash(style), "shape": list(shape), "threads": threads,
             "cpu": cpu_info().name, "cores": os.cpu_count(), "versions": _versions(),
             "candidates": sorted(candidates), "export": EXPORT_VERSION}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


def _cache_path() -> Path:
    from ...paths import user_cache_dir

    return user_cache_dir() / CACHE_NAME


def _read_cache() -> dict[str, dict]:
    try:
        data = json.loads(_cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(key: str, choice: Choice, style_id: str) -> None:
    from ..style import atomic_write_bytes

    data = _read_cache()
    data[key] = {"kind": choice.kind, "ms": choice.ms, "style": style_id,
                 "measured": time.strftime("%Y-%m-%dT%H:%M:%S")}
    if len(data) > 200:  # bounded: drop the oldest answers
        for k in sorted(data, key=lambda k: str(data[k].get("measured", "")))[: len(data) - 200]:
            data.pop(k, None)
    try:
        atomic_write_bytes(_cache_path(), json.dumps(data, indent=1, sort_keys=True).encode())
    except OSError as e:  # a read-only cache only costs a probe next time
        log.warning("cannot cache the backend choice at %s: %s", _cache_path(), e)


def cached_choice(style: StyleFile, size: int | None, threads: int | None, candidates: list[str]) -> Choice | None:
    """The cached answer for this style, size, threads and machine, or None."""
    entry = _read_cache().get(cache_key(style, probe_shape(style, size), threads, candidates))
    if not entry or entry.get("kind") not in candidates:
        return None
    return Choice(str(entry["kind"]), {str(k): float(v) for k, v in dict(entry.get("ms", {})).items()}, True)


def time_backends(backends: dict[str, object], shape: tuple[int, int],
                  clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Best ms per frame of each backend on one ``shape`` frame (candidates interleaved)."""
    frame = np.full((*shape, 3), 127, np.uint8)
    frame[::7] = 40  # some texture: constant frames can take shortcuts in some kernels
    best = {k: float("inf") for k in backends}
    spent = dict.fromkeys(backends, 0.0)
    for b in backends.values():  # warm-up: compile for the shape, first-touch memory
        b.process(frame)  # type: ignore[attr-defined]
    for _ in range(PROBE_RUNS):
        for k, b in backends.items():
            if spent[k] > PROBE_BUDGET_S and best[k] < float("inf"):
                continue
            t0 = clock()
            b.process(frame)  # type: ignore[attr-defined]
            dt = clock() - t0
            spent[k] += dt
            best[k] = min(best[k], dt * 1000.0)
    return best


def pick(ms: dict[str, float]) -> str:
    """``openvino`` when it beats ``onnx`` by :data:`MARGIN`, else ``onnx`` (or the only candidate)."""
    if "onnx" in ms and "openvino" in ms:
        return "openvino" if ms["openvino"] < ms["onnx"] * (1.0 - MARGIN) else "onnx"
    return min(ms, key=ms.__getitem__)


def probe(style: StyleFile, size: int | None, threads: int | None,
          build: Callable[[str], object | None], candidates: list[str]) -> tuple[object, Choice] | None:
    """Build every candidate with ``build(kind)`` (None when it can't), time them, keep the winner
    and close the others; cache the answer. None when no candidate could be built."""
    built = {k: b for k in candidates if (b := build(k)) is not None}
    if not built:
        return None
    if len(built) == 1:
        kind, b = next(iter(built.items()))
        return b, Choice(kind, {}, False)
    shape = probe_shape(style, size)
    try:
        ms = time_backends(built, shape)
    except Exception:
        for b in built.values():
            b.close()  # type: ignore[attr-defined]
        raise
    kind = pick(ms)
    for k, b in built.items():
        if k != kind:
            b.close()  # type: ignore[attr-defined]
    choice = Choice(kind, {k: round(v, 2) for k, v in ms.items()}, False)
    _write_cache(cache_key(style, shape, threads, candidates), choice, style.id)
    log.info("style %s at %dx%d: auto chose %s", style.id, shape[1], shape[0], choice.describe())
    return built[kind], choice


__all__ = ["CACHE_NAME", "MARGIN", "PROBE_RUNS", "Choice", "cache_key", "cached_choice", "pick", "probe",
           "probe_shape", "time_backends"]
