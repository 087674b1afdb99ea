"""The style catalog: built-in styles (``resources/styles``) plus the user's imported ones, and
**the** rule that turns a style id or path into a :class:`StyleFile` (:meth:`StyleCatalog.resolve`).

The composition root (:mod:`cartoon_cam.app`, each command) builds one :class:`StyleCatalog` and
passes it (or its ``resolve``) to whoever needs styles: the window, the pipeline's loader. Nothing
builds a catalog behind the caller's back. Listing reads manifests only and remembers them until a
style folder changes; loading verifies the weights' checksum. Importing validates a model by
running a probe frame *before* anything is written, then writes atomically.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
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
MODEL_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".npz", ".safetensors")  # files that may need PyTorch

#: What the pipeline is given to load a style: an id or path in, a verified style file out
#: (:meth:`StyleCatalog.resolve`; raises :class:`StyleError` / :class:`MissingExtraError`).
StyleLoader = Callable[["str | Path"], StyleFile]


def style_path(id_or_path: str | Path) -> Path | None:
    """The file ``id_or_path`` names, or ``None`` when it is a style id. The one rule for "is this
    a path": a ``Path``, or text with a suffix that exists or contains a path separator."""
    if isinstance(id_or_path, Path):
        return id_or_path.expanduser()
    p = Path(id_or_path).expanduser()
    if p.suffix and (p.exists() or "/" in id_or_path or "\\" in id_or_path):
        return p
    return None


def style_key(id_or_path: str | Path) -> str:
    """A stable key for a requested style: the resolved path for files, the id otherwise."""
    p = style_path(id_or_path)
    if p is None:
        return str(id_or_path)
    try:
        return str(p.resolve())
    except OSError:
        return str(id_or_path)


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
        # entries() is asked on every style switch: remembered until a style folder changes
        self._entries: tuple[tuple[object, ...], list[StyleEntry]] | None = None
        self._manifests: dict[tuple[str, int, int], StyleManifest] = {}  # (path, mtime_ns, size)

    def _stamp(self) -> tuple[object, ...]:
        """Changes when a file is added to, removed from, renamed in or rewritten in a style folder:
        each folder's names with their size and mtime (one directory listing, no file is opened)."""
        out: list[object] = []
        for folder in (self.builtin_dir, self.user_dir):
            try:
                with os.scandir(folder) as it:
                    out.append(tuple(sorted((d.name, d.stat().st_size, d.stat().st_mtime_ns) for d in it
                                            if d.name.lower().endswith(STYLE_SUFFIXES))))
            except OSError:
                out.append(None)
        out.append(torch_installed())  # which styles this installation can run
        return tuple(out)

    def _manifest(self, p: Path) -> StyleManifest:
        """``read_manifest(p)``, remembered while the file's size and mtime stay the same."""
        try:
            st = p.stat()
            key: tuple[str, int, int] | None = (str(p), st.st_mtime_ns, st.st_size)
        except OSError:
            key = None
        if key is not None and key in self._manifests:
            return self._manifests[key]
        m = read_manifest(p)
        if key is not None:
            self._manifests[key] = m
        return m

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
                entry = StyleEntry(self._manifest(p), p, builtin)
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
        """All styles: built-ins first (in file order), then the user's, by id. The folders are
        listed again only when one of them changed (:meth:`_stamp`); :meth:`import_file` and
        :meth:`remove` forget the list."""
        stamp = self._stamp()
        if self._entries is not None and self._entries[0] == stamp:
            return list(self._entries[1])
        seen: dict[str, StyleEntry] = {}
        for e in self._scan(self.builtin_dir, True) + self._scan(self.user_dir, False):
            if e.id in seen:
                if not e.builtin:
                    log.warning("user style %s ignored: id %r is taken", e.path, e.id)
                continue
            seen[e.id] = e
        self._entries = (stamp, list(seen.values()))
        return list(seen.values())

    def forget(self) -> None:
        """Forget the remembered list (the next :meth:`entries` lists the folders again)."""
        self._entries = None

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

    def check(self, id_or_path: str | Path) -> str:
        """``id_or_path`` (as text) if it names a catalog style or an existing file, without loading
        it; :class:`StyleError` otherwise (:class:`MissingExtraError` for a PyTorch style or model
        file when PyTorch is not installed). Cheap: for checking a command line before anything opens."""
        p = style_path(id_or_path)
        if p is not None:
            if not p.is_file():
                raise StyleError(f"--style {str(id_or_path)!r}: no such file")
            if p.suffix.lower() in MODEL_SUFFIXES and not torch_installed():
                raise needs_torch(f"--style {p.name}")
            return str(p)
        style = str(id_or_path)
        ids = self.ids()
        if style not in ids:
            self.entry(style)  # raises: MissingExtraError for a style this installation cannot run
            raise StyleError(f"unknown style {style!r} (available: {', '.join(ids) or 'none'})")
        return style

    def resolve(self, id_or_path: str | Path) -> StyleFile:
        """A style id, a style file, or any supported model file (imported in memory), loaded and
        verified: the one place an id or path becomes a :class:`StyleFile`."""
        p = style_path(id_or_path)
        if p is not None:
            if p.suffix.lower() in STYLE_SUFFIXES:
                try:
                    return read_style(p)
                except StyleError as e:
                    if "no cartoon_cam manifest" not in str(e):
                        raise
            return import_model_file(p)
        return self.get(str(id_or_path))

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
        finally:
            self.forget()
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
        finally:
            self.forget()
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


def load_style(id_or_path: str | Path) -> StyleFile:
    """A style by id (built-in or imported) or by file path (style file or published model),
    through a catalog over the standard folders built for this one call. For scripts, training and
    tests; the app and its commands resolve through the one catalog they built."""
    return StyleCatalog().resolve(id_or_path)
