"""Evaluation: PSNR/SSIM of a student against its teacher, speed, and FID/KID against a style set.

All images here are uint8 HxWx3 **RGB**. FID/KID need an Inception feature extractor the user
provides (nothing is downloaded): a TorchScript file (e.g. NVIDIA's ``inception-2015-12-05.pt`` used
by StyleGAN/clean-fid, called with ``return_features=True``), a ``torch.export`` program (``.pt2``)
or an ONNX model; each maps N x 3 x 299 x 299 float32 RGB in [0, 255] to N x D features.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

log = logging.getLogger("training")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between two uint8 images (peak 255); ``inf`` when identical."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM (Wang et al. 2004: Gaussian window 11x11, σ 1.5, K1 0.01, K2 0.03, L 255),
    averaged over channels and valid pixels (the window fits inside the image)."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    vals = []
    for ch in range(a.shape[2]):
        x, y = a[:, :, ch].astype(np.float64), b[:, :, ch].astype(np.float64)

        def blur(z: np.ndarray) -> np.ndarray:
            return cv2.GaussianBlur(z, (11, 11), 1.5)[5:-5, 5:-5]

        mx, my = blur(x), blur(y)
        sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
        m = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
        vals.append(m.mean())
    return float(np.mean(vals))


# --------------------------------------------------------------------------- look metrics
# Definitions of issue 11, on uint8 HxWx3 RGB images of the same size; L = OpenCV RGB2GRAY luma.

INK_KERNEL = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
INK_THRESHOLD = 28  # black-hat response (levels) above which a pixel counts as drawn ink


def luma(img: np.ndarray) -> np.ndarray:
    """uint8 HxWx3 RGB → uint8 HxW luma (``cv2.COLOR_RGB2GRAY``)."""
    return cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)


def ink_mask(img: np.ndarray) -> np.ndarray:
    """Drawn dark lines of a uint8 HxWx3 RGB image: ``blackhat(L, 7x7 ellipse) > 28`` → bool HxW."""
    return cv2.morphologyEx(luma(img), cv2.MORPH_BLACKHAT, INK_KERNEL) > INK_THRESHOLD


def _dilate(mask: np.ndarray, k: int) -> np.ndarray:
    return cv2.dilate(mask.astype(np.uint8), np.ones((k, k), np.uint8)) > 0


def ink_scores(student: np.ndarray, teacher: np.ndarray) -> dict[str, float]:
    """Ink agreement of ``student`` with ``teacher`` (uint8 HxWx3 RGB, same size), 1-pixel tolerance.

    precision = |S ∩ dilate3x3(T)| / |S|, recall = |T ∩ dilate3x3(S)| / |T|, F1 = 2PR / (P + R),
    ratio = mean(S) / mean(T) (S, T: the :func:`ink_mask` of each). A teacher without ink gives
    recall 1 and ratio ``inf`` (or 1 if the student has none either); a student without ink gives
    precision 1 and F1 0 when the teacher has ink.
    """
    s, t = ink_mask(student), ink_mask(teacher)
    ns, nt = int(s.sum()), int(t.sum())
    p = float((s & _dilate(t, 3)).sum() / ns) if ns else 1.0
    r = float((t & _dilate(s, 3)).sum() / nt) if nt else 1.0
    f1 = 2 * p * r / (p + r) if p + r > 0 else 0.0
    ratio = ns / nt if nt else (1.0 if ns == 0 else float("inf"))
    return {"ink_precision": p, "ink_recall": r, "ink_f1": f1, "ink_ratio": float(ratio)}


def texture(img: np.ndarray, outside: np.ndarray) -> float:
    """Mean |L − GaussianBlur(L, σ 1.5)| (levels) over the pixels where ``outside`` is True."""
    lum = luma(img).astype(np.float32)
    d = np.abs(lum - cv2.GaussianBlur(lum, (0, 0), 1.5))
    return float(d[outside].mean()) if outside.any() else 0.0


def flatness_ratio(student: np.ndarray, teacher: np.ndarray) -> float:
    """Photo texture left in flat regions: :func:`texture` of the student over the teacher's, both
    outside ``dilate5x5`` of the teacher's ink (≤ 1.2 is the target: about as flat as the teacher)."""
    outside = ~_dilate(ink_mask(teacher), 5)
    t = texture(teacher, outside)
    return texture(student, outside) / t if t > 0 else float("inf")


