"""Inference backends behind one interface (see :mod:`.base`) and the factory that picks one.

``create_backend(style_file, backend="auto", device="auto")``:

* ``classic`` styles always run on :class:`ClassicBackend` (OpenCV, CPU);
* ONNX styles run on :class:`OnnxBackend` or, on the CPU, :class:`OpenVinoBackend`;
* torch-architecture styles: ``torch`` → :class:`TorchBackend`, ``onnx`` / ``openvino`` → their
  graph backend (exported once and cached);
* ``auto``: PyTorch fp16 when CUDA is available (torch styles), else ONNX Runtime with a GPU
  provider when one is installed, else **the faster CPU graph runtime for this style, size and
  machine** — ONNX Runtime or OpenVINO (when installed), chosen by a short probe whose answer is
  cached (:mod:`.choice`); PyTorch CPU last (measured slower than both on every built-in
  architecture, see docs/PERFORMANCE.md).

Torch is imported only when a torch path is used, so ONNX-only builds start fast.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable

from ...errors import (
    TORCH_EXTRA,
    BackendError,
    CartoonCamError,
    MissingExtraError,
    StyleError,
    first_line,
    module_installed,
    torch_installed,
)
from ..style import StyleFile
from .base import Backend, RunCancelled, SizePlan, check_frame, plan_size
from .classic import ClassicBackend
from .onnx_backend import SHORT_NAMES  # a plain table: no ONNX Runtime import

log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "onnx", "openvino", "classic")
DEVICES = ("auto", "cpu", "cuda")
# ONNX Runtime execution providers that ``--device`` may name beyond DEVICES (their short names).
PROVIDER_DEVICES = tuple(n for n in SHORT_NAMES.values() if n not in DEVICES)
_CUDA_RE = re.compile(r"^cuda(:\d+)?$")


def validate_device(device: str) -> str:
    """``device`` if it names something a backend understands (available or not), else :class:`BackendError`.

    Accepted: ``auto``, ``cpu``, ``cuda``, ``cuda:N``, an ONNX Runtime provider by short name
    (``tensorrt``, ``directml``, ``coreml``) or full name (``CUDAExecutionProvider``, ...).
    """
    if (device in DEVICES or device in PROVIDER_DEVICES or _CUDA_RE.match(device)
            or (device.endswith("ExecutionProvider") and device.isidentifier())):
        return device
    raise BackendError(f"unknown device {device!r} (use {', '.join(DEVICES)}, cuda:N, "
                       f"or an ONNX Runtime provider: {', '.join(PROVIDER_DEVICES)})")


def _torch_cuda() -> bool:
    try:
        from .torch_backend import cuda_available
    except ImportError:
        return False
    return cuda_available()


def _ort_gpu() -> bool:
    try:
        from .onnx_backend import GPU_PROVIDERS, available_providers

        return any(p in GPU_PROVIDERS for p in available_providers())
    except ImportError:
        return False


def ort_gpu_available() -> bool:
    """True when ONNX Runtime has a GPU execution provider here (CUDA, TensorRT, DirectML, …)."""
    return _ort_gpu()


def gpu_available() -> bool:
    """True when PyTorch sees a CUDA GPU or ONNX Runtime has a GPU provider (may import torch)."""
    return _torch_cuda() or _ort_gpu()


def _cuda_driver_present() -> bool:
    """True when the NVIDIA driver's CUDA library loads (no GPU, no CUDA: a cheap first answer)."""
    import ctypes

    names = {"win32": ("nvcuda.dll",), "darwin": ()}.get(sys.platform, ("libcuda.so.1", "libcuda.so"))
    for name in names:
        try:
            ctypes.CDLL(name)
            return True
        except OSError:
            continue
    return False


def unavailable_choices() -> dict[str, str]:
    """Backends and devices this machine cannot run, each with the reason (for greying out a
    picker): ``{"torch": "PyTorch is not installed", "cuda": "no CUDA GPU", …}``. Without an NVIDIA
    driver this answers at once; with one it imports torch to ask (seconds): call it off the GUI
    thread."""
    out: dict[str, str] = {}
    if not torch_installed():
        out["torch"] = f"PyTorch is not installed (this build runs ONNX and classic styles; {TORCH_EXTRA})"
    if not module_installed("onnxruntime"):
        out["onnx"] = "ONNX Runtime is not installed"
    if not openvino_installed():
        out["openvino"] = "OpenVINO is not installed (pip install 'cartoon-cam[openvino]')"
    if not _cuda_driver_present() or not (_torch_cuda() or _ort_gpu()):
        out["cuda"] = "no CUDA GPU (or no CUDA build of PyTorch / onnxruntime-gpu) on this machine"
    return out


def openvino_installed() -> bool:
    """True when the ``openvino`` package is importable (checked without importing it)."""
    import importlib.util

    return importlib.util.find_spec("openvino") is not None


