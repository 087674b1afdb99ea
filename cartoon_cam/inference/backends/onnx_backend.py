"""ONNX Runtime backend.

Execution providers are tried in the order TensorRT (fp16) → CUDA → DirectML → CoreML → CPU,
limited to what the installed onnxruntime build offers and what ``device`` allows; the provider
really granted is reported as ``device`` (ONNX Runtime silently falls back to CPU when a GPU
provider fails to initialise, so we read ``session.get_providers()`` after creation).

Two kinds of model run here:

* *fused* models exported from our torch architectures: uint8 ``(1, H, W, 3)`` RGB in and out, with
  normalisation, colour swap and quantisation inside the graph;
* float models (AnimeGANv3, White-box, our ``*_lite`` students, ...): pre/post-processing by
  :class:`.graph_io.FloatGraphIO`, following the style manifest's layout / colour / range.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ...errors import BackendError, StyleError, first_line
from ..style import StyleFile, StyleManifest, atomic_write_bytes, tensors_sha256
from .base import Backend, RunCancelled
from .graph_io import FloatGraphIO

log = logging.getLogger(__name__)

GPU_PROVIDERS = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "DmlExecutionProvider",
    "CoreMLExecutionProvider",
)
PROVIDER_ORDER = (*GPU_PROVIDERS, "CPUExecutionProvider")
SHORT_NAMES = {
    "TensorrtExecutionProvider": "tensorrt",
    "CUDAExecutionProvider": "cuda",
    "DmlExecutionProvider": "directml",
    "CoreMLExecutionProvider": "coreml",
    "CPUExecutionProvider": "cpu",
}


def available_providers() -> list[str]:
    import onnxruntime as ort

    return list(ort.get_available_providers())


def providers_for(device: str) -> list[str]:
    """Providers to try, in order, for ``device`` (``auto`` | ``cpu`` | ``cuda`` | a provider name)."""
    avail = set(available_providers())
    if device == "cpu":
        wanted: tuple[str, ...] = ("CPUExecutionProvider",)
    elif device == "auto":
        wanted = PROVIDER_ORDER
    elif device.startswith("cuda"):
        wanted = ("TensorrtExecutionProvider", "CUDAExecutionProvider")
    elif device in PROVIDER_ORDER:
        wanted = (device,)
    else:
        by_short = {v: k for k, v in SHORT_NAMES.items()}
        if device not in by_short:
            raise BackendError(f"unknown device {device!r} (use auto, cpu, cuda, {', '.join(by_short)})")
        wanted = (by_short[device],)
    chosen = [p for p in wanted if p in avail]
    if not chosen:
        raise BackendError(
            f"ONNX Runtime offers no provider for device {device!r} (installed: {', '.join(sorted(avail))}); "
            "for NVIDIA GPUs install the gpu extra: pip uninstall onnxruntime && pip install 'cartoon-cam[gpu]'"
        )
    return chosen


def _provider_options(provider: str, cache_dir: Path | None) -> dict[str, object]:
    if provider == "TensorrtExecutionProvider":
        opts: dict[str, object] = {"trt_fp16_enable": True}
        if cache_dir is not None:
            opts.update(trt_engine_cache_enable=True, trt_engine_cache_path=str(cache_dir / "trt"))
        return opts
    if provider == "CUDAExecutionProvider":
        return {"cudnn_conv_algo_search": "EXHAUSTIVE"}
    return {}


# --------------------------------------------------------------------------- export


def export_fused_onnx(style: StyleFile, *, fp16: bool = False, opset: int = 17) -> bytes:
    """Export a torch-architecture style to ONNX with uint8 NHWC RGB in/out and dynamic H, W."""
    import torch

    from .torch_backend import Uint8Wrapper, build_torch_model

    net = build_torch_model(style)
    if fp16:
        net = net.half()
    wrapper = Uint8Wrapper(net, style.manifest).eval()
    m = max(8, style.manifest.size_multiple)
    dummy = torch.zeros(1, 4 * m, 6 * m, 3, dtype=torch.uint8)
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper, (dummy,), buf, input_names=["image"], output_names=["cartoon"],
            dynamic_axes={"image": {1: "height", 2: "width"}, "cartoon": {1: "height", 2: "width"}},
            opset_version=opset, do_constant_folding=True, dynamo=False,
        )
    return buf.getvalue()


def _cache_dir() -> Path:
    from ...paths import user_cache_dir

    return user_cache_dir() / "onnx"


# Bump when export_fused_onnx or Uint8Wrapper change what an exported graph computes: cached
# exports of older versions are then ignored.
EXPORT_VERSION = 2


def fused_cache_key(style: StyleFile, *, fp16: bool = False, opset: int = 17) -> str:
    """sha256 over everything baked into a fused export: the weights (the manifest's sha256, which
    loading verified against them; hashed from the tensors only when a style has none), the
    manifest fields that shape the graph or its pre/post-processing (arch, arch_config, colour
    order, value range, layout, size multiple), precision, opset and :data:`EXPORT_VERSION`."""
    m = style.manifest
    weights = m.sha256 or (tensors_sha256(style.tensors) if style.tensors is not None else "")
    contract = {"exporter": EXPORT_VERSION, "opset": opset, "fp16": bool(fp16), "weights": weights,
                "arch": m.arch, "arch_config": m.arch_config, "color": m.color,
                "value_range": [float(v) for v in m.value_range], "layout": m.layout,
                "size_multiple": int(m.size_multiple)}
    return hashlib.sha256(json.dumps(contract, sort_keys=True, default=str).encode()).hexdigest()


def cached_fused_onnx(style: StyleFile, *, fp16: bool = False) -> bytes:
    """:func:`export_fused_onnx`, cached on disk under :func:`fused_cache_key` (export takes seconds)."""
    key = fused_cache_key(style, fp16=fp16)
    path = _cache_dir() / f"{style.manifest.arch}-{key[:32]}-{'fp16' if fp16 else 'fp32'}.onnx"
    if path.is_file():
        try:
            return path.read_bytes()
        except OSError:
            pass
    data = export_fused_onnx(style, fp16=fp16)
    try:
        atomic_write_bytes(path, data)
    except OSError as e:  # a read-only cache is not fatal
        log.warning("cannot cache exported ONNX model at %s: %s", path, e)
    return data


# --------------------------------------------------------------------------- backend


class OnnxBackend(Backend):
    """Runs an ONNX model (a style's own, or one exported from a torch architecture)."""

    name = "onnxruntime"

    def __init__(self, style: StyleFile, device: str = "auto", size: int | None = None,
                 threads: int | None = None) -> None:
        super().__init__(style.manifest, size)
        import onnxruntime as ort

        providers = providers_for(device)
        gpu = any(p in GPU_PROVIDERS for p in providers)
        if style.onnx_bytes is not None:
            model = style.onnx_bytes
        elif style.tensors is not None:
            # fp16 only where a GPU provider will run it; fp32 on the CPU (fp16 is slow there).
            model = cached_fused_onnx(style, fp16=gpu and "CPUExecutionProvider" not in providers[:1])
        else:
            raise StyleError(f"style {style.id!r} has no model to run in ONNX Runtime")
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        if threads:
            so.intra_op_num_threads = threads
        # Idle worker threads sleep instead of spinning: a live app shares the CPU with capture,
        # GUI and encoder threads, and spinning workers then slow everyone down (on 2 cores the
        # lite student ran 2-3x faster this way under load; see docs/PERFORMANCE.md).
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        cache = _cache_dir()
        try:
            self._sess = ort.InferenceSession(
                model, sess_options=so,
                providers=[(p, _provider_options(p, cache)) for p in providers],
            )
        except Exception as e:
            first = first_line(e)
            raise StyleError(f"style {style.id!r}: ONNX Runtime cannot load the model ({first})") from None
        granted = self._sess.get_providers()
        self.device = granted[0]
        if gpu and granted[0] not in GPU_PROVIDERS and device != "auto":
            log.warning("asked for %s but ONNX Runtime granted %s", providers[0], granted[0])
        inp = self._sess.get_inputs()[0]
        self._in_name = inp.name
        self._out_name = self._sess.get_outputs()[0].name
        self._fused = inp.type == "tensor(uint8)"
        self._in_dtype = np.float16 if inp.type == "tensor(float16)" else np.float32
        self.precision = "fp16" if (self._in_dtype == np.float16 or
                                    (self._fused and granted[0] == "TensorrtExecutionProvider")) else "fp32"
        if self._fused and style.onnx_bytes is None and gpu and granted[0] in GPU_PROVIDERS:
            self.precision = "fp16"
        self._io = FloatGraphIO(style.manifest, self._in_dtype)
        self._ort = ort
        self._run_opts: object | None = None

    def _run(self, feed: np.ndarray) -> np.ndarray:
        ro = self._ort.RunOptions()
        self._run_opts = ro
        try:
            return self._sess.run([self._out_name], {self._in_name: feed}, run_options=ro)[0]
        except Exception:
            if ro.terminate:
                raise RunCancelled(f"style {self.style_id!r}: frame cancelled") from None
            raise
        finally:
            self._run_opts = None

    def cancel(self) -> None:
        ro = self._run_opts
        if ro is not None:
            ro.terminate = True  # ONNX Runtime checks it between nodes

    def _infer(self, rgb: np.ndarray) -> np.ndarray:
        if self._fused:
            return self._run(rgb[None])[0]
        return self._io.post(self._run(self._io.pre(rgb)))

    @property
    def io(self) -> FloatGraphIO:
        """The float pre/post-processing of this style (unused by fused graphs)."""
        return self._io

    def run_graph(self, feed: np.ndarray) -> np.ndarray:
        """The graph alone: ``feed`` in its input layout and dtype (e.g. from ``io.pre``) → its
        first output, as ONNX Runtime returns it."""
        return self._run(feed)

    def network_fn(self, x: np.ndarray) -> Callable[[], object]:
        """The session alone on ``x`` (uint8 RGB HxWx3, already sized for the network): the input
        is prepared once, so timing the returned call measures ONNX Runtime only."""
        feed = x[None].copy() if self._fused else self._io.pre(x).copy()
        sess, name = self._sess, self._in_name
        return lambda: sess.run(None, {name: feed})

    def _release(self) -> None:
        self._sess = None  # type: ignore[assignment]
        self._io.release()


def describe_providers() -> str:
    return ", ".join(SHORT_NAMES.get(p, p) for p in available_providers())


__all__ = ["EXPORT_VERSION", "OnnxBackend", "StyleManifest", "available_providers", "cached_fused_onnx",
           "describe_providers", "export_fused_onnx", "fused_cache_key", "providers_for"]
