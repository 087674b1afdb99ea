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
    cache: Any = None, backend: str = "auto", device: str = "cpu", speed_size: tuple[int, int] = (360, 640),
    runs: int = 10, rows: list[list[np.ndarray]] | None = None,
) -> dict[str, Any]:
    """PSNR/SSIM of ``student`` vs ``teacher`` on ``photos`` (run at each photo's own size through the
    app's backends) and the student's speed at ``speed_size``. ``cache``: a ``TeacherCache`` whose
    scale-1 outputs are used instead of running the teacher. ``rows``: if given, gets one
    ``[photo, teacher, student]`` row (uint8 RGB) per photo, for a comparison grid."""
    from cartoon_cam.inference.backends import create_backend
    from cartoon_cam.inference.catalog import load_style

    from .distill import load_photo

    s_backend = create_backend(load_style(student), backend=backend, device=device)
    t_backend = None
    try:
        ps, ss = [], []
        for p in photos:
            photo = load_photo(p, max_side)
            s_backend.size = max(photo.shape[:2])
            y = s_backend.process(photo)
            t_path = cache.path(p, 1.0) if cache is not None else None
            if t_path is not None and t_path.is_file():
                t = np.ascontiguousarray(cv2.imread(str(t_path))[:, :, ::-1])
            else:
                if t_backend is None:
                    if teacher is None:
                        raise ValueError("eval needs --teacher (or a run with a teacher cache)")
                    t_backend = create_backend(load_style(teacher), backend=backend, device=device)
                t_backend.size = max(photo.shape[:2])
                t = t_backend.process(photo)
            ps.append(psnr(y, t))
            ss.append(ssim(y, t))
            if rows is not None:
                rows.append([photo, t, y])
        s_backend.size = None
        speed = time_backend(s_backend.process, *speed_size, runs=runs)
        return {"photos": len(ps), "psnr": float(np.mean(ps)) if ps else float("nan"),
                "ssim": float(np.mean(ss)) if ss else float("nan"), "psnr_min": float(np.min(ps)) if ps else float("nan"),
                "backend": s_backend.describe(), **speed}
    finally:
        s_backend.close()
        if t_backend is not None:
            t_backend.close()


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
