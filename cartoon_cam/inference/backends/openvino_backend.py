"""OpenVINO backend (CPU): the fastest CPU runtime we measured for our styles.

OpenVINO is an optional extra (``pip install 'cartoon-cam[openvino]'``). It runs the same graphs as
:class:`.onnx_backend.OnnxBackend` — a style's own ONNX model, or the fused export of a
torch-architecture style — read straight from the ONNX bytes.

What makes it fast, and what we chose (measured in docs/PERFORMANCE.md, "CPU runtimes"):

* **static shapes.** A graph is compiled for the exact input size of the frames it sees (a live
  camera keeps one size; compiling takes about 0.1 s for a lite student). With dynamic shapes
  OpenVINO was *slower* than ONNX Runtime on our students; with static ones it is 1.3-1.4x faster.
  The last :data:`SHAPE_CACHE` compiled sizes are kept, so flipping between two sizes costs nothing.
* **fp32 by default.** On CPUs with AVX-512 BF16 or AMX, OpenVINO's default precision is bf16:
  about 1.7x faster again, but up to 2 levels away from ONNX Runtime's output. ``precision="bf16"``
  asks for it explicitly (``bench`` measures it); the app runs fp32, which matches ONNX Runtime
  within 1 level.
* one stream, latency hint, ``threads`` inference threads (``None``: OpenVINO's choice, one per
  physical core).

``cancel()`` works: frames run as asynchronous requests, and a cancelled one raises
:class:`.base.RunCancelled`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from ...errors import BackendError, StyleError, first_line
from ..style import StyleFile
from .base import Backend, RunCancelled
from .graph_io import FloatGraphIO

log = logging.getLogger(__name__)

SHAPE_CACHE = 3  # compiled input sizes kept per backend
PRECISIONS = {"fp32": "f32", "bf16": "bf16"}


def openvino_version() -> str | None:
    """The installed OpenVINO's version, or ``None`` when it is not installed (cheap: no import)."""
    from importlib import metadata

    try:
        return metadata.version("openvino")
    except metadata.PackageNotFoundError:
        return None


def cpu_supports_bf16() -> bool:
    """True when OpenVINO reports native bf16 on this CPU (AVX-512 BF16 or AMX)."""
    import openvino as ov

    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