def noise_flicker_ratio(process: Callable[[np.ndarray], np.ndarray], photo: np.ndarray, frames: int = 16,
                        sigma: float = 3.0, seed: int = 0) -> float:
    """How much a style amplifies sensor noise on a still picture.

    ``frames`` copies of ``photo`` (uint8 HxWx3 RGB), each with independent Gaussian noise of
    ``sigma`` levels (rounded, clipped to 0..255), go through ``process`` (uint8 RGB → uint8 RGB of
    the same size); the mean over pixels and channels of the per-pixel standard deviation over time
    of the outputs, divided by the same for the inputs. < 1: the style calms noise down.
    """
    rng = np.random.default_rng(seed)
    base = photo.astype(np.float32)
    ins, outs = [], []
    for _ in range(frames):
        x = np.clip(np.rint(base + rng.normal(0.0, sigma, base.shape)), 0, 255).astype(np.uint8)
        ins.append(x)
        outs.append(np.asarray(process(np.ascontiguousarray(x))))
    s_in = np.stack(ins).astype(np.float32).std(axis=0).mean()
    s_out = np.stack(outs).astype(np.float32).std(axis=0).mean()
    return float(s_out / s_in)


def pan_error(process: Callable[[np.ndarray], np.ndarray], photo: np.ndarray, crop: tuple[int, int] = (256, 256),
              shifts: Sequence[int] = range(1, 8), border: int = 16) -> float:
    """Mean absolute error (levels) between the output of a crop moved k pixels right and the
    output of the crop itself moved by k, 16-pixel border ignored, averaged over k = 1…7.

    ``photo``: uint8 HxWx3 RGB. The crop (``crop`` = (h, w), shrunk to fit and to a multiple of 8)
    is taken from the centre; "moved k right" is the window k pixels further left in the photo, so
    its content sits k pixels to the right. A style whose lines stay put when the camera moves by a
    pixel scores near 0.
    """
    h, w = photo.shape[:2]
    k_max = max(shifts)
    ch = min(crop[0], h) // 8 * 8
    cw = min(crop[1], w - k_max) // 8 * 8
    if ch < 2 * border + 8 or cw < 2 * border + k_max + 8:
        raise ValueError(f"pan_error: photo {w}x{h} too small for a {crop[1]}x{crop[0]} crop")
    y0, x0 = (h - ch) // 2, k_max + (w - k_max - cw) // 2
    first = np.asarray(process(np.ascontiguousarray(photo[y0 : y0 + ch, x0 : x0 + cw]))).astype(np.float32)
    errs = []
    for k in shifts:
        moved = np.asarray(process(np.ascontiguousarray(photo[y0 : y0 + ch, x0 - k : x0 - k + cw]))).astype(np.float32)
        # moved[:, j] shows what first[:, j - k] shows
        a = moved[border : ch - border, border + k : cw - border]
        b = first[border : ch - border, border : cw - border - k]
        errs.append(np.abs(a - b).mean())
    return float(np.mean(errs))


LOOK_TARGETS = {  # issue 11: what a built-in real-time style must reach against its teacher
    "psnr": (">=", 23.0), "ink_f1": (">=", 0.80), "ink_ratio": ("in", (0.8, 1.25)),
    "flatness_ratio": ("<=", 1.2), "noise_flicker": ("<=", 0.30), "pan_error": ("<=", 3.0),
}


def check_targets(results: dict[str, Any], targets: dict[str, tuple[str, Any]] = LOOK_TARGETS) -> dict[str, bool]:
    """Which of ``targets`` the metric values in ``results`` meet (absent metrics are left out)."""
    out = {}
    for k, (op, v) in targets.items():
        x = results.get(k)
        if x is None or not np.isfinite(x):
            continue
        out[k] = bool(x >= v if op == ">=" else x <= v if op == "<=" else v[0] <= x <= v[1])
    return out


def time_backend(process: Callable[[np.ndarray], Any], h: int = 360, w: int = 640, runs: int = 10,
                 warmup: int = 2) -> dict[str, float]:
    """Median ms/frame of ``process`` on an h x w uint8 RGB frame (after ``warmup`` runs)."""
    rng = np.random.default_rng(0)
    frame = np.ascontiguousarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    for _ in range(warmup):
        process(frame)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        process(frame)
        times.append((time.perf_counter() - t) * 1000)
    ms = float(np.median(times))
    return {"ms_per_frame": ms, "fps": 1000.0 / ms, "height": h, "width": w}


