"""Self-describing style files (no pickle anywhere).

A style is one file whose metadata carries a JSON *manifest* (:class:`StyleManifest`):

* ``*.safetensors`` — weights of a registered torch architecture (``animeganv2``, ``cartoongan``,
  ``lite``); manifest in the safetensors header ``__metadata__["cartoon_cam"]``.
* ``*.onnx`` — any ONNX image-to-image model; manifest in ``metadata_props["cartoon_cam"]``.
* ``*.json`` — a weightless style (``classic``); the file *is* the manifest.

``sha256`` in the manifest covers the weights (tensor names, dtypes, shapes and bytes in key order
for safetensors; the initializers for ONNX) and is verified on load, so a corrupt file is reported
instead of producing garbage.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import StyleError, needs_torch, torch_installed

FORMAT = "cartoon_cam.style"
SCHEMA_VERSION = 1
META_KEY = "cartoon_cam"
STYLE_SUFFIXES = (".safetensors", ".onnx", ".json")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,62}$")


def valid_id(style_id: str) -> bool:
    return bool(_ID_RE.match(style_id))


def slugify(text: str) -> str:
    """A style id from free text: lowercase ``[a-z0-9_-]``, at most 63 characters."""
    s = re.sub(r"[^a-z0-9_\-]+", "_", text.lower()).strip("_-")
    return (s or "style")[:63]


@dataclass
class StyleManifest:
    """What a style file says about itself.

    The network contract: the model takes ``layout`` (``NCHW``/``NHWC``) float32 in ``color`` order
    scaled to ``value_range`` and returns the same layout/order/range (clipped), at the input size.
    Input H and W must be multiples of ``size_multiple`` unless ``fixed_size`` (H, W) is set.
    ``recommended_size`` is the default inference size in pixels on the longer side.
    """

    id: str
    name: str
    arch: str  # a registered architecture, "onnx" or "classic"
    arch_config: dict[str, Any] = field(default_factory=dict)
    layout: str = "NCHW"
    color: str = "RGB"
    value_range: tuple[float, float] = (-1.0, 1.0)
    size_multiple: int = 4
    fixed_size: tuple[int, int] | None = None
    recommended_size: int = 512
    tier: str = "quality"  # quality | lite | classic | imported
    precision: str = "fp32"  # storage precision of the weights
    description: str = ""
    licence: str = ""
    attribution: str = ""
    source: str = ""  # file name it was imported from / how it was made
    sha256: str = ""
    thumbnail: str = ""  # base64 JPEG, optional
    params: dict[str, Any] = field(default_factory=dict)  # weightless styles' parameters
    format: str = FORMAT
    schema: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        self.value_range = tuple(float(v) for v in self.value_range)  # type: ignore[assignment]
        if self.fixed_size is not None:
            self.fixed_size = (int(self.fixed_size[0]), int(self.fixed_size[1]))
        self.validate()

    def validate(self) -> None:
        problems = []
        if not valid_id(self.id):
            problems.append(f"id {self.id!r} must be lowercase letters, digits, '_' or '-'")
        if self.layout not in ("NCHW", "NHWC"):
            problems.append(f"layout {self.layout!r} is not NCHW or NHWC")
        if self.color not in ("RGB", "BGR"):
            problems.append(f"color {self.color!r} is not RGB or BGR")
        if len(self.value_range) != 2 or self.value_range[0] >= self.value_range[1]:
            problems.append(f"value_range {self.value_range!r} is not (low, high)")
        if int(self.size_multiple) < 1:
            problems.append("size_multiple must be ≥ 1")
        if int(self.recommended_size) < 16:
            problems.append("recommended_size must be ≥ 16")
        if self.schema > SCHEMA_VERSION:
            problems.append(f"schema {self.schema} is newer than this app understands ({SCHEMA_VERSION})")
        if problems:
            raise StyleError(f"invalid style manifest: {'; '.join(problems)}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> StyleManifest:
        if data.get("format") != FORMAT:
            raise StyleError("not a cartoon_cam style (manifest 'format' missing)")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise StyleError(f"style manifest has unknown keys: {', '.join(sorted(unknown))}")
        try:
            return cls(**dict(data))
        except TypeError as e:
            raise StyleError(f"invalid style manifest: {e}") from None

    @classmethod
    def from_json(cls, text: str, source: str = "") -> StyleManifest:
        """Parse a manifest; ``source`` (the file it came from) starts every error message."""
        try:
            try:
                data = json.loads(text)
            except json.JSONDecodeError as e:
                raise StyleError(f"style manifest is not valid JSON: {e}") from None
            if not isinstance(data, dict):
                raise StyleError("style manifest is not a JSON object")
            return cls.from_mapping(data)
        except StyleError as e:
            if source:
                raise StyleError(f"{source}: {e}") from None
            raise


# --------------------------------------------------------------------------- hashing


def tensors_sha256(tensors: Mapping[str, np.ndarray]) -> str:
    """sha256 over (name, dtype, shape, bytes) of each tensor in sorted key order."""
    h = hashlib.sha256()
    for k in sorted(tensors):
        a = np.ascontiguousarray(tensors[k])
        h.update(k.encode())
        h.update(str(a.dtype).encode())
        h.update(str(tuple(a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _model_bytes(model: Any) -> bytes:
    """A serialized ONNX model from bytes or an ``onnx.ModelProto``."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    return model.SerializeToString()