class OpenVinoBackend(Backend):
    """Runs a style's ONNX graph (its own, or the fused export of a torch style) in OpenVINO on the CPU.

    ``device``: ``auto`` or ``cpu`` (OpenVINO's GPU/NPU plugins are not used). ``threads``: inference
    threads (``None``: OpenVINO's default). ``precision``: ``fp32`` (default) or ``bf16``.
    """

    name = "openvino"

    def __init__(self, style: StyleFile, device: str = "auto", size: int | None = None,
                 threads: int | None = None, precision: str = "fp32") -> None:
        super().__init__(style.manifest, size)
        if device not in ("auto", "cpu"):
            raise BackendError(f"the OpenVINO backend runs on the CPU only (asked for {device!r})")
        if precision not in PRECISIONS:
            raise BackendError(f"unknown OpenVINO precision {precision!r} (use {', '.join(PRECISIONS)})")
        import openvino as ov

        if style.onnx_bytes is not None:
            model_bytes = style.onnx_bytes
        elif style.tensors is not None:
            from .onnx_backend import cached_fused_onnx

            model_bytes = cached_fused_onnx(style, fp16=False)
        else:
            raise StyleError(f"style {style.id!r} has no model to run in OpenVINO")
        self._core = ov.Core()
        try:
            self._model = self._core.read_model(model_bytes)
        except Exception as e:
            first = first_line(e)
            raise StyleError(f"style {style.id!r}: OpenVINO cannot read the model ({first[:300]})") from None
        if len(self._model.inputs) != 1:
            raise StyleError(f"style {style.id!r}: OpenVINO backend expects one input, "
                             f"the model has {len(self._model.inputs)}")
        et = self._model.inputs[0].get_element_type()
        self._fused = et == ov.Type.u8
        self._in_dtype = np.float16 if et == ov.Type.f16 else np.float32
        self._io = FloatGraphIO(style.manifest, self._in_dtype)
        self._config: dict[str, object] = {
            "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1,
            "INFERENCE_PRECISION_HINT": PRECISIONS[precision],
        }
        if threads:
            self._config["INFERENCE_NUM_THREADS"] = int(threads)
        self.device = "cpu"
        self.precision = precision
        self.threads = threads
        self._compiled: OrderedDict[tuple[int, ...], object] = OrderedDict()
        self._request: object | None = None  # the request of the frame now running (for cancel)
        self._cancelled = threading.Event()
        self._ov = ov

    # -- compile per input shape ----------------------------------------------------------------
    def _request_for(self, shape: tuple[int, ...]) -> object:
        req = self._compiled.get(shape)
        if req is not None:
            self._compiled.move_to_end(shape)
            return req
        model = self._model.clone()
        try:
            model.reshape({model.inputs[0]: self._ov.PartialShape(list(shape))})
            compiled = self._core.compile_model(model, "CPU", self._config)
        except Exception as e:
            first = first_line(e)
            raise StyleError(f"style {self.style_id!r}: OpenVINO cannot compile the model for input "
                             f"{list(shape)} ({first[:300]})") from None
        req = compiled.create_infer_request()
        self._compiled[shape] = req
        while len(self._compiled) > SHAPE_CACHE:
            self._compiled.popitem(last=False)
        log.debug("OpenVINO compiled %s for input %s", self.style_id, shape)
        return req

    def _run(self, feed: np.ndarray) -> np.ndarray:
        req = self._request_for(tuple(feed.shape))
        self._request = req
        self._cancelled.clear()
        try:
            req.start_async({0: feed})  # type: ignore[attr-defined]
            req.wait()  # type: ignore[attr-defined]
        except Exception:
            if self._cancelled.is_set():
                raise RunCancelled(f"style {self.style_id!r}: frame cancelled") from None
            raise
        finally:
            self._request = None
        if self._cancelled.is_set():
            raise RunCancelled(f"style {self.style_id!r}: frame cancelled")
        return req.get_output_tensor(0).data  # type: ignore[attr-defined]

    def cancel(self) -> None:
        req = self._request
        if req is not None:
            self._cancelled.set()
            with contextlib.suppress(Exception):  # the frame finished meanwhile
                req.cancel()  # type: ignore[attr-defined]

    # -- Backend --------------------------------------------------------------------------------
    def _infer(self, rgb: np.ndarray) -> np.ndarray:
        if self._fused:
            return np.array(self._run(rgb[None])[0])  # a copy: the request reuses its output buffer
        return self._io.post(self._run(self._io.pre(rgb)))

    def warmup(self, h: int = 256, w: int = 256, runs: int = 1) -> None:
        """Compile for the network size of ``h`` x ``w`` frames and run one frame (the first frame
        of that size would otherwise pay the compile)."""
        img = np.full((h, w, 3), 127, np.uint8)
        for _ in range(max(1, runs)):
            self.process(img)

    @property
    def io(self) -> FloatGraphIO:
        """The float pre/post-processing of this style (unused by fused graphs)."""
        return self._io

    def run_graph(self, feed: np.ndarray) -> np.ndarray:
        """The graph alone: ``feed`` in its input layout and dtype → its first output (a copy)."""
        return np.array(self._run(feed))

    def network_fn(self, x: np.ndarray) -> Callable[[], object]:
        """The compiled graph alone on ``x`` (uint8 RGB HxWx3, sized for the network); the input is
        prepared and the graph compiled before this returns."""
        feed = x[None].copy() if self._fused else self._io.pre(x).copy()
        req = self._request_for(tuple(feed.shape))

        def run() -> object:
            req.infer({0: feed})  # type: ignore[attr-defined]
            return req.get_output_tensor(0).data  # type: ignore[attr-defined]

        return run

    def _release(self) -> None:
        self._compiled.clear()
        self._model = None  # type: ignore[assignment]
        self._io.release()


__all__ = ["PRECISIONS", "SHAPE_CACHE", "OpenVinoBackend", "cpu_supports_bf16", "openvino_version"]
