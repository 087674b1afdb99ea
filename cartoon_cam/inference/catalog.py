"""The style catalog: built-in styles (``resources/styles``) plus the user's imported ones.

Listing reads manifests only (cheap); loading verifies the weights' checksum. Importing validates a
model by running a probe frame *before* anything is written, then writes atomically.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import paths
from ..errors import MissingExtraError, OutputError, StyleError, brief, needs_torch, torch_installed
from .importers import ImportOptions, import_model_file
from .style import (
    STYLE_SUFFIXES,
    StyleFile,
    StyleManifest,
    read_manifest,
    read_style,
    write_json_style,
    write_onnx_style,
    write_torch_style,
)

log = logging.getLogger(__name__)

CLASSIC_ID = "classic"


@dataclass(frozen=True)
class StyleEntry:
    """A listed style: its manifest, where it lives, and whether it ships with the app."""

    manifest: StyleManifest
    path: Path
    builtin: bool

    @property
    def id(self) -> str:
        return self.manifest.id


def probe_frame(h: int = 96, w: int = 128) -> np.ndarray:
    """A deterministic uint8 RGB test picture (gradients + shapes): HxWx3."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) * 127 // max(h + w - 2, 1)], -1)
    img = img.astype(np.uint8)
    img[h // 4: h // 2, w // 4: w // 2] = (230, 40, 60)
    return np.ascontiguousarray(img)


class StyleCatalog:
    """Built-in + user styles, keyed by id (user styles cannot shadow built-ins)."""

    def __init__(self, builtin_dir: Path | None = None, user_dir: Path | None = None) -> None:
        self.builtin_dir = Path(builtin_dir) if builtin_dir else paths.builtin_styles_dir()
        self.user_dir = Path(user_dir) if user_dir else paths.user_styles_dir()

    def _scan(self, folder: Path, builtin: bool, *, runnable_only: bool = True) -> list[StyleEntry]:
        """The styles in ``folder``. A broken file is skipped with a warning; so is (with
        ``runnable_only``) a style this installation cannot run: a PyTorch-architecture style
        without PyTorch (:func:`unavailable_reason`)."""
        out: list[StyleEntry] = []
        if not folder.is_dir():
            return out
        try:
            files = sorted(folder.iterdir())
        except OSError as e:
            log.warning("cannot list style folder %s: %s", folder, e.strerror or e)
            return out
        for p in files:
            if p.suffix.lower() not in STYLE_SUFFIXES or p.name.startswith("."):
                continue
            try:
                entry = StyleEntry(read_manifest(p), p, builtin)
            except StyleError as e:
                log.warning("skipping style file %s: %s", p, e)
                continue
            reason = unavailable_reason(entry.manifest) if runnable_only else ""
            if reason:
                log.warning("skipping style file %s: %s", p, reason)
                continue
            out.append(entry)
        return out

    def entries(self) -> list[StyleEntry]:
        """All styles: built-ins first (in file order), then the user's, by id."""
        seen: dict[str, StyleEntry] = {}
        for e in self._scan(self.builtin_dir, True) + self._scan(self.user_dir, False):
            if e.id in seen:
                if not e.builtin:
                    log.warning("user style %s ignored: id %r is taken", e.path, e.id)
                continue
            seen[e.id] = e
        return list(seen.values())

    def ids(self) -> list[str]:
        return [e.id for e in self.entries()]

    def entry(self, style_id: str) -> StyleEntry:
        for e in self.entries():
            if e.id == style_id:
                return e
        everything = (self._scan(self.builtin_dir, True, runnable_only=False)
                      + self._scan(self.user_dir, False, runnable_only=False))
        for e in everything:
            if e.id == style_id and unavailable_reason(e.manifest):
                raise MissingExtraError(unavailable_reason(e.manifest))
        raise StyleError(f"unknown style {style_id!r} (available: {', '.join(self.ids()) or 'none'})")

    def get(self, style_id: str) -> StyleFile:
        sf = read_style(self.entry(style_id).path)
        if sf.id != style_id:
            raise StyleError(f"style file {sf.path} says its id is {sf.id!r}, not {style_id!r}")
        return sf

    def resolve(self, id_or_path: str | Path) -> StyleFile:
        """A style id, a style file, or any supported model file (imported in memory)."""
        p = Path(id_or_path)
        text = str(id_or_path)
        if p.suffix and (p.exists() or "/" in text or "\\" in text):
            if p.suffix.lower() in STYLE_SUFFIXES:
                try:
                    return read_style(p)
                except StyleError as e:
                    if "no cartoon_cam manifest" not in str(e):
                        raise
            return import_model_file(p)
        return self.get(text)

    # -- mutations ------------------------------------------------------------------------
    def import_file(self, path: str | Path, opts: ImportOptions | None = None, *,
                    replace: bool = False) -> StyleEntry:
        """Validate ``path`` (load + run a probe frame) and copy it into the user style folder."""
        from .backends import create_backend

        opts = opts or ImportOptions()
        sf = import_model_file(path, opts)
        m = sf.manifest
        builtin_ids = {e.id for e in self._scan(self.builtin_dir, True, runnable_only=False)}
        if m.id in builtin_ids:
            raise StyleError(f"id {m.id!r} belongs to a built-in style: choose another with --id")
        existing = [e for e in self._scan(self.user_dir, False, runnable_only=False) if e.id == m.id]
        if existing and not replace:
            raise StyleError(f"a style with id {m.id!r} is already imported (use --id, or remove it first)")
        try:
            with create_backend(sf, backend="auto", device="cpu") as b:
                out = b.process(probe_frame())
        except StyleError:
            raise
        except Exception as e:
            raise StyleError(f"{Path(path).name}: the model failed on a probe frame ({brief(e)})") from None
        if out.shape != (96, 128, 3) or out.dtype != np.uint8:
            raise StyleError(f"{Path(path).name}: the model returned {out.shape} for a 96x128 probe frame")
        try:
            self.user_dir.mkdir(parents=True, exist_ok=True)
            if m.arch == "classic":
                dest = write_json_style(self.user_dir / f"{m.id}.json", m)
            elif sf.onnx_bytes is not None:
                dest = write_onnx_style(self.user_dir / f"{m.id}.onnx", sf.onnx_bytes, m)
            else:
                assert sf.tensors is not None
                fp16 = bool(sf.tensors) and all(v.dtype == np.float16 for v in sf.tensors.values()
                                                if np.issubdtype(v.dtype, np.floating))
                dest = write_torch_style(self.user_dir / f"{m.id}.safetensors", sf.tensors, m, fp16=fp16)
            for e in existing:
                if e.path != dest:
                    e.path.unlink(missing_ok=True)
        except OSError as e:
            raise OutputError(f"cannot write to the style folder {self.user_dir} ({e.strerror or e})") from None
        return StyleEntry(read_manifest(dest), dest, False)

    def remove(self, style_id: str) -> Path:
        """Delete an imported style's file (one this installation cannot run too); built-in styles
        cannot be removed."""
        user = [e for e in self._scan(self.user_dir, False, runnable_only=False) if e.id == style_id]
        builtin_ids = {b.id for b in self._scan(self.builtin_dir, True)}
        e = user[0] if user and style_id not in builtin_ids else self.entry(style_id)
        if e.builtin:
            raise StyleError(f"{style_id!r} is a built-in style and cannot be removed")
        try:
            e.path.unlink()
        except OSError as err:
            raise OutputError(f"cannot remove {e.path} ({err.strerror or err})") from None
        return e.path

    def default_style_id(self, gpu: bool | None = None) -> str:
        """The best style this machine runs in real time: a quality style on a GPU, a lite one on
        a CPU, else ``classic``. Preference order among built-ins follows the file order.

        ``gpu=None`` probes for a GPU (importing torch: a second or more) only when the answer
        depends on it, i.e. when a built-in ``quality`` style exists."""
        builtins = [e for e in self.entries() if e.builtin]
        if gpu is None:
            gpu = False
            if any(e.manifest.tier == "quality" for e in builtins):
                from .backends import gpu_available

                gpu = gpu_available()
        for tier in (("quality", "lite") if gpu else ("lite",)):
            for e in builtins:
                if e.manifest.tier == tier:
                    return e.id
        ids = [e.id for e in builtins]
        return CLASSIC_ID if CLASSIC_ID in ids else (ids[0] if ids else CLASSIC_ID)


def unavailable_reason(manifest: StyleManifest) -> str:
    """Why this installation cannot run a style ("" when it can): PyTorch-architecture styles
    need the ``torch`` extra. Cheap: nothing is imported."""
    if manifest.arch not in ("onnx", "classic") and not torch_installed():
        return str(needs_torch(f"style {manifest.id!r} ({manifest.arch} architecture)"))
    return ""


def default_catalog() -> StyleCatalog:
    """The catalog over the standard folders (cheap to build: nothing is read until asked)."""
    return StyleCatalog()


def load_style(id_or_path: str | Path) -> StyleFile:
    """A style by id (built-in or imported) or by file path (style file or published model)."""
    return default_catalog().resolve(id_or_path)