def onnx_sha256(model: Any) -> str:
    """sha256 over the initializers (name, dtype, dims, values) of an ONNX model: serialized bytes
    or an ``onnx.ModelProto``. Needs no ``onnx`` package (see :mod:`.onnx_proto`)."""
    from .onnx_proto import read_model

    return tensors_sha256(read_model(_model_bytes(model)).initializer_arrays())


# --------------------------------------------------------------------------- atomic writes


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file + rename: never leaves a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --------------------------------------------------------------------------- read / write


@dataclass
class StyleFile:
    """A loaded style file: the manifest plus its payload.

    ``tensors``: state dict as numpy arrays (safetensors styles); ``onnx_bytes``: serialized ONNX
    model (onnx styles); neither for weightless styles.
    """

    manifest: StyleManifest
    path: Path | None = None
    tensors: dict[str, np.ndarray] | None = None
    onnx_bytes: bytes | None = None

    @property
    def id(self) -> str:
        return self.manifest.id


def write_torch_style(path: Path, state_dict: Mapping[str, Any], manifest: StyleManifest, *, fp16: bool = False) -> Path:
    """Write a torch-architecture style as ``.safetensors`` (atomically).

    ``state_dict`` values: torch tensors or numpy arrays. With ``fp16`` floating tensors are stored
    as float16 (loaders cast back to float32 on the CPU). Fills ``manifest.sha256``/``precision``.
    """
    from safetensors.numpy import save

    tensors: dict[str, np.ndarray] = {}
    for k, v in state_dict.items():
        a = v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)
        if np.issubdtype(a.dtype, np.floating):
            a = a.astype(np.float16 if fp16 else np.float32)
        tensors[k] = np.ascontiguousarray(a)
    manifest.precision = "fp16" if fp16 else "fp32"
    manifest.sha256 = tensors_sha256(tensors)
    manifest.validate()
    data = save(tensors, metadata={META_KEY: manifest.to_json()})
    path = Path(path)
    atomic_write_bytes(path, data)
    return path


def write_onnx_style(path: Path, model: Any, manifest: StyleManifest) -> Path:
    """Write an ONNX model (serialized bytes or an ``onnx.ModelProto``, which is not modified) with
    the manifest in its metadata (atomically). Needs no ``onnx`` package."""
    from .onnx_proto import set_metadata

    data = _model_bytes(model)
    manifest.sha256 = onnx_sha256(data)
    manifest.validate()
    atomic_write_bytes(Path(path), set_metadata(data, META_KEY, manifest.to_json()))
    return Path(path)


