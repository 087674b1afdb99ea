"""AnimeGANv2 training: content-only init phase, then LSGAN with content/style/colour/TV losses.

Faithful to the official code (see ``/docs/TRAINING.md`` and the research brief): three independent
data streams (photos; colour + grayscale anime; grayscale smoothed anime), D updated before G on the
same generated batch, Adam(β1, β2) with constant learning rates, loss weights from the preset.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from cartoon_cam.inference.registry import arch_info, create_model

from . import losses as L
from .config import Config, ConfigError, LossCfg
from .data import (
    ImageFolderDataset,
    StreamBatchSampler,
    data_mean_shift,
    infinite_loader,
    to_tensor,
    to_uint8,
)
from .discriminator import Discriminator
from .export import export_generator
from .prep import check_layout, list_images, read_rgb, readable_images, resize_crop
from .run import Run, check_resume_config, finite_items  # noqa: F401 (both were defined here; kept importable)
from .runtime import (
    DistInfo,
    autocast,
    cleanup_distributed,
    load_checkpoint,
    optimizer_step,
    save_checkpoint,
    save_grid,
    set_lr,
    unwrap,
)
from .vgg import load_vgg

log = logging.getLogger("training")


def he_init(model: nn.Module) -> None:
    """He (fan-in, normal) init of every conv weight, as the official ``variance_scaling_initializer``."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, a=0.0, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def load_generator_weights(path: str) -> dict[str, torch.Tensor]:
    """Generator weights from a style file (``.safetensors``, or an ``.onnx`` exported by
    cartoon-cam-train, whose initializers keep the state-dict names) or a cartoon-cam-train checkpoint."""
    p = Path(path)
    if p.suffix == ".pt":
        return load_checkpoint(p)["G"]
    if p.suffix.lower() == ".onnx":
        import onnx
        from onnx import numpy_helper

        model = onnx.load(str(p))
        weights = {i.name: torch.from_numpy(numpy_helper.to_array(i).astype(np.float32).copy())
                   for i in model.graph.initializer if "." in i.name and not i.name.startswith("onnx::")}
        if not weights:
            raise ConfigError(f"{p.name}: no named weights (not an ONNX style exported by cartoon-cam-train)")
        return weights
    from cartoon_cam.inference.style import read_style

    sf = read_style(p)
    if sf.tensors is None:
        raise ConfigError(f"{p.name}: not a torch-architecture style")
    return {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in sf.tensors.items()}


def val_images(cfg: Config, fallback: list[Path], size: int) -> list[np.ndarray]:
    """Validation photos (uint8 RGB, ``size`` x ``size``): ``data.val``, else ``root/val``, else the
    first training photos."""
    folder = Path(cfg.data.val) if cfg.data.val else Path(cfg.data.root) / "val"
    files = readable_images(list_images(folder), f"images in {folder}") if folder.is_dir() else []
    files = (files or fallback)[: max(1, cfg.data.n_val)]
    return [resize_crop(read_rgb(f), size) for f in files]


@torch.no_grad()
def generate(model: nn.Module, images: list[np.ndarray], device: torch.device) -> list[np.ndarray]:
    """Run a generator on uint8 RGB images (one at a time) → uint8 RGB images."""
    out = []
    for im in images:
        y = model(to_tensor(im)[None].to(device))
        out.append(to_uint8(y))
    return out


@dataclass
class GanNets:
    """Generator / discriminator (plain modules), their DDP wrappers (or the same modules) and VGG."""

    G: nn.Module
    D: nn.Module
    Gd: nn.Module
    Dd: nn.Module
    vgg: nn.Module


def init_step(
    n: GanNets, photo: torch.Tensor, opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler, lw: LossCfg,
    device: torch.device, dtype: torch.dtype | None, grad_clip: float = 0.0,
) -> dict[str, torch.Tensor]:
    """One init-phase step: ``con · L1(Φ(p), Φ(G(p)))``. ``photo``: N x 3 x H x W RGB in [-1, 1].
    Returns detached loss tensors."""
    with autocast(device, dtype):
        fake = n.Gd(photo)
        with torch.no_grad():
            f_photo = n.vgg(photo)
        f_fake = n.vgg(fake)
    con = L.content_loss(f_photo, f_fake)
    loss = lw.con * con
    optimizer_step(loss, opt, scaler, list(n.G.parameters()), grad_clip)
    return {"content": con.detach(), "g_total": loss.detach()}


