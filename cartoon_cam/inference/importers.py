"""Turn published model files into styles (in memory; the catalog writes them).

Recognised inputs:

* ``.pt`` / ``.pth`` / ``.ckpt`` — PyTorch state dicts (AnimeGANv2 port, CartoonGAN port, our own
  archs), read with ``torch.load(weights_only=True)``: a pickle that would run code is refused;
* ``.npz`` — numpy state dicts (read with ``allow_pickle=False``), e.g. CartoonGAN conversions;
* ``.safetensors`` — a plain state dict, or a style file (then its manifest is kept);
* ``.onnx`` — any image-to-image model (read without the ``onnx`` package): layout from the input shape, colour order / range from the
  model's metadata or the file name, size multiple probed by running small frames; every field can be
  overridden.

Every format but ``.onnx`` (and ``.json``) needs PyTorch (the ``torch`` extra).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import StyleError, brief, first_line, needs_torch, torch_installed
from .onnx_proto import ModelInfo, ProtoError, UnsupportedTensor, read_model
from .style import META_KEY, StyleFile, StyleManifest, slugify, tensors_sha256

log = logging.getLogger(__name__)

TORCH_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin")
MODEL_SUFFIXES = (*TORCH_SUFFIXES, ".npz", ".safetensors", ".onnx")


@dataclass
class ImportOptions:
    """User overrides for what cannot always be detected."""

    id: str | None = None
    name: str | None = None
    arch: str | None = None
    layout: str | None = None  # NCHW | NHWC
    color: str | None = None  # RGB | BGR
    value_range: tuple[float, float] | None = None
    size_multiple: int | None = None
    recommended_size: int | None = None
    licence: str | None = None
    attribution: str | None = None


# Keys that identify each architecture's state dict.
_ARCH_SIGNATURES: dict[str, tuple[str, ...]] = {
    "animeganv2": ("block_a.0.1.weight", "block_c.1.layers.0.1.weight", "out_layer.0.weight"),
    "cartoongan": ("conv01_1.weight", "in01_1.scale", "deconv03_1.weight"),
    "lite": ("stem.0.weight", "body.0.body.0.weight", "head.weight"),
}

_KNOWN_FAMILIES: list[tuple[re.Pattern[str], dict[str, Any]]] = [
    (re.compile(r"white.?box|cartooni[sz]e", re.I), {"color": "BGR", "attribution":
        "White-box Cartoonization (Wang & Yu, CVPR 2020)", "licence": "CC BY-NC-SA 4.0"}),
    (re.compile(r"animeganv3", re.I), {"color": "RGB", "attribution": "AnimeGANv3 (Tachibana Yoshino)",
        "licence": "AnimeGANv3 licence: non-commercial use only"}),
]


def detect_arch(keys: set[str]) -> str | None:
    for arch, sig in _ARCH_SIGNATURES.items():
        if all(k in keys for k in sig):
            return arch
    return None


def display_name(path: Path) -> str:
    stem = re.sub(r"[_\-]+", " ", path.stem).strip()
    return stem[:1].upper() + stem[1:] if stem else "Imported style"


def _unwrap_state_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "generator", "G", "netG", "params_ema"):
            inner = obj.get(key)
            if isinstance(inner, dict) and inner and all(isinstance(k, str) for k in inner):
                obj = inner
                break
        tensors = {k.removeprefix("module."): v for k, v in obj.items() if hasattr(v, "shape")}
        if tensors:
            return tensors
    raise StyleError("file holds no state dict of tensors")


def _read_state_dict(path: Path) -> tuple[dict[str, np.ndarray], StyleManifest | None]:
    suffix = path.suffix.lower()
    if suffix in TORCH_SUFFIXES:
        import pickle

        import torch

        try:
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as e:
            first = first_line(e)
            raise StyleError(f"{path.name}: refusing to load: the file contains objects other than "
                             f"tensors, which could run code ({brief(first)})") from None
        except Exception as e:
            raise StyleError(f"{path.name}: not a readable PyTorch file ({type(e).__name__})") from None
        sd = _unwrap_state_dict(obj)
        return {k: v.detach().cpu().numpy() for k, v in sd.items() if hasattr(v, "detach")}, None
    if suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}, None
        except ValueError as e:
            raise StyleError(f"{path.name}: refusing to load pickled numpy data ({e})") from None
        except Exception as e:
            raise StyleError(f"{path.name}: not a readable .npz file ({type(e).__name__})") from None
    if suffix == ".safetensors":
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="numpy") as f:
                meta = f.metadata() or {}
                tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open API
        except Exception as e:
            raise StyleError(f"{path.name}: not a valid safetensors file ({e})") from None
        manifest = StyleManifest.from_json(meta[META_KEY], source=path.name) if META_KEY in meta else None
        return tensors, manifest
    raise StyleError(f"{path.name}: unsupported model file (expected {', '.join(MODEL_SUFFIXES)})")


def _verify(path: Path, manifest: StyleManifest, actual_sha256: str) -> None:
    """Refuse a style file whose weights do not match the sha256 its manifest records."""
    if manifest.sha256 and manifest.sha256 != actual_sha256:
        raise StyleError(f"{path.name}: weights do not match their checksum (file corrupt?); nothing imported")


def _apply(manifest: StyleManifest, opts: ImportOptions) -> StyleManifest:
    for field_name in ("id", "name", "layout", "color", "value_range", "size_multiple",
                       "recommended_size", "licence", "attribution"):
        v = getattr(opts, field_name)
        if v is not None:
            setattr(manifest, field_name, v)
    manifest.validate()
    return manifest


def import_torch_weights(path: Path, opts: ImportOptions) -> StyleFile:
    """A PyTorch / numpy / safetensors state dict of a registered architecture as a style (needs
    PyTorch: the architectures are torch modules, and running one needs torch or its ONNX export)."""
    if not torch_installed():
        raise needs_torch(f"{path.name}: a {path.suffix.lower()} model")
    from .registry import arch_info

    tensors, manifest = _read_state_dict(path)
    if manifest is not None:  # already a style file: its weights must still match its checksum
        _verify(path, manifest, tensors_sha256(tensors))
        return StyleFile(_apply(manifest, opts), path, tensors=tensors)
    arch = opts.arch or detect_arch(set(tensors))
    if arch is None:
        raise StyleError(f"{path.name}: unknown architecture (keys like {sorted(tensors)[:3]}); "
                         "pass --arch (one of animeganv2, cartoongan, lite)")
    try:
        info = arch_info(arch)
    except KeyError as e:
        raise StyleError(str(e.args[0])) from None
    # Keep the stored precision (fp16 files stay fp16 on disk); loaders cast to float32.
    tensors = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    fam = {"animeganv2": ("AnimeGANv2 (Chen et al.); PyTorch port by bryandlee", 512),
           "cartoongan": ("CartoonGAN (Chen, Lai, Liu, CVPR 2018)", 512),
           "lite": ("cartoon_cam lite student", 640)}[arch]
    manifest = StyleManifest(
        id=slugify(path.stem), name=display_name(path), arch=arch, color=info.color,
        size_multiple=info.size_multiple, recommended_size=fam[1], tier="imported",
        attribution=fam[0], source=path.name, sha256=tensors_sha256(tensors),
    )
    return StyleFile(_apply(manifest, opts), path, tensors=tensors)


# --------------------------------------------------------------------------- ONNX


def _probe_multiple(sess: Any, layout: str, dtype: type) -> int:
    """Smallest size multiple the model accepts *and* maps to the same size (1..64)."""
    in_name = sess.get_inputs()[0].name
    for m in (1, 2, 4, 8, 16, 32, 64):
        s = 64 + m if m < 64 else 128  # a multiple of m but not of 2m
        shape = (1, 3, s, s) if layout == "NCHW" else (1, s, s, 3)
        try:
            y = sess.run(None, {in_name: np.zeros(shape, dtype)})[0]
        except Exception:
            continue
        if tuple(y.shape) == shape:
            return m
    raise StyleError("model does not map an image to an image of the same size at any tested size")


def _onnx_weights_sha256(path: Path, model: ModelInfo) -> str:
    try:
        return tensors_sha256(model.initializer_arrays())
    except UnsupportedTensor as e:
        raise StyleError(f"{path.name}: cannot read its weights ({e})") from None


def import_onnx(path: Path, opts: ImportOptions, *, probe: bool = True) -> StyleFile:
    """An ONNX model as a style. Reads the file with :mod:`.onnx_proto` and ONNX Runtime (no
    ``onnx`` package needed)."""
    import onnxruntime as ort

    try:
        data = path.read_bytes()
    except OSError as e:
        raise StyleError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        model = read_model(data)
    except ProtoError as e:
        raise StyleError(f"{path.name}: not a valid ONNX model ({brief(e)})") from None
    meta = model.metadata
    if META_KEY in meta:  # already a style file: its weights must still match its checksum
        manifest = StyleManifest.from_json(meta[META_KEY], source=path.name)
        _verify(path, manifest, _onnx_weights_sha256(path, model))
        return StyleFile(_apply(manifest, opts), path, onnx_bytes=data)
    so = ort.SessionOptions()
    so.log_severity_level = 4  # probing sizes makes ORT log expected failures
    try:
        sess = ort.InferenceSession(data, sess_options=so, providers=["CPUExecutionProvider"])
    except Exception as e:
        raise StyleError(f"{path.name}: ONNX Runtime cannot load it ({brief(e)})") from None
    ins, outs = sess.get_inputs(), sess.get_outputs()
    if len(ins) != 1 or len(outs) < 1:
        raise StyleError(f"{path.name}: expected one image input, found {len(ins)} inputs")
    shape = list(ins[0].shape)
    if len(shape) != 4:
        raise StyleError(f"{path.name}: input is not a 4-D image tensor (shape {shape})")
    if opts.layout:
        layout = opts.layout
    elif shape[1] == 3:
        layout = "NCHW"
    elif shape[3] == 3:
        layout = "NHWC"
    else:
        raise StyleError(f"{path.name}: cannot tell the channel axis from input shape {shape}; import it "
                         f"with 'cartoon-cam styles import {path.name} --layout NCHW' (or NHWC)")
    channels = shape[1] if layout == "NCHW" else shape[3]
    if isinstance(channels, int) and channels != 3:
        raise StyleError(f"{path.name}: input shape {shape} has {channels} channel(s) on the {layout} channel "
                         "axis; an image model takes 3 (RGB or BGR)")
    dtype = np.float16 if ins[0].type == "tensor(float16)" else np.float32
    hw = shape[2:4] if layout == "NCHW" else shape[1:3]
    fixed = tuple(int(v) for v in hw) if all(isinstance(v, int) and v > 0 for v in hw) else None
    if fixed is not None and min(fixed) < 16:
        raise StyleError(f"{path.name}: its input is fixed at {fixed[1]}x{fixed[0]} pixels; the smallest "
                         "size cartoon_cam runs is 16 pixels a side")
    info: dict[str, Any] = {}
    for pat, fam in _KNOWN_FAMILIES:
        if pat.search(path.name) or pat.search(model.producer_name) or pat.search(model.graph_name):
            info = dict(fam)
            break
    color = (meta.get("color_order") or meta.get("color") or info.get("color") or "RGB").upper()
    if fixed is not None:
        multiple = 1
    elif opts.size_multiple:
        multiple = opts.size_multiple
    elif probe:
        multiple = _probe_multiple(sess, layout, dtype)
    else:
        multiple = 8
    manifest = StyleManifest(
        id=slugify(path.stem), name=display_name(path), arch="onnx", layout=layout, color=color,
        size_multiple=multiple, fixed_size=fixed,  # type: ignore[arg-type]
        recommended_size=max(fixed) if fixed else 512, tier="imported",
        licence=info.get("licence", ""), attribution=info.get("attribution", ""), source=path.name,
        sha256=_onnx_weights_sha256(path, model),
    )
    return StyleFile(_apply(manifest, opts), path, onnx_bytes=data)


def import_model_file(path: str | Path, opts: ImportOptions | None = None) -> StyleFile:
    """Read any supported model file into an in-memory :class:`StyleFile` (nothing is written)."""
    path = Path(path)
    opts = opts or ImportOptions()
    if not path.exists():
        raise StyleError(f"model file not found: {path}")
    if not path.is_file():
        raise StyleError(f"not a file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return import_onnx(path, opts)
    if suffix == ".json":
        from .style import read_style

        sf = read_style(path)
        return StyleFile(_apply(sf.manifest, opts), path)
    if suffix in MODEL_SUFFIXES:
        return import_torch_weights(path, opts)
    raise StyleError(f"{path.name}: not a model file (expected {', '.join(MODEL_SUFFIXES)})")