def create_backend(style: StyleFile, backend: str = "auto", device: str = "auto",
                   size: int | None = None, warmup: bool = False, threads: int | None = None) -> Backend:
    """Build the backend that runs ``style``, a loaded :class:`StyleFile` (an id or a path is
    resolved by the caller's :class:`~cartoon_cam.inference.catalog.StyleCatalog`, never here).
    ``threads``: ONNX Runtime / OpenVINO inference threads (default: the runtime's own choice, one
    per physical core; PyTorch uses its global setting). With ``backend="auto"`` on a CPU the
    choice between ONNX Runtime and OpenVINO is :attr:`Backend.choice` (a :class:`.choice.Choice`)."""
    if not isinstance(style, StyleFile):
        raise TypeError(f"create_backend takes a StyleFile (resolve ids and paths with a StyleCatalog), "
                        f"not {type(style).__name__}")
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
    device = validate_device(device)
    from ...limits import check_inference_size

    size = check_inference_size(size, "inference size")
    arch = style.manifest.arch
    failures: list[tuple[str, Exception]] = []

    def attempt(kind: str) -> Backend | None:
        """The backend of ``kind``, or None with the reason recorded (nothing here may crash the caller)."""
        try:
            if kind == "classic":
                return ClassicBackend(style.manifest, size=size)
            if kind == "onnx":
                from .onnx_backend import OnnxBackend

                return OnnxBackend(style, device=device, size=size, threads=threads)
            if kind == "openvino":
                if not openvino_installed():
                    raise BackendError("OpenVINO is not installed (pip install 'cartoon-cam[openvino]')")
                from .openvino_backend import OpenVinoBackend

                return OpenVinoBackend(style, device=device, size=size, threads=threads)
            from .torch_backend import TorchBackend

            return TorchBackend(style, device=device, size=size)
        except ImportError as e:  # e.g. an install without the torch extra, or a bundle without PyTorch
            name = e.name or "a module"
            hint = f": {TORCH_EXTRA}" if name.split(".")[0] in ("torch", "onnx", "safetensors") else ""
            failures.append((kind, MissingExtraError(f"this installation lacks {name} (PyTorch styles need "
                                                     f"the torch extra, or an ONNX export of the style){hint}")))
        except Exception as e:  # noqa: BLE001 - any failure is a reason to try the next backend
            log.debug("%s backend failed for style %s", kind, style.id, exc_info=True)
            failures.append((kind, e))
        return None

    graph_only = arch == "onnx" or style.tensors is None
    cpu_graphs = ["onnx", "openvino"] if openvino_installed() else ["onnx"]
    if arch == "classic":
        order = ["classic"]
    elif backend == "torch" and graph_only:
        raise BackendError(f"style {style.id!r} is an ONNX model: use --backend onnx, openvino or auto")
    elif backend in ("torch", "onnx", "openvino"):
        order = [backend]
    elif not graph_only and (device.startswith("cuda") or (device == "auto" and _torch_cuda())):
        order = ["torch", "onnx"]
    elif device not in ("auto", "cpu") or (device == "auto" and _ort_gpu()):
        order = ["onnx"] if graph_only else ["onnx", "torch"]  # a GPU provider: ONNX Runtime's
    else:
        order = ["cpu-graphs"] if graph_only else ["cpu-graphs", "torch"]
    if backend == "classic" and arch != "classic":
        raise BackendError(f"style {style.id!r} is a neural style: the classic backend only runs 'classic'")
    for kind in order:
        if kind == "cpu-graphs":
            b = _fastest_cpu_graph(style, size, threads, cpu_graphs, attempt, failures)
            if b is not None:
                if warmup:
                    b.warmup()
                return b
            continue
        b = attempt(kind)
        if b is not None:
            if warmup:
                b.warmup()
            return b
    style_errors = [e for _, e in failures if isinstance(e, StyleError)]
    if len(style_errors) == len(failures):  # the style itself is at fault: say so, not "no backend"
        raise style_errors[0]
    raise BackendError(f"no backend can run style {style.id!r}: "
                       + "; ".join(f"{kind}: {_reason(e)}" for kind, e in failures))


def _fastest_cpu_graph(style: StyleFile, size: int | None, threads: int | None, candidates: list[str],
                       attempt: Callable[[str], Backend | None],
                       failures: list[tuple[str, Exception]]) -> Backend | None:
    """The faster CPU graph runtime for ``style`` (see :mod:`.choice`): from the cache when it has
    the answer, else by a probe. None when no candidate can be built (the reasons are recorded by
    ``attempt``)."""
    from . import choice as ch

    if len(candidates) == 1:
        return attempt(candidates[0])
    known = ch.cached_choice(style, size, threads, candidates)
    if known is not None:
        b = attempt(known.kind)
        if b is not None:
            b.choice = known
            return b
    n_failed = len(failures)
    res = ch.probe(style, size, threads, attempt, candidates)
    for kind, e in failures[n_failed:]:  # an installed runtime that can't run this style: say so
        log.warning("style %s: %s cannot run it (%s); using the other CPU runtime", style.id, kind, _reason(e))
    if res is None:
        return None
    b, picked = res
    b.choice = picked  # type: ignore[attr-defined]
    return b  # type: ignore[return-value]


def _reason(e: Exception) -> str:
    """One line: the message of a project error, else the exception type and its first line."""
    text = first_line(e, "")
    if isinstance(e, CartoonCamError):
        return text
    return f"{type(e).__name__}: {text[:200]}" if text else type(e).__name__


__all__ = ["gpu_available", "openvino_installed", "ort_gpu_available", "unavailable_choices", "BACKENDS", "DEVICES", "PROVIDER_DEVICES", "Backend", "ClassicBackend", "RunCancelled", "SizePlan", "check_frame",
           "create_backend", "plan_size", "validate_device"]