def gan_step(
    n: GanNets, photo: torch.Tensor, anime: torch.Tensor, anime_gray: torch.Tensor, smooth_gray: torch.Tensor,
    opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer, scaler_g: torch.amp.GradScaler,
    scaler_d: torch.amp.GradScaler, lw: LossCfg, device: torch.device, dtype: torch.dtype | None,
    grad_clip: float = 0.0,
) -> dict[str, torch.Tensor]:
    """One GAN step, D first then G (on the same generated batch, against the updated D).

    All images N x 3 x H x W RGB in [-1, 1]: ``photo`` (content), ``anime`` (colour style images,
    D's only "real"), ``anime_gray`` / ``smooth_gray`` (grayscale style / edge-smoothed images, fakes
    for D). Returns detached loss tensors (unweighted terms and weighted totals).
    """
    with autocast(device, dtype):
        fake = n.Gd(photo)
        # D step: one batched pass (layer norm is per sample, so batching changes nothing)
        logits = n.Dd(torch.cat([anime, anime_gray, fake.detach(), smooth_gray]))
    l_real, l_gray, l_fake, l_smooth = logits.float().split(photo.shape[0])
    d_raw, d_terms = L.lsgan_d_loss(l_real, l_fake, l_gray, l_smooth, (lw.d_real, lw.d_fake, lw.d_gray, lw.d_smooth))
    d_loss = lw.d_adv * d_raw
    optimizer_step(d_loss, opt_d, scaler_d, list(n.D.parameters()), grad_clip)
    # G step (D frozen; the plain module, so DDP's D hooks stay out of it)
    n.D.requires_grad_(False)
    try:
        with autocast(device, dtype):
            g_logits = n.D(fake)
            f_fake = n.vgg(fake)
            with torch.no_grad():
                f_photo = n.vgg(photo)
                f_gray = n.vgg(anime_gray)
        adv = L.lsgan_g_loss(g_logits)
        con = L.content_loss(f_photo, f_fake)
        sty = L.style_loss(f_gray, f_fake)
        col = L.color_loss(photo, fake)
        tv = L.tv_loss(fake)
        g_loss = lw.g_adv * adv + lw.con * con + lw.sty * sty + lw.col * col + lw.tv * tv
        optimizer_step(g_loss, opt_g, scaler_g, list(n.G.parameters()), grad_clip)
    finally:
        n.D.requires_grad_(True)
    out = {"g_adv": adv, "content": con, "style": sty, "color": col, "tv": tv, "g_total": g_loss, "d_total": d_loss,
           **d_terms, "logit_real": l_real.mean(), "logit_fake": l_fake.mean()}
    return {k: v.detach() for k, v in out.items()}


def train(
    cfg: Config, out: str | Path, *, resume: str | None = None, stop_after: int | None = None,
    allow_config_change: bool = False,
) -> dict[str, Any]:
    """Run (or resume) AnimeGANv2 training into ``out``; returns a summary (steps, exported files).

    ``stop_after``: stop (with a checkpoint) once this many steps are done — an interruption for
    tests and time-boxed jobs, not part of the schedule.
    """
    try:
        return _train(cfg, Path(out), resume, stop_after, allow_config_change)
    finally:
        cleanup_distributed()