def eval_against_teacher(
    student: str | Path, teacher: str | Path | None, photos: Sequence[Path], *, max_side: int = 0,
    cache: Any = None, backend: str = "auto", device: str = "cpu", speed_size: tuple[int, int] | None = (360, 640),
    runs: int = 10, rows: list[list[np.ndarray]] | None = None, steady: int = 4, teacher_steady: int = 0,
    baseline: str | Path | None = None,
) -> dict[str, Any]:
    """Fidelity and look of ``student`` against ``teacher`` on ``photos`` (both run at each photo's
    own size through the app's backends), and the student's speed at ``speed_size`` (None: skipped).

    Per photo, averaged: PSNR, SSIM, :func:`ink_scores` (``ink_f1``, ``ink_ratio``, precision,
    recall) and :func:`flatness_ratio`. On the first ``steady`` photos: :func:`noise_flicker_ratio`
    (``noise_flicker``) and :func:`pan_error`; the same for the teacher on ``teacher_steady`` photos
    (``teacher_noise_flicker``, ``teacher_pan_error``; slow for big teachers). ``cache``: a
    ``TeacherCache`` whose scale-1 outputs are used instead of running the teacher. ``rows``: if
    given, gets one ``[photo, teacher, student]`` row (uint8 RGB) per photo, for a comparison grid;
    with a ``baseline`` style (e.g. the previous version of the student) the rows are
    ``[photo, teacher, baseline, student]`` and the result gains ``baseline_psnr`` / ``baseline_ink_f1``.
    ``targets`` in the result says which of :data:`LOOK_TARGETS` are met."""
    from cartoon_cam.inference.backends import create_backend
    from cartoon_cam.inference.catalog import load_style

    from .distill import load_photo

    s_backend = create_backend(load_style(student), backend=backend, device=device)
    t_backend = None

    def at_own_size(b: Any) -> Callable[[np.ndarray], np.ndarray]:
        def run(img: np.ndarray) -> np.ndarray:
            b.size = max(img.shape[:2])
            return b.process(img)
        return run

    def teacher_backend() -> Any:
        nonlocal t_backend
        if t_backend is None:
            if teacher is None:
                raise ValueError("eval needs --teacher (or a run with a teacher cache)")
            t_backend = create_backend(load_style(teacher), backend=backend, device=device)
        return t_backend

    b_backend = create_backend(load_style(baseline), backend=backend, device=device) if baseline else None
    try:
        per: dict[str, list[float]] = {}
        student_run = at_own_size(s_backend)
        for i, p in enumerate(photos):
            photo = load_photo(p, max_side)
            y = student_run(photo)
            t_path = cache.path(p, 1.0) if cache is not None else None
            if t_path is not None and t_path.is_file():
                t = np.ascontiguousarray(cv2.imread(str(t_path))[:, :, ::-1])
            else:
                t = at_own_size(teacher_backend())(photo)
            vals = {"psnr": psnr(y, t), "ssim": ssim(y, t), **ink_scores(y, t), "flatness_ratio": flatness_ratio(y, t)}
            if i < steady:
                vals.update(noise_flicker=noise_flicker_ratio(student_run, photo), pan_error=pan_error(student_run, photo))
            if i < teacher_steady:
                t_run = at_own_size(teacher_backend())
                vals.update(teacher_noise_flicker=noise_flicker_ratio(t_run, photo),
                            teacher_pan_error=pan_error(t_run, photo))
            yb = at_own_size(b_backend)(photo) if b_backend is not None else None
            if yb is not None:
                vals.update(baseline_psnr=psnr(yb, t), baseline_ink_f1=ink_scores(yb, t)["ink_f1"])
            for k, v in vals.items():
                per.setdefault(k, []).append(v)
            if rows is not None:
                rows.append([photo, t, y] if yb is None else [photo, t, yb, y])
        s_backend.size = None
        speed = time_backend(s_backend.process, *speed_size, runs=runs) if speed_size else {}
        res: dict[str, Any] = {"photos": len(photos)}
        for k, v in per.items():
            res[k] = float(np.mean(v))
        res["psnr_min"] = float(np.min(per["psnr"])) if per else float("nan")
        res["ink_f1_min"] = float(np.min(per["ink_f1"])) if per else float("nan")
        if not per:
            res.update(psnr=float("nan"), ssim=float("nan"))
        res.update(backend=s_backend.describe(), **speed)
        res["targets"] = check_targets(res)
        return res
    finally:
        s_backend.close()
        for b in (t_backend, b_backend):
            if b is not None:
                b.close()


# --------------------------------------------------------------------------- FID / KID


def frechet_distance(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """``|μ1-μ2|² + tr(Σ1 + Σ2 - 2 (Σ1 Σ2)^½)``; the trace term via the symmetric form
    ``tr((Σ1^½ Σ2 Σ1^½)^½)`` (eigenvalues, float64; no scipy needed)."""
    w, v = np.linalg.eigh(s1)
    r1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = r1 @ s2 @ r1
    tr_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum()
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt)


def fid_from_features(f1: np.ndarray, f2: np.ndarray) -> float:
    """FID between two N x D feature sets (unbiased covariance, as pytorch-fid)."""
    f1, f2 = f1.astype(np.float64), f2.astype(np.float64)
    return frechet_distance(f1.mean(0), np.atleast_2d(np.cov(f1, rowvar=False)),
                            f2.mean(0), np.atleast_2d(np.cov(f2, rowvar=False)))


