"""Export a trained generator as a style file the app loads (``RUN_DIR/export/<id>.safetensors``)."""

from __future__ import annotations

import base64
import io
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from cartoon_cam.inference.registry import arch_info, create_model
from cartoon_cam.inference.style import StyleManifest, slugify, write_onnx_style, write_torch_style

from .config import Config, from_dict
from .runtime import load_checkpoint

log = logging.getLogger("training")


def centre_square(img: np.ndarray) -> np.ndarray:
    """The largest centred square of an HxWxC image (a view)."""
    h, w = img.shape[:2]
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    return img[y0 : y0 + s, x0 : x0 + s]


def thumbnail_b64(rgb: np.ndarray, size: int = 128) -> str:
    """Base64 JPEG (quality 85) of a uint8 HxWx3 RGB image, centre-cropped square, ``size`` px."""
    sq = cv2.resize(centre_square(rgb), (size, size), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(sq[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 85])
    return base64.b64encode(buf.tobytes()).decode("ascii") if ok else ""


def build_manifest(cfg: Config, *, source: str, thumbnail: str = "", arch: str | None = None) -> StyleManifest:
    """Manifest of an exported generator from the run's config (``export`` section)."""
    arch = arch or cfg.model.arch
    info = arch_info(arch)
    name = cfg.export.name or cfg.data.style or cfg.export.id or "trained style"
    style_id = cfg.export.id or slugify(name)
    lite = arch == "lite"
    rec = cfg.export.recommended_size or (640 if lite else 512)
    return StyleManifest(
        id=style_id, name=name, arch=arch, arch_config=dict(cfg.model.arch_config), color=info.color,
        size_multiple=info.size_multiple, recommended_size=rec, tier="lite" if lite else "quality",
        description=cfg.export.description or f"{info.description}; trained with cartoon-cam-train",
        licence=cfg.export.licence, attribution=cfg.export.attribution, source=source, thumbnail=thumbnail,
    )


def export_generator(
    state_dict: dict[str, torch.Tensor], cfg: Config, out_dir: Path, *, source: str,
    thumbnail_input: np.ndarray | None = None,
) -> list[Path]:
    """Write ``<out_dir>/<id>.safetensors`` (and ``<id>.onnx`` with ``export.onnx``).

    ``thumbnail_input``: uint8 HxWx3 RGB photo run through the generator for the manifest thumbnail.
    The generator is rebuilt from the registry and loaded strictly, so a mismatching state dict fails
    here rather than in the app. Every file is built (and the ONNX model checked) and staged in a
    temp folder before any is renamed into place, so a failure leaves ``out_dir`` as it was.
    """
    model = create_model(cfg.model.arch, **cfg.model.arch_config)
    model.load_state_dict(state_dict, strict=True)
    thumb = ""
    if thumbnail_input is not None:
        thumb = thumbnail_b64(run_generator(model, thumbnail_input, arch_info(cfg.model.arch).size_multiple))
    manifest = build_manifest(cfg, source=source, thumbnail=thumb)
    proto = build_onnx(model, manifest) if cfg.export.onnx else None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{manifest.id}.safetensors"] + ([out_dir / f"{manifest.id}.onnx"] if proto is not None else [])
    with tempfile.TemporaryDirectory(prefix=".export.", dir=out_dir) as tmp:
        staged = [write_torch_style(Path(tmp) / paths[0].name, model.state_dict(), manifest, fp16=cfg.export.fp16)]
        if proto is not None:
            staged.append(write_onnx_style(Path(tmp) / paths[1].name, proto, onnx_manifest(manifest)))
        for src, dst in zip(staged, paths, strict=True):
            os.replace(src, dst)
    for p in paths:
        log.info("exported %s", p)
    return paths


def run_generator(model: torch.nn.Module, rgb: np.ndarray, multiple: int = 8) -> np.ndarray:
    """uint8 HxWx3 RGB → uint8 RGB of the size cropped down to ``multiple`` (CPU, float32)."""
    h, w = (rgb.shape[0] // multiple) * multiple, (rgb.shape[1] // multiple) * multiple
    x = torch.from_numpy(np.ascontiguousarray(rgb[:h, :w].transpose(2, 0, 1))).float()[None] / 127.5 - 1
    p = next(model.parameters())
    with torch.no_grad():
        y = model.eval()(x.to(p.device, p.dtype)).float().cpu()
    return np.ascontiguousarray(((y[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy())


def build_onnx(model: torch.nn.Module, manifest: StyleManifest, opset: int = 17) -> Any:
    """Export to ONNX (dynamic N/H/W) and check it against PyTorch in ONNX Runtime at two sizes
    (max abs error ≤ 1e-3); returns the checked ``onnx.ModelProto`` (nothing is written)."""
    import onnx
    import onnxruntime as ort

    model = model.float().cpu().eval()
    m = manifest.size_multiple
    x = torch.rand(1, 3, 8 * m, 12 * m) * 2 - 1
    buf = io.BytesIO()
    axes = {0: "n", 2: "h", 3: "w"}
    with warnings.catch_warnings():  # tracer/constant-folding chatter of the TorchScript exporter
        warnings.simplefilter("ignore")
        torch.onnx.export(model, x, buf, opset_version=opset, input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": axes, "output": axes}, dynamo=False)
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto)
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    for shape in ((1, 3, 8 * m, 12 * m), (1, 3, 10 * m, 6 * m)):
        t = torch.rand(*shape) * 2 - 1
        with torch.no_grad():
            ref = model(t).numpy()
        got = sess.run(None, {"input": t.numpy()})[0]
        err = float(np.abs(ref - got).max())
        if err > 1e-3:
            raise RuntimeError(f"ONNX export differs from PyTorch by {err:.2e} at {shape}")
    return proto


def onnx_manifest(manifest: StyleManifest) -> StyleManifest:
    """The manifest of the ONNX twin of a torch-architecture style."""
    return StyleManifest(**{**_manifest_dict(manifest), "arch": "onnx", "arch_config": {}})


def export_onnx(model: torch.nn.Module, manifest: StyleManifest, path: Path, opset: int = 17) -> Path:
    """:func:`build_onnx`, then write it as an ONNX style at ``path`` (atomically)."""
    return write_onnx_style(path, build_onnx(model, manifest, opset), onnx_manifest(manifest))


def _manifest_dict(m: StyleManifest) -> dict[str, Any]:
    from dataclasses import asdict

    d = asdict(m)
    d.pop("sha256", None)
    d.pop("precision", None)
    return d


def export_checkpoint(
    ckpt_path: str | Path, out_dir: str | Path, *, overrides: dict[str, Any] | None = None,
    thumbnail_input: np.ndarray | None = None,
) -> list[Path]:
    """Export the generator of a checkpoint (``last.pt`` or ``epoch_XXXX.pt``)."""
    import json

    from .config import merge

    ckpt = load_checkpoint(ckpt_path)
    cfg = from_dict(json.loads(ckpt["config"]))
    if overrides:
        cfg = merge(cfg, overrides, origin="command line")
    step = int(ckpt.get("step", 0))
    source = f"cartoon-cam-train {ckpt.get('command', 'train')} (preset {cfg.preset or 'custom'}, step {step})"
    return export_generator(ckpt["G"], cfg, Path(out_dir), source=source, thumbnail_input=thumbnail_input)


def export_style_onnx(style_path: str | Path, out_path: str | Path, *, overwrite: bool = False) -> Path:
    """Rebuild the ONNX style of a torch (``.safetensors``) style file: same weights, same manifest
    (name, description, licence, attribution, source, thumbnail), the graph as the architecture's
    code draws it today (e.g. after a faster but equivalent ``lite`` graph). Checked against PyTorch
    in ONNX Runtime like every export; ``out_path`` is replaced only with ``overwrite``."""
    from cartoon_cam.inference.style import read_style

    from .config import ConfigError

    out = Path(out_path)
    if out.exists() and not overwrite:
        raise ConfigError(f"{out} exists: pass --overwrite to replace it")
    sf = read_style(Path(style_path))
    if sf.tensors is None:
        raise ConfigError(f"{style_path} is not a torch style (.safetensors): nothing to rebuild")
    model = create_model(sf.manifest.arch, **sf.manifest.arch_config)
    model.load_state_dict({k: torch.from_numpy(v.astype(np.float32)) for k, v in sf.tensors.items()}, strict=True)
    proto = build_onnx(model, sf.manifest)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".export.", dir=out.parent) as tmp:
        staged = write_onnx_style(Path(tmp) / out.name, proto, onnx_manifest(sf.manifest))
        os.replace(staged, out)
    log.info("exported %s", out)
    return out

