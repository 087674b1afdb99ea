"""Export a style to a standalone ONNX file, checked against PyTorch in ONNX Runtime.

Torch-architecture styles are exported with pre/post-processing fused into the graph:
input ``image`` uint8 ``(1, H, W, 3)`` RGB, output ``cartoon`` uint8 ``(1, H, W, 3)`` RGB, dynamic
H and W (multiples of the architecture's size multiple). The file carries a cartoon_cam manifest,
so it is also a style file the app loads (``--style file.onnx``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import OutputError, StyleError, needs_torch
from .style import StyleFile, StyleManifest, write_onnx_style


@dataclass(frozen=True)
class ExportCheck:
    sizes: tuple[tuple[int, int], ...]
    max_abs_diff: int  # in 8-bit levels
    mean_abs_diff: float


# Agreement required between ONNX Runtime and PyTorch float32, in 8-bit levels.
TOLERANCE = {"fp32": (2, 0.05), "fp16": (32, 1.0)}  # (max, mean)


def _check_frames(multiple: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    out = []
    for h, w in ((12 * multiple, 16 * multiple), (20 * multiple, 12 * multiple)):
        y, x = np.mgrid[0:h, 0:w]
        base = np.stack([x * 255 // w, y * 255 // h, ((x // 8 + y // 8) % 2) * 200], -1)
        noise = rng.integers(0, 40, (h, w, 3))
        out.append(np.clip(base + noise, 0, 255).astype(np.uint8))
    return out


def export_onnx(style: StyleFile, out: Path, *, fp16: bool = False, check: bool = True) -> ExportCheck | None:
    """Write ``style`` as ONNX to ``out``; with ``check``, compare with PyTorch first (raises
    :class:`StyleError` and writes nothing when they disagree). An ONNX style is copied with its
    manifest (no PyTorch needed); a PyTorch-architecture style needs the ``torch`` extra."""
    m = style.manifest
    if m.arch == "classic":
        raise StyleError("the classic style has no network to export")
    if style.onnx_bytes is not None:
        if fp16:
            raise StyleError(f"style {m.id!r} is already an ONNX model; --fp16 applies to PyTorch styles")
        _write(out, style.onnx_bytes, replace(m))
        return None
    try:
        import onnx  # noqa: F401  (torch.onnx.export needs it)
        import torch  # noqa: F401
    except ImportError:
        raise needs_torch(f"exporting style {m.id!r} to ONNX") from None
    import onnxruntime as ort

    from .backends.onnx_backend import export_fused_onnx
    from .backends.torch_backend import TorchBackend

    data = export_fused_onnx(style, fp16=fp16)
    result = None
    if check:
        so = ort.SessionOptions()
        so.log_severity_level = 3
        sess = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
        ref = TorchBackend(style, device="cpu")
        diffs = []
        sizes = []
        try:
            for img in _check_frames(max(8, m.size_multiple)):
                want = ref._infer(img).astype(np.int16)
                got = sess.run(None, {"image": img[None]})[0][0].astype(np.int16)
                if got.shape != want.shape:
                    raise StyleError(f"export check failed: ONNX output {got.shape} != PyTorch {want.shape}")
                diffs.append(np.abs(got - want))
                sizes.append(img.shape[:2])
        finally:
            ref.close()
        d = np.concatenate([x.ravel() for x in diffs])
        result = ExportCheck(tuple(sizes), int(d.max()), float(d.mean()))
        tmax, tmean = TOLERANCE["fp16" if fp16 else "fp32"]
        if result.max_abs_diff > tmax or result.mean_abs_diff > tmean:
            raise StyleError(f"export check failed: ONNX Runtime differs from PyTorch by up to "
                             f"{result.max_abs_diff} levels (mean {result.mean_abs_diff:.3f}); nothing written")
    manifest = replace(
        m, arch="onnx", layout="NHWC", color="RGB", value_range=(0.0, 255.0),
        arch_config={"exported_from": m.arch, "io": "uint8 NHWC RGB"},
        precision="fp16" if fp16 else "fp32", source=f"exported from style {m.id} ({m.arch})",
        size_multiple=max(m.size_multiple, 1),
    )
    _write(out, data, manifest)
    return result


def _write(out: Path, model: object, manifest: StyleManifest) -> None:
    """:func:`write_onnx_style`, with file-system errors as :class:`OutputError`."""
    try:
        write_onnx_style(out, model, manifest)
    except OSError as e:
        raise OutputError(f"{out}: cannot write ({e.strerror or e})") from None