def kid_from_features(f1: np.ndarray, f2: np.ndarray, subsets: int = 100, subset_size: int = 1000,
                      seed: int = 0) -> tuple[float, float]:
    """KID (unbiased MMD², cubic polynomial kernel ``(x·y/D + 1)³``) averaged over random subsets;
    returns (mean, std)."""
    f1, f2 = f1.astype(np.float64), f2.astype(np.float64)
    d = f1.shape[1]
    m = min(subset_size, len(f1), len(f2))
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(subsets):
        x = f1[rng.choice(len(f1), m, replace=False)]
        y = f2[rng.choice(len(f2), m, replace=False)]
        kxx, kyy, kxy = (x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3
        mmd = ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (m * (m - 1)) - 2 * kxy.mean()
        vals.append(mmd)
    return float(np.mean(vals)), float(np.std(vals))


class InceptionFeatures:
    """User-supplied Inception feature extractor (TorchScript ``.pt``/``.pth``, ``.pt2`` or ``.onnx``).

    TorchScript and ``torch.export`` files are loaded with ``torch.jit.load`` / ``torch.export.load``,
    not ``weights_only``: they are programs, so only trusted files are safe. ONNX is the safe choice.
    """

    def __init__(self, path: str | Path, device: str = "cpu") -> None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"Inception weights not found: {path}. FID/KID need a feature extractor you provide: a "
                "TorchScript file such as NVIDIA's inception-2015-12-05.pt (StyleGAN/clean-fid) or an ONNX model "
                "mapping Nx3x299x299 RGB in [0, 255] to NxD features.")
        suffix = path.suffix.lower()
        self.kind = "onnx" if suffix == ".onnx" else "torch"
        if self.kind == "onnx":
            import onnxruntime as ort

            self.sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            self.input = self.sess.get_inputs()[0].name
            return
        import torch

        self.torch = torch
        self.device = torch.device(device)
        if suffix == ".pt2":
            self.model = torch.export.load(str(path)).module().to(self.device)
        else:
            with warnings.catch_warnings():  # torch.jit is deprecated but NVIDIA's file is TorchScript
                warnings.simplefilter("ignore", DeprecationWarning)
                self.model = torch.jit.load(str(path), map_location=self.device).eval()

    def __call__(self, images: Sequence[np.ndarray], batch: int = 16) -> np.ndarray:
        """uint8 RGB images (any size) → N x D float64 features (inputs resized to 299x299)."""
        feats = []
        for i in range(0, len(images), batch):
            x = np.stack([cv2.resize(im, (299, 299), interpolation=cv2.INTER_AREA if min(im.shape[:2]) > 299
                                     else cv2.INTER_CUBIC) for im in images[i : i + batch]])
            x = np.ascontiguousarray(x.transpose(0, 3, 1, 2).astype(np.float32))
            if self.kind == "onnx":
                f = self.sess.run(None, {self.input: x})[0]
            else:
                t = self.torch.from_numpy(x).to(self.device)
                with self.torch.no_grad():
                    try:
                        f = self.model(t, return_features=True)
                    except (RuntimeError, TypeError):
                        f = self.model(t)
                f = f.float().cpu().numpy()
            feats.append(f.reshape(f.shape[0], -1))
        return np.concatenate(feats).astype(np.float64)


def eval_fid_kid(
    style: str | Path, photos: Sequence[Path], style_images: Sequence[Path], inception: str | Path, *,
    max_side: int = 512, backend: str = "auto", device: str = "cpu",
) -> dict[str, Any]:
    """FID/KID of ``style``'s outputs on ``photos`` against ``style_images`` (stylisation) and
    against the input photos (content preservation)."""
    from cartoon_cam.inference.backends import create_backend
    from cartoon_cam.inference.catalog import load_style

    from .distill import load_photo

    net = InceptionFeatures(inception, device=device)
    b = create_backend(load_style(style), backend=backend, device=device)
    try:
        inputs = [load_photo(p, max_side) for p in photos]
        outs = []
        for im in inputs:
            b.size = max(im.shape[:2])
            outs.append(b.process(im))
    finally:
        b.close()
    f_gen = net(outs)
    f_style = net([load_photo(p, max_side) for p in style_images])
    f_photo = net(inputs)
    kid_s = kid_from_features(f_gen, f_style)
    kid_p = kid_from_features(f_gen, f_photo)
    return {"fid_style": fid_from_features(f_gen, f_style), "kid_style": kid_s[0], "kid_style_std": kid_s[1],
            "fid_photo": fid_from_features(f_gen, f_photo), "kid_photo": kid_p[0], "kid_photo_std": kid_p[1],
            "n_generated": len(outs), "n_style": len(style_images)}