def _train(cfg: Config, out: Path, resume: str | None, stop_after: int | None, allow_change: bool) -> dict[str, Any]:
    run = Run("train", cfg, out, resume=resume, stop_after=stop_after, allow_change=allow_change)
    run.create()
    info, device = run.info, run.device

    # ---------------------------------------------------------------- data
    files = check_layout(cfg.data.root, cfg.data.style, verify=True)  # unreadable images are skipped
    photos = files["photo"][: cfg.data.max_photos or None]
    size, batch = cfg.data.size, cfg.train.batch
    if size == 0:
        raise ConfigError("train needs a crop size: data.size 0 (whole images) is for distill only")
    shift = data_mean_shift(files["style"]) if cfg.data.data_mean else None
    photo_ds = ImageFolderDataset(photos, size)
    style_ds = ImageFolderDataset(files["style"], size, gray=True, shift=shift)
    smooth_ds = ImageFolderDataset(files["smooth"], size, only_gray=True)
    gb = batch * info.world_size
    spe = cfg.train.steps_per_epoch or max(1, max(len(photo_ds), len(style_ds)) // gb)
    total = cfg.train.epochs * spe
    init_steps = min(total, cfg.train.init_epochs * spe)

    # ---------------------------------------------------------------- models
    run.seed()
    G = create_model(cfg.model.arch, **cfg.model.arch_config)
    if cfg.model.arch == "animeganv2":
        he_init(G)
    if cfg.model.init_from and run.ckpt is None:
        G.load_state_dict(load_generator_weights(cfg.model.init_from))
        init_steps = 0
        log.info("generator initialised from %s: skipping the init phase", cfg.model.init_from)
    D = Discriminator(cfg.model.d_ch, cfg.model.d_layers, cfg.model.d_sn)
    vgg = load_vgg(cfg.vgg.weights, seed=cfg.train.seed).to(device)
    G.train().to(device)
    D.train().to(device)
    o = cfg.optim
    betas = (o.beta1, o.beta2)
    opt_init = torch.optim.Adam(G.parameters(), lr=o.lr_init, betas=betas)
    opt_g = torch.optim.Adam(G.parameters(), lr=o.lr_g, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=o.lr_d, betas=betas)
    dtype = run.dtype
    scalers = run.scalers("init", "g", "d")
    if run.ckpt is not None:
        init_steps = int(run.ckpt.get("init_steps", init_steps))

    def phase(i: int) -> str:
        return "init" if i < init_steps else "gan"

    def epoch_snapshot(step: int, payload: dict[str, Any]) -> None:
        if cfg.train.keep_epochs and step % spe == 0 and step > init_steps:
            save_checkpoint(run.dir.ckpt_dir / f"epoch_{step // spe:04d}.pt",
                            {"command": "train", "step": step, "G": payload["G"], "config": payload["config"]})

    start = run.register({"G": G, "D": D, "opt_init": opt_init, "opt_g": opt_g, "opt_d": opt_d}, scalers,
                         meta=lambda step: {"init_steps": init_steps, "epoch": step // spe, "vgg": vgg.source},
                         snapshot=epoch_snapshot, phase=phase)
    nets = GanNets(G, D, run.wrap(G), run.wrap(D), vgg)
    val = val_images(cfg, photos, size) if info.is_main else []
    nw = cfg.data.num_workers
    mk = {"seed": cfg.train.seed, "rank": info.rank, "world_size": info.world_size}
    photo_it = infinite_loader(photo_ds, StreamBatchSampler(len(photo_ds), batch, stream=0, start_step=start, **mk), nw)
    style_it = smooth_it = None
    lw = cfg.loss
    log.info("train: %d photos, %d style, %d smooth; %d steps/epoch, %d steps (%d init), batch %d x %d, "
             "device %s, amp %s, vgg %s", len(photo_ds), len(style_ds), len(smooth_ds), spe, total, init_steps,
             batch, info.world_size, device, dtype, vgg.source)

    def step(i: int) -> dict[str, torch.Tensor]:
        nonlocal style_it, smooth_it
        (photo,) = next(photo_it)
        photo = photo.to(device, non_blocking=True)
        if phase(i) == "init":
            set_lr(opt_init, o.lr_init)
            return init_step(nets, photo, opt_init, scalers["init"], lw, device, dtype, o.grad_clip)
        if style_it is None:  # the style streams start with the GAN phase
            style_it = infinite_loader(style_ds, StreamBatchSampler(len(style_ds), batch, stream=1, start_step=i, **mk), nw)
            smooth_it = infinite_loader(smooth_ds, StreamBatchSampler(len(smooth_ds), batch, stream=2, start_step=i, **mk),
                                        nw)
        anime, anime_gray = (t.to(device, non_blocking=True) for t in next(style_it))
        (smooth_gray,) = (t.to(device, non_blocking=True) for t in next(smooth_it))
        return gan_step(nets, photo, anime, anime_gray, smooth_gray, opt_g, opt_d, scalers["g"], scalers["d"], lw,
                        device, dtype, o.grad_clip)

    def fields(i: int) -> dict[str, Any]:
        lr = opt_init.param_groups[0]["lr"] if phase(i) == "init" else opt_g.param_groups[0]["lr"]
        return {"epoch": i // spe, "phase": phase(i), "lr": lr}

    def validate(step: int) -> None:
        if val:
            G.eval()
            outs = generate(G, val, device)
            G.train()
            save_grid(run.dir.samples / f"step_{step:07d}.jpg", [val, outs])

    def export(step: int) -> list[Path]:
        source = f"cartoon-cam-train train (preset {cfg.preset or 'custom'}, step {step})"
        return export_generator(unwrap(G).cpu().state_dict(), cfg, run.dir.export, source=source,
                                thumbnail_input=val[0] if val else None)

    run.loop(total, step, every=spe, fields=fields, validate=validate, show=("g_total", "d_total", "content"))
    if info.enabled:
        _check_sync(G, info)
    return {**run.finish(export), "arch": arch_info(cfg.model.arch).name}


def _check_sync(model: nn.Module, info: DistInfo) -> None:
    """All ranks must hold identical weights after DDP training (raises otherwise)."""
    import torch.distributed as dist

    s = torch.stack([p.detach().double().sum() for p in model.parameters()]).sum().reshape(1)
    gathered = [torch.zeros_like(s) for _ in range(info.world_size)]
    dist.all_gather(gathered, s)
    if any(not torch.equal(g, gathered[0]) for g in gathered):
        raise RuntimeError(f"DDP ranks diverged: {[float(g) for g in gathered]}")
    log.info("DDP: %d ranks hold identical generator weights", info.world_size)