def write_json_style(path: Path, manifest: StyleManifest) -> Path:
    manifest.validate()
    atomic_write_bytes(Path(path), (json.dumps(json.loads(manifest.to_json()), indent=2) + "\n").encode())
    return Path(path)


def read_manifest(path: Path) -> StyleManifest:
    """Read only the manifest (cheap: no weights are decoded for safetensors / json)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        return StyleManifest.from_json(_read_text(path), source=path.name)
    if suffix == ".safetensors":
        return _safetensors_manifest(path)
    if suffix == ".onnx":
        return _onnx_manifest(path, _read_bytes(path), verify=False)[0]
    raise StyleError(f"{path.name}: not a style file (expected {', '.join(STYLE_SUFFIXES)})")


def read_style(path: Path, *, verify: bool = True) -> StyleFile:
    """Load a style file and (with ``verify``) check its weights against the manifest's sha256."""
    path = Path(path)
    if not path.is_file():
        raise StyleError(f"style file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return StyleFile(StyleManifest.from_json(_read_text(path), source=path.name), path)
    if suffix == ".safetensors":
        manifest = _safetensors_manifest(path)
        if not torch_installed():  # the weights would load, but nothing could run them
            raise needs_torch(f"{path.name}: style {manifest.id!r} ({manifest.arch} architecture)")
        from safetensors.numpy import load_file

        try:
            tensors = load_file(str(path))
        except Exception as e:  # safetensors raises its own error types
            raise StyleError(f"{path.name}: corrupt weights ({e})") from None
        if verify and manifest.sha256 and tensors_sha256(tensors) != manifest.sha256:
            raise StyleError(f"{path.name}: weights do not match their checksum (file corrupt?)")
        return StyleFile(manifest, path, tensors=tensors)
    if suffix == ".onnx":
        data = _read_bytes(path)
        manifest, info = _onnx_manifest(path, data, verify=verify)
        if verify and manifest.sha256:
            from .onnx_proto import UnsupportedTensor

            try:
                actual = tensors_sha256(info.initializer_arrays())
            except UnsupportedTensor as e:
                raise StyleError(f"{path.name}: cannot check its weights ({e})") from None
            if actual != manifest.sha256:
                raise StyleError(f"{path.name}: weights do not match their checksum (file corrupt?)")
        return StyleFile(manifest, path, onnx_bytes=data)
    raise StyleError(f"{path.name}: not a style file (expected {', '.join(STYLE_SUFFIXES)})")


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise StyleError(f"cannot read {path.name}: {e.strerror or e}") from None


def _onnx_manifest(path: Path, data: bytes, *, verify: bool) -> tuple[StyleManifest, Any]:
    """The manifest in an ONNX file's metadata and the parsed model (initializers only with ``verify``)."""
    from .onnx_proto import ProtoError, read_model

    try:
        info = read_model(data, initializers=verify)
    except ProtoError as e:
        raise StyleError(f"{path.name}: not a valid ONNX model ({e})") from None
    if META_KEY not in info.metadata:
        raise StyleError(f"{path.name}: ONNX model has no cartoon_cam manifest (import it first)")
    return StyleManifest.from_json(info.metadata[META_KEY], source=path.name), info


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise StyleError(f"cannot read {path.name}: {e}") from None


def _safetensors_manifest(path: Path) -> StyleManifest:
    # Header: 8-byte little-endian length, then JSON (see the safetensors spec).
    try:
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if n <= 0 or n > 100_000_000:
                raise ValueError("bad header length")
            header = json.loads(f.read(n))
    except (OSError, ValueError) as e:
        raise StyleError(f"{path.name}: not a valid safetensors file ({e})") from None
    meta = header.get("__metadata__") or {}
    if META_KEY not in meta:
        raise StyleError(f"{path.name}: safetensors file has no cartoon_cam manifest (import it first)")
    return StyleManifest.from_json(meta[META_KEY], source=path.name)
