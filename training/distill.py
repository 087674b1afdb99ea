"""Teacher distillation: a student generator learns to reproduce any style the app can run.

1. Photos (``data.photos``, recursive) are split deterministically into train and held-out sets.
2. Teacher outputs are computed once per photo *and scale* with the app's own backend
   (``create_backend(load_style(teacher)).process``, at the photo's own resolution) and cached as
   PNG under ``data.teacher_cache`` (default ``RUN_DIR/teacher_cache``), keyed by the teacher's
   checksum; several ranks share the work.
3. The student sees random crops at several scales (teacher computed at that scale) and learns with
   pixel L1 + an image-gradient term, optionally VGG feature matching and a patch-GAN term.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from cartoon_cam.inference.registry import arch_info, create_model

from . import losses as L
from .config import Config, ConfigError, LossCfg
from .data import (
    PairCropDataset,
    StreamBatchSampler,
    infinite_loader,
    list_collate,
    to_tensor,
    to_uint8,
)
from .discriminator import Discriminator
from .export import export_generator
from .hints import (
    HINT_LAYERS,
    FeatureGrab,
    HintAdapter,
    HintCache,
    HintTerm,
    fit_adapter,
    hint_loss,
)
from .prep import list_images, read_rgb, readable_images
from .run import Run, Stateful
from .runtime import (
    DistInfo,
    autocast,
    barrier,
    cleanup_distributed,
    optimizer_step,
    progress,
    save_grid,
    scheduled_lr,
    set_lr,
    unwrap,
)
from .trainer import load_generator_weights

log = logging.getLogger("training")


# --------------------------------------------------------------------------- photos and cache


def split_photos(folder: str | Path, seed: int, holdout: int, max_photos: int = 0) -> tuple[list[Path], list[Path]]:
    """Deterministic (train, held-out) split of the readable photos under ``folder`` (recursive;
    unreadable files are skipped with a warning)."""
    files = list_images(folder, recursive=True)
    if not files:
        raise FileNotFoundError(f"no photos found under {folder}")
    files = readable_images(files, f"photos under {folder}")
    if not files:
        raise FileNotFoundError(f"no readable photos under {folder}")
    rng = np.random.default_rng(seed)
    files = [files[i] for i in rng.permutation(len(files))]
    if max_photos:
        files = files[:max_photos]
    n_hold = min(holdout, max(0, len(files) - 1))
    return files[n_hold:], files[:n_hold]


def load_photo(path: Path, max_side: int) -> np.ndarray:
    """uint8 RGB photo, downscaled (area filter) so its longer side is at most ``max_side`` (0 = keep)."""
    img = read_rgb(path)
    h, w = img.shape[:2]
    if max_side and max(h, w) > max_side:
        s = max_side / max(h, w)
        img = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return img


def scale_image(img: np.ndarray, s: float) -> np.ndarray:
    """Resize uint8 HxWx3 by factor ``s`` (area when shrinking, cubic when growing; identity at 1)."""
    if s == 1.0:
        return img
    h, w = img.shape[:2]
    size = (max(8, round(w * s)), max(8, round(h * s)))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def teacher_checksum(teacher: str) -> str:
    """Identity of a teacher for the cache: a file's sha256, or for a style id ``style:`` + the
    resolved style's manifest sha256 (its weights; the manifest's own hash for weightless styles)."""
    p = Path(teacher)
    if p.is_file():
        return file_sha256(p)
    from cartoon_cam.inference.catalog import load_style

    m = load_style(teacher).manifest
    return "style:" + (m.sha256 or hashlib.sha256(m.to_json().encode()).hexdigest())


class TeacherCache:
    """PNG cache of teacher outputs: ``<root>/<sha256(teacher checksum)[:16]>_m<max_side>/<photo key>_s<scale>.png``
    (see :func:`teacher_checksum`).

    ``index.json`` maps photo keys to their (h, w) at scale 1 (after ``max_side``).
    """

    def __init__(self, root: Path, teacher: str, max_side: int) -> None:
        self.teacher = teacher
        ident = teacher_checksum(teacher)
        self.dir = Path(root) / f"{hashlib.sha256(ident.encode()).hexdigest()[:16]}_m{max_side}"
        self.max_side = max_side

    @staticmethod
    def key(photo: Path) -> str:
        return hashlib.sha1(str(photo.resolve()).encode()).hexdigest()[:20]

    def path(self, photo: Path, s: float) -> Path:
        return self.dir / f"{self.key(photo)}_s{s:.3f}.png"

    def build(self, photos: list[Path], scales: list[float], info: DistInfo, device: str = "auto",
              backend: str = "auto", show_progress: bool = True, threads: int | None = None,
              ) -> dict[str, tuple[int, int]]:
        """Compute missing teacher outputs (rank ``r`` does photos ``r::world``; ``scales`` must include
        1.0; ``threads``: ONNX Runtime threads); returns each photo's (h, w) at scale 1."""
        self.dir.mkdir(parents=True, exist_ok=True)
        todo = [(i, p) for i, p in enumerate(photos) if i % info.world_size == info.rank
                and not all(self.path(p, s).is_file() for s in scales)]
        if todo:
            from cartoon_cam.inference.backends import create_backend
            from cartoon_cam.inference.catalog import load_style

            t0 = time.perf_counter()
            teacher = create_backend(load_style(self.teacher), backend=backend, device=device, threads=threads)
            log.info("teacher %s (%s): computing %d photos x %d scales", self.teacher, teacher.describe(),
                     len(todo), len(scales))
            bar = progress(len(todo), 0, show_progress and info.is_main, "teacher")
            try:
                for _, p in todo:
                    photo = load_photo(p, self.max_side)
                    for s in scales:
                        out = self.path(p, s)
                        if out.is_file():
                            continue
                        x = scale_image(photo, s)
                        teacher.size = max(x.shape[:2])  # run at the photo's own resolution
                        y = teacher.process(x)
                        tmp = out.with_name(out.stem + ".tmp.png")
                        if not cv2.imwrite(str(tmp), np.ascontiguousarray(y[:, :, ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 1]):
                            raise OSError(f"cannot write {tmp}")
                        tmp.replace(out)
                    bar.update(1)
            finally:
                bar.close()
                teacher.close()
            log.info("teacher cache: %d photos in %.1f s", len(todo), time.perf_counter() - t0)
        barrier(info)
        return self.sizes(photos, write=info.is_main)

    def sizes(self, photos: list[Path], *, write: bool = True) -> dict[str, tuple[int, int]]:
        """(h, w) at scale 1 of each photo's cached teacher output (``index.json`` avoids decoding)."""
        index_file = self.dir / "index.json"
        try:
            index = json.loads(index_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            index = {}
        out: dict[str, tuple[int, int]] = {}
        changed = False
        for p in photos:
            key = self.key(p)
            if key not in index:
                img = cv2.imread(str(self.path(p, 1.0)), cv2.IMREAD_UNCHANGED)
                if img is None:
                    raise OSError(f"teacher cache entry missing for {p}")
                index[key] = list(img.shape[:2])
                changed = True
            out[str(p)] = (int(index[key][0]), int(index[key][1]))
        if changed and write:
            tmp = index_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(index), encoding="utf-8")
            tmp.replace(index_file)
        return out


class PairSource:
    """Picklable ``(idx, scale) → (photo, teacher)`` (uint8 RGB, same size) for the data loader;
    with ``hints`` (scale 1 only) ``(photo, teacher, features)``, the teacher's cached 1/2-resolution
    features (float16 C x ceil(H/2) x ceil(W/2), memory-mapped; training/hints.py)."""

    def __init__(self, photos: list[Path], cache: TeacherCache, hints: HintCache | None = None) -> None:
        self.photos, self.cache, self.hints = photos, cache, hints

    def __call__(self, idx: int, s: float) -> tuple[np.ndarray, ...]:
        p = self.photos[idx]
        photo = scale_image(load_photo(p, self.cache.max_side), s)
        teacher = cv2.imread(str(self.cache.path(p, s)), cv2.IMREAD_COLOR)
        if teacher is None:
            raise OSError(f"teacher cache entry missing: {self.cache.path(p, s)}")
        teacher = teacher[:, :, ::-1]
        if teacher.shape[:2] != photo.shape[:2]:  # defensive: a cache built with other settings
            teacher = cv2.resize(teacher, (photo.shape[1], photo.shape[0]), interpolation=cv2.INTER_AREA)
        if self.hints is None:
            return photo, np.ascontiguousarray(teacher)
        if s != 1.0:
            raise ValueError("teacher features are cached at scale 1 only")
        feats = self.hints.load(self.cache.key(p))
        h2, w2 = -(-photo.shape[0] // 2), -(-photo.shape[1] // 2)
        if feats.shape[1:] != (h2, w2):
            raise OSError(f"teacher features {self.hints.path(self.cache.key(p))} are {feats.shape[1:]}, "
                          f"not {(h2, w2)}: delete the hint cache, it was built for other photos")
        return photo, np.ascontiguousarray(teacher), feats


def val_pairs(holdout: list[Path], cache: TeacherCache, n: int, multiple: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Held-out (photo, teacher) pairs at scale 1, cropped to the size multiple."""
    src = PairSource(holdout, cache)
    out = []
    for i in range(min(n, len(holdout))):
        photo, teacher = src(i, 1.0)
        h, w = (photo.shape[0] // multiple) * multiple, (photo.shape[1] // multiple) * multiple
        out.append((photo[:h, :w], teacher[:h, :w]))
    return out


# --------------------------------------------------------------------------- training


def add_noise(x: torch.Tensor | list[torch.Tensor], max_sigma: float,
              generator: torch.Generator | None = None) -> torch.Tensor | list[torch.Tensor]:
    """Camera-like noise on the student's input: per image, Gaussian noise of σ uniform in
    0..``max_sigma`` levels, clipped to [-1, 1] (the teacher's target stays the clean photo's, so
    the student learns not to pass sensor noise on: steady output on a still scene). ``x``: NCHW
    or a list of CHW RGB in [-1, 1] on the CPU; ``generator``: where the randomness comes from."""
    def one(a: torch.Tensor) -> torch.Tensor:
        n = a.shape[0] if a.dim() == 4 else 1
        sigma = torch.rand(n, *([1] * 3), generator=generator) * (max_sigma / 127.5)
        if a.dim() == 3:
            sigma = sigma[0]
        noise = torch.randn(a.shape, generator=generator, dtype=a.dtype)
        return (a + noise * sigma).clamp_(-1.0, 1.0)
    return one(x) if isinstance(x, torch.Tensor) else [one(a) for a in x]


def grow_as_identity(model: nn.Module, missing_keys: list[str]) -> list[str]:
    """After a non-strict load into a grown student: every module whose weights were all missing and
    that can (``reset_identity``, e.g. lite's residual blocks) starts as the identity, so the grown
    student computes exactly what its parent did. Returns the names of those modules."""
    missing = set(missing_keys)
    grown = []
    for name, mod in model.named_modules():
        reset = getattr(mod, "reset_identity", None)
        keys = [f"{name}.{k}" for k in mod.state_dict()]
        if name and callable(reset) and keys and all(k in missing for k in keys):
            reset()
            grown.append(name)
    return grown


def distill_step(
    S: nn.Module, Sd: nn.Module, D: nn.Module | None, Dd: nn.Module | None, vgg: nn.Module | None,
    x: torch.Tensor | list[torch.Tensor], t: torch.Tensor | list[torch.Tensor], opt_s: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer | None, scaler_s: torch.amp.GradScaler, scaler_d: torch.amp.GradScaler,
    lw: LossCfg, device: torch.device, dtype: torch.dtype | None, grad_clip: float = 0.0, d_crop: int = 0,
    x_alt: torch.Tensor | list[torch.Tensor] | None = None, generator: torch.Generator | None = None,
    hint: HintTerm | None = None,
) -> dict[str, torch.Tensor]:
    """One distillation step. ``x``: photo crops, ``t``: teacher outputs for them (N x 3 x H x W RGB
    in [-1, 1]), or lists of 3 x H_i x W_i whole images (each term is then the mean over images).
    ``S``/``D`` are the plain modules, ``Sd``/``Dd`` their DDP wrappers (or the same).

    Loss = ``pixel·L1(S(x), t) + edge·gradL1 [+ ink·blackhat quantile] [+ ink_f1·(1 − soft ink F1)]
    [+ shift·equivariance]
    [+ feat·L1(Φ(S(x)), Φ(t))] [+ gan·LSGAN_G]`` (``ink_pixel`` weights the L1 on the teacher's
    lines); with a discriminator, D is updated first (teacher outputs real, student outputs fake,
    and with ``lw.gan_blur`` the teacher outputs with blurred edges fake too, CartoonGAN's
    edge-promoting loss). ``d_crop`` > 0: D sees one random window of that size per image (the same
    window of teacher, student and blurred teacher), which keeps a whole-image run's D cheap.
    ``x_alt`` (with ``lw.steady``): the same photos as ``x`` with other camera noise; the term
    ``steady·L1(S(x), S(x_alt))`` charges the student for what noise changes in its output.
    ``generator`` (CPU) draws the D windows and the shift: a run that resumes draws the same.
    ``hint`` (with ``lw.hint``, whole images): ``hint·MSE(A(s), f)`` between the student's
    1/2-resolution features s, through the adapter A, and the teacher's f (training/hints.py).
    """
    if isinstance(x, torch.Tensor):
        pairs = [(x, t)]
    else:
        pairs = [(a[None], b[None]) for a, b in zip(x, t, strict=True)]

    def mean(terms: list[torch.Tensor]) -> torch.Tensor:
        return terms[0] if len(terms) == 1 else torch.stack(terms).mean()

    if hint is not None:
        hint.grab.outs.clear()
        hint.grab.on = True
    try:
        with autocast(device, dtype):
            ys = [Sd(a) for a, _ in pairs]
    finally:
        if hint is not None:
            hint.grab.on = False
    rec: dict[str, torch.Tensor] = {}
    windows = []
    for (a, _) in pairs:
        r, c = L.random_window(d_crop, a.shape, generator) if d_crop else (0, 0)
        windows.append((slice(r, r + d_crop) if d_crop else slice(None), slice(c, c + d_crop) if d_crop else slice(None)))
    if D is not None and Dd is not None and opt_d is not None:
        d_terms = []
        for (a, b), y, (wr, wc) in zip(pairs, ys, windows, strict=True):
            b_w, y_w = b[..., wr, wc], y.detach()[..., wr, wc]
            parts = [b_w, y_w] + ([L.edge_smoothed(b_w)] if lw.gan_blur > 0 else [])
            with autocast(device, dtype):
                logits = Dd(torch.cat(parts))
            real, fake, *blurred = logits.float().split(a.shape[0])
            d = L.lsgan_pair_d_loss(real, fake)
            if blurred:
                d = d + lw.gan_blur * blurred[0].pow(2).mean()
            d_terms.append(d)
        d_loss = mean(d_terms)
        optimizer_step(d_loss, opt_d, scaler_d, list(D.parameters()), grad_clip)
        rec["d_loss"] = d_loss.detach()
    # Each image's black-hat maps, once for the ink terms that need them (teacher's: a constant;
    # student's: differentiable), instead of once per term: ~20 % of a step with all three on.
    with torch.no_grad():
        bts = [L.blackhat(b) if lw.ink_pixel > 0 or lw.ink > 0 or lw.ink_f1 > 0 else None for _, b in pairs]
    bss = [L.blackhat(y) if lw.ink > 0 and lw.ink_f1 > 0 else None for y in ys]
    if lw.ink_pixel > 0:
        pix = mean([L.ink_weighted_pixel_loss(y, b, lw.ink_pixel, teacher_bh=bt)
                    for (_, b), y, bt in zip(pairs, ys, bts, strict=True)])
    else:
        pix = mean([L.pixel_loss(y, b) for (_, b), y in zip(pairs, ys, strict=True)])
    edge = mean([L.edge_loss(y, b) for (_, b), y in zip(pairs, ys, strict=True)])
    loss = lw.pixel * pix + lw.edge * edge
    rec.update(pixel=pix.detach(), edge=edge.detach())
    if lw.ink > 0:
        ink = mean([L.ink_loss(y, b, lw.ink_quantile, student_bh=bs, teacher_bh=bt)
                    for (_, b), y, bs, bt in zip(pairs, ys, bss, bts, strict=True)])
        loss = loss + lw.ink * ink
        rec["ink"] = ink.detach()
    if lw.ink_f1 > 0:
        f1_terms = [L.ink_f1_loss(y, b, softness=lw.ink_f1_softness, student_bh=bs, teacher_bh=bt)
                    for (_, b), y, bs, bt in zip(pairs, ys, bss, bts, strict=True)]
        ink_f1 = mean(f1_terms)
        loss = loss + lw.ink_f1 * ink_f1
        rec["ink_f1"] = ink_f1.detach()
    if lw.steady > 0:
        if x_alt is None:
            raise ValueError("loss.steady needs x_alt: the photos with other camera noise")
        alts = [x_alt] if isinstance(x_alt, torch.Tensor) else [a[None] for a in x_alt]
        st = []
        for a2, y in zip(alts, ys, strict=True):
            with autocast(device, dtype):
                y2 = Sd(a2)
            st.append(F.l1_loss(y2.float(), y.float()))
        steady = mean(st)
        loss = loss + lw.steady * steady
        rec["steady"] = steady.detach()
    if lw.shift > 0:
        k = int(torch.randint(1, 8, (), generator=generator).item())
        sh = []
        for (a, _), y in zip(pairs, ys, strict=True):
            w = (a.shape[-1] - 8) // 8 * 8  # a window k px to the right; its output must be y moved by k
            with autocast(device, dtype):
                y_k = Sd(a[..., k : k + w])
            sh.append(L.shift_loss(y_k, y[..., k : k + w]))
        shift = mean(sh)
        loss = loss + lw.shift * shift
        rec["shift"] = shift.detach()
    if hint is not None and lw.hint > 0:
        if len(hint.grab.outs) != len(pairs) or len(hint.feats) != len(pairs):
            raise ValueError("loss.hint needs one set of teacher features per image, and a lite student")
        h_terms = [hint_loss(hint.adapter, s, f) for s, f in zip(hint.grab.outs, hint.feats, strict=True)
                   if f.shape[0] > 0]
        hterm = mean(h_terms) if h_terms else torch.zeros((), device=device)
        loss = loss + lw.hint * hterm
        rec["hint"] = hterm.detach()
    if vgg is not None:
        f_terms = []
        for (_, b), y in zip(pairs, ys, strict=True):
            with autocast(device, dtype):
                f_y = vgg(y)
                with torch.no_grad():
                    f_t = vgg(b)
            f_terms.append(L.feature_loss(f_y, f_t))
        feat = mean(f_terms)
        loss = loss + lw.feat * feat
        rec["feat"] = feat.detach()
    if D is not None:
        D.requires_grad_(False)
        try:
            a_terms = []
            for y, (wr, wc) in zip(ys, windows, strict=True):
                with autocast(device, dtype):
                    g_logits = D(y[..., wr, wc])
                a_terms.append(L.lsgan_g_loss(g_logits))
            adv = mean(a_terms)
            loss = loss + lw.gan * adv
            rec["g_adv"] = adv.detach()
            optimizer_step(loss, opt_s, scaler_s, list(S.parameters()), grad_clip)
        finally:
            D.requires_grad_(True)
    else:
        optimizer_step(loss, opt_s, scaler_s, list(S.parameters()), grad_clip)
    rec["total"] = loss.detach()
    return rec


def _hint_arch(cfg: Config, teacher: str) -> str:
    """The teacher's arch, if ``loss.hint`` can be used with this configuration; else a ConfigError."""
    if cfg.data.size != 0 or sorted(float(s) for s in cfg.data.scales) != [1.0]:
        raise ConfigError("loss.hint (teacher feature hints) needs whole images at scale 1: "
                          "data.size = 0 and data.scales = [1.0]")
    if cfg.model.arch != "lite":
        raise ConfigError(f"loss.hint needs a lite student (its 1/2-resolution features), not {cfg.model.arch}")
    from cartoon_cam.inference.catalog import load_style

    arch = load_style(teacher).manifest.arch
    if arch not in HINT_LAYERS:
        raise ConfigError(f"loss.hint needs a teacher of arch {', '.join(HINT_LAYERS)} (its features are read "
                          f"in PyTorch); {Path(teacher).name} is {arch}")
    return arch


def _hint_cache(cfg: Config, cache: TeacherCache, teacher: str, train_files: list[Path]) -> HintCache:
    """The teacher's 1/2-resolution features of every training photo (computed once, cached beside
    its outputs) for ``loss.hint``."""
    hc = HintCache(cache.dir, _hint_arch(cfg, teacher))
    by_key = {cache.key(p): p for p in train_files}
    hc.build(teacher, list(by_key), lambda k: load_photo(by_key[k], cache.max_side),
             threads=cfg.train.threads or None, show_progress=cfg.train.progress)
    return hc


def _inherit_teacher_metadata(cfg: Config, teacher: str) -> None:
    """Name, attribution and licence of the export default to the teacher's (a distilled model
    carries its teacher's terms; the photos' terms apply too)."""
    try:
        from cartoon_cam.inference.catalog import load_style

        tm = load_style(teacher).manifest
        t_name, t_attr, t_lic = tm.name, tm.attribution, tm.licence
    except Exception:  # metadata is best effort
        t_name, t_attr, t_lic = Path(teacher).stem, "", ""
    if not cfg.export.name:
        cfg.export.name = f"{t_name} ({cfg.model.arch})"
    if not cfg.export.attribution:
        cfg.export.attribution = f"distilled from {t_name}" + (f" — {t_attr}" if t_attr else "")
    if not cfg.export.licence and t_lic:
        cfg.export.licence = t_lic
    if not cfg.export.licence:
        log.warning("exported style has no licence: set --licence (it follows the teacher's and the photos' terms)")


def distill(
    cfg: Config, out: str | Path, teacher: str, *, resume: str | None = None, stop_after: int | None = None,
    allow_config_change: bool = False, teacher_device: str = "auto", teacher_backend: str = "auto",
) -> dict[str, Any]:
    """Distil ``teacher`` (style id or file) into ``cfg.model.arch``; returns a summary."""
    try:
        return _distill(cfg, Path(out), teacher, resume, stop_after, allow_config_change, teacher_device,
                        teacher_backend)
    finally:
        cleanup_distributed()


def _distill(cfg: Config, out: Path, teacher: str, resume: str | None, stop_after: int | None, allow_change: bool,
             teacher_device: str, teacher_backend: str) -> dict[str, Any]:
    run = Run("distill", cfg, out, resume=resume, stop_after=stop_after, allow_change=allow_change)
    info, device = run.info, run.device
    if not cfg.data.photos:
        raise ConfigError("distill needs photos: --photos DIR")
    if cfg.loss.steady > 0 and cfg.data.noise <= 0:
        raise ConfigError("loss.steady compares two noisy copies of a photo: set data.noise (e.g. 6)")
    if cfg.model.d_crop % 4:
        raise ConfigError(f"model.d_crop {cfg.model.d_crop} must be a multiple of 4 (the discriminator's stride)")
    if run.ckpt is not None:
        teacher = teacher or run.ckpt["teacher"]
    if not teacher:
        raise ConfigError("distill needs a teacher: --teacher STYLE (style id or model file)")
    if cfg.loss.hint > 0:
        _hint_arch(cfg, teacher)  # before any work: a configuration that cannot use hints fails now
    run.create()

    # ---------------------------------------------------------------- data + teacher cache
    crop, batch = cfg.data.size, cfg.train.batch
    multiple = arch_info(cfg.model.arch).size_multiple
    if crop % multiple:
        raise ConfigError(f"data.size {crop} must be a multiple of {multiple} for {cfg.model.arch}")
    if crop == 0 and info.enabled:
        raise ConfigError("whole-image distillation (data.size 0) runs in one process: drop torchrun")
    train_files, holdout = split_photos(cfg.data.photos, cfg.train.seed, cfg.data.holdout, cfg.data.max_photos)
    if info.is_main:
        (run.dir.root / "holdout.txt").write_text("".join(f"{p}\n" for p in holdout), encoding="utf-8")
    scales = sorted({float(s) for s in cfg.data.scales} | {1.0}, reverse=True)
    cache = TeacherCache(Path(cfg.data.teacher_cache) if cfg.data.teacher_cache else run.dir.root / "teacher_cache",
                         teacher, cfg.data.photo_max_side)
    t_cache = time.perf_counter()
    sizes = cache.build(train_files + holdout, scales, info, device=teacher_device, backend=teacher_backend,
                        show_progress=cfg.train.progress, threads=cfg.train.threads or None)
    t_cache = time.perf_counter() - t_cache
    if info.is_main:  # written now, so that `eval --run` also works on a run in progress
        (run.dir.root / "distill.json").write_text(json.dumps({"teacher": teacher, "holdout": [str(p) for p in holdout],
                                                               "cache": str(cache.dir)}, indent=2), encoding="utf-8")
    hint_cache = None
    if cfg.loss.hint > 0:
        hint_cache = _hint_cache(cfg, cache, teacher, train_files)
    ds = PairCropDataset(PairSource(train_files, cache, hint_cache), len(train_files), cfg.data.scales, crop,
                         [sizes[str(p)] for p in train_files], hflip=cfg.data.hflip, multiple=multiple)
    total = cfg.train.steps

    # ---------------------------------------------------------------- models
    run.seed()
    S = create_model(cfg.model.arch, **cfg.model.arch_config)
    if cfg.model.init_from and run.ckpt is None:
        # a student may grow new modules (e.g. lite's ink branch, which starts as a no-op): those
        # keep their fresh initialisation; a weight the student does not have is an error
        parent = load_generator_weights(cfg.model.init_from)
        widen = getattr(S, "widen_state_dict", None)
        if callable(widen):  # a wider student (e.g. lite's widths) starts as its narrower parent
            try:
                adapted = widen(parent)
            except ValueError as e:
                raise ConfigError(f"--init-from {cfg.model.init_from}: {e}") from None
            widened = sorted(k for k in parent if adapted[k].shape != parent[k].shape)
            if widened:
                log.info("initialised from %s; widened (new channels start as no-ops): %s", cfg.model.init_from,
                         ", ".join(sorted({k.rsplit(".", 1)[0] for k in widened})))
            parent = adapted
        res = S.load_state_dict(parent, strict=False)
        if res.unexpected_keys and cfg.model.init_prune:
            log.info("initialised from %s; pruned (not in this student): %s", cfg.model.init_from,
                     ", ".join(sorted({".".join(k.split(".")[:2]) for k in res.unexpected_keys})))
        elif res.unexpected_keys:
            raise ConfigError(f"--init-from {cfg.model.init_from}: weights this {cfg.model.arch} student does not "
                              f"have: {', '.join(res.unexpected_keys[:5])}")
        if res.missing_keys:
            grown = grow_as_identity(S, res.missing_keys)
            log.info("initialised from %s; new modules start fresh: %s%s", cfg.model.init_from,
                     ", ".join(sorted({k.rsplit('.', 1)[0] for k in res.missing_keys})),
                     f" (residual blocks {', '.join(grown)} start as the identity)" if grown else "")
    S.train().to(device)
    lw, o = cfg.loss, cfg.optim
    use_gan, use_feat = lw.gan > 0, lw.feat > 0
    D = Discriminator(cfg.model.d_ch, cfg.model.d_layers, cfg.model.d_sn).train().to(device) if use_gan else None
    vgg = None
    if use_feat:
        from .vgg import load_vgg

        vgg = load_vgg(cfg.vgg.weights, seed=cfg.train.seed).to(device)
    hint = None
    if hint_cache is not None:  # the adapter learns with the student (one Adam), is saved, never exported
        adapter = HintAdapter(S.c1, hint_cache.channels(cache.key(train_files[0]))).train().to(device)
        hint = HintTerm(adapter, FeatureGrab(S.refine))
    betas = (o.beta1, o.beta2)
    opt_s = torch.optim.Adam(list(S.parameters()) + (list(hint.adapter.parameters()) if hint else []), lr=o.lr,
                             betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=o.lr_d, betas=(0.5, 0.999)) if D is not None else None
    dtype = run.dtype
    scalers = run.scalers("s", "d")
    state: dict[str, Stateful] = {"G": S, "opt_s": opt_s}
    if D is not None and opt_d is not None:
        state.update(D=D, opt_d=opt_d)
    if hint is not None:
        state["hint_adapter"] = hint.adapter
    start = run.register(state, scalers, meta=lambda step: {"teacher": teacher})
    if hint is not None and hint_cache is not None and start == 0:
        src = PairSource(train_files, cache, hint_cache)
        samples = []
        for i in range(min(16, len(train_files))):
            photo, _, f = src(i, 1.0)
            h, w = photo.shape[0] // multiple * multiple, photo.shape[1] // multiple * multiple
            samples.append((to_tensor(photo[:h, :w])[None].to(device), torch.from_numpy(np.array(f)).to(device)))
        S.eval()
        r2 = fit_adapter(hint.adapter, S, hint.grab, samples)
        S.train()
        log.info("hint: the student's 1/2-resolution features explain %.1f %% of the teacher's (a linear "
                 "read-out fitted on %d photos starts the adapter)", 100 * r2, len(samples))
    Sd = run.wrap(S)
    Dd = run.wrap(D) if D is not None else None
    val = val_pairs(holdout or train_files, cache, cfg.data.n_val, multiple) if info.is_main else []
    it = infinite_loader(ds, StreamBatchSampler(len(ds), batch, seed=cfg.train.seed, stream=10, rank=info.rank,
                                                world_size=info.world_size, start_step=start), cfg.data.num_workers,
                         collate_fn=list_collate if crop == 0 else None)
    log.info("distill: teacher %s → %s; %d train / %d held-out photos; crop %s, scales %s, batch %d x %d, %d steps, "
             "device %s, amp %s", teacher, cfg.model.arch, len(train_files), len(holdout), crop or "whole images", cfg.data.scales,
             batch, info.world_size, total, device, dtype)

    def step(i: int) -> dict[str, torch.Tensor]:
        set_lr(opt_s, scheduled_lr(o.lr, i, total, o.schedule, o.warmup_steps))
        x, t, *feats = next(it)
        # this step's noise, D windows and shift: a function of (seed, step, rank), so a resumed run
        # draws exactly what an uninterrupted one would have (the global RNG is also used by the loader)
        g = torch.Generator().manual_seed((cfg.train.seed * 1_000_003 + i) * 1024 + info.rank)
        x_alt = add_noise(x, cfg.data.noise, g) if lw.steady > 0 else None  # the same scene, other noise
        if cfg.data.noise > 0:
            x = add_noise(x, cfg.data.noise, g)
        if crop == 0:
            x, t = [v.to(device, non_blocking=True) for v in x], [v.to(device, non_blocking=True) for v in t]
            x_alt = [v.to(device, non_blocking=True) for v in x_alt] if x_alt is not None else None
        else:
            x, t = x.to(device, non_blocking=True), t.to(device, non_blocking=True)
            x_alt = x_alt.to(device, non_blocking=True) if isinstance(x_alt, torch.Tensor) else None
        if hint is not None:
            hint.feats = [f.to(device, non_blocking=True) for f in feats[0]]
        return distill_step(S, Sd, D, Dd, vgg, x, t, opt_s, opt_d, scalers["s"], scalers["d"], lw, device, dtype,
                            o.grad_clip, d_crop=cfg.model.d_crop, x_alt=x_alt, generator=g, hint=hint)

    def validate(step: int) -> None:
        if not val:
            return
        S.eval()
        with torch.no_grad():
            outs = [to_uint8(S(to_tensor(p)[None].to(device))) for p, _ in val]
        S.train()
        save_grid(run.dir.samples / f"step_{step:07d}.jpg", [[p, t, s] for (p, t), s in zip(val, outs, strict=True)])

    def export(step: int) -> list[Path]:
        _inherit_teacher_metadata(cfg, teacher)
        source = f"cartoon-cam-train distill from {Path(teacher).name} (preset {cfg.preset or 'custom'}, step {step})"
        return export_generator(unwrap(S).cpu().state_dict(), cfg, run.dir.export, source=source,
                                thumbnail_input=val[0][0] if val else None)

    def fields(i: int) -> dict[str, Any]:
        return {"phase": "distill", "lr": opt_s.param_groups[0]["lr"]}

    run.loop(total, step, every=max(1, total // 10), fields=fields, validate=validate, show=("total", "pixel"))
    return run.finish(export, note=f" (teacher cache {t_cache:.1f} s)", extra={"teacher_seconds": t_cache})


__all__ = ["DistInfo", "PairSource", "TeacherCache", "distill", "grow_as_identity", "load_photo", "scale_image", "split_photos"]
