"""``cartoon-cam-train prep | train | distill | export | eval``.

Configuration: defaults → ``--preset`` → ``--config FILE`` (TOML, or YAML with PyYAML) → flags →
``--set section.key=value``. The resolved configuration is saved as ``RUN_DIR/config.toml``.
Errors users can fix print one line and exit 2 (``--debug`` shows the traceback).
Multi-GPU / multi-process: ``torchrun --nproc-per-node N -m training.cli train ...``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .config import (
    DISTILL_DEFAULT_PRESET,
    PRESETS,
    Config,
    ConfigError,
    from_dict,
    load_file,
    merge,
    parse_set,
)
from .config import apply_preset as _apply_preset
from .config import resolve as _resolve
from .config import validate as _validate

EXIT_OK, EXIT_USAGE = 0, 2
log = logging.getLogger("training")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


# flag dest → config key
_FLAG_KEYS = {
    "data": "data.root", "style_name": "data.style", "photos": "data.photos", "val": "data.val",
    "size": "data.size", "workers": "data.num_workers", "max_photos": "data.max_photos",
    "teacher_cache": "data.teacher_cache", "photo_max_side": "data.photo_max_side",
    "student": "model.arch", "init_from": "model.init_from", "vgg": "vgg.weights",
    "epochs": "train.epochs", "init_epochs": "train.init_epochs", "batch": "train.batch",
    "steps_per_epoch": "train.steps_per_epoch", "steps": "train.steps", "seed": "train.seed",
    "device": "train.device", "amp": "train.amp", "threads": "train.threads",
    "id": "export.id", "name": "export.name", "licence": "export.licence", "attribution": "export.attribution",
    "description": "export.description",
}


def _common_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, type=Path, help="run folder (checkpoints, samples, export/)")
    p.add_argument("--config", type=Path, help="TOML (or YAML) config file")
    p.add_argument("--preset", choices=sorted(PRESETS), help="preset of settings (see docs/TRAINING.md)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override any config key (repeatable), e.g. --set loss.col=15")
    p.add_argument("--resume", nargs="?", const="auto", metavar="CKPT",
                   help="continue exactly from RUN_DIR/checkpoints/last.pt (or CKPT)")
    p.add_argument("--allow-config-change", action="store_true", help="resume even if the config changed")
    p.add_argument("--stop-after", type=int, metavar="STEPS", help="stop with a checkpoint after STEPS steps")
    p.add_argument("--size", type=int, help="training image / crop size (multiple of 8; distill: 0 = whole images)")
    p.add_argument("--batch", type=int, help="batch size per process")
    p.add_argument("--seed", type=int)
    p.add_argument("--device", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--amp", choices=["auto", "off", "bf16", "fp16"], help="mixed precision (CUDA only)")
    p.add_argument("--workers", type=int, help="data loader worker processes")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--vgg", help="VGG19 weights: Caffe vgg19.npy or torchvision vgg19 .pth ('random' for tests)")
    p.add_argument("--init-from", help="start the generator from these weights (style file or checkpoint)")
    p.add_argument("--id", help="id of the exported style")
    p.add_argument("--name", help="display name of the exported style")
    p.add_argument("--licence", help="licence of the exported style (follows your data!)")
    p.add_argument("--attribution", help="attribution text of the exported style")
    p.add_argument("--description", help="one-line description of the exported style (shown in the picker)")
    p.add_argument("--onnx", action="store_true", help="also export an ONNX style (checked in ONNX Runtime)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--tensorboard", action="store_true", help="also log to RUN_DIR/tb (needs tensorboard)")


def build_parser() -> argparse.ArgumentParser:
    from cartoon_cam import __version__

    p = _Parser(prog="cartoon-cam-train", description="Train and distil cartoon_cam styles.")
    p.add_argument("--version", action="version", version=f"cartoon-cam-train {__version__}")
    p.add_argument("--debug", action="store_true", help="full tracebacks")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    sp = sub.add_parser("prep", help=(h := "make the edge-smoothed style set (and import/resize images)"), description=h)
    sp.add_argument("--data", required=True, type=Path, help="dataset root (AnimeGAN layout)")
    sp.add_argument("--style-name", required=True, help="style folder name under the root")
    sp.add_argument("--style-src", type=Path, help="folder of anime frames to import into <style>/style")
    sp.add_argument("--photo-src", type=Path, help="folder of photos to import into train_photo")
    sp.add_argument("--size", type=int, default=0, help="resize + centre-crop to SIZE x SIZE (0 = keep)")
    sp.add_argument("--overwrite", action="store_true")

    sp = sub.add_parser("train", help=(h := "AnimeGANv2 training on an AnimeGAN-layout dataset"), description=h)
    _common_run_args(sp)
    sp.add_argument("--data", help="dataset root: train_photo/, <style>/style/, <style>/smooth/")
    sp.add_argument("--style-name", help="style folder name under the root")
    sp.add_argument("--val", help="folder of validation photos for the sample grids")
    sp.add_argument("--epochs", type=int)
    sp.add_argument("--init-epochs", type=int)
    sp.add_argument("--steps-per-epoch", type=int, help="0 = max(N_photo, N_style) // batch")
    sp.add_argument("--max-photos", type=int)

    sp = sub.add_parser("distill", help=(h := "distil a teacher style into a student generator"), description=h)
    _common_run_args(sp)
    sp.add_argument("--teacher", help="teacher: a style id, style file or published model file")
    sp.add_argument("--photos", help="folder of photos (recursive)")
    sp.add_argument("--student", help="student architecture (lite | animeganv2)")
    sp.add_argument("--steps", type=int)
    sp.add_argument("--max-photos", type=int)
    sp.add_argument("--photo-max-side", type=int, help="downscale photos to this longer side first")
    sp.add_argument("--teacher-cache", help="teacher output cache folder (default RUN_DIR/teacher_cache)")
    sp.add_argument("--teacher-device", default="auto", help="device for the teacher (auto | cpu | cuda)")
    sp.add_argument("--teacher-backend", default="auto", help="backend for the teacher (auto | torch | onnx)")

    sp = sub.add_parser("export", help=(h := "export a checkpoint's generator as a style file"), description=(
        h + "; or, with --style FILE.safetensors --onnx --out FILE.onnx, rebuild a torch style's ONNX style "
        "(same weights and manifest)"))
    src = sp.add_mutually_exclusive_group(required=True)
    src.add_argument("--ckpt", type=Path, help="RUN_DIR/checkpoints/last.pt or epoch_XXXX.pt")
    src.add_argument("--style", type=Path, help="a torch style file (.safetensors) whose ONNX style to rebuild")
    sp.add_argument("--overwrite", action="store_true", help="with --style: replace an existing --out file")
    sp.add_argument("--out", type=Path, help="output folder (default: the run's export/)")
    sp.add_argument("--id")
    sp.add_argument("--name")
    sp.add_argument("--licence")
    sp.add_argument("--attribution")
    sp.add_argument("--description")
    sp.add_argument("--recommended-size", type=int)
    sp.add_argument("--fp16", action="store_true", help="store weights as float16")
    sp.add_argument("--onnx", action="store_true", help="also write an ONNX style (checked in ONNX Runtime)")

    sp = sub.add_parser("eval", help=(h := "PSNR/SSIM vs the teacher and speed; FID/KID with Inception weights"), description=h)
    sp.add_argument("--run", type=Path, help="a distill/train run folder (finds style, teacher, held-out photos)")
    sp.add_argument("--style", help="the style to evaluate (default: the run's export)")
    sp.add_argument("--teacher", help="teacher style for PSNR/SSIM (default: the run's teacher)")
    sp.add_argument("--photos", type=Path, help="photos to evaluate on (default: the run's held-out photos)")
    sp.add_argument("--n", type=int, default=16, help="at most N photos")
    sp.add_argument("--max-side", type=int, default=0, help="downscale photos to this longer side")
    sp.add_argument("--speed", default="640x360", help="WxH frame for the speed measurement ('' = skip)")
    sp.add_argument("--runs", type=int, default=10)
    sp.add_argument("--backend", default="auto", help="auto | torch | onnx")
    sp.add_argument("--device", default="cpu")
    sp.add_argument("--inception", type=Path,
                    help="Inception feature extractor for FID/KID: .onnx (recommended), or TorchScript .pt / "
                         "torch.export .pt2, which are code and run as such: use only files you trust")
    sp.add_argument("--style-images", type=Path, help="style set for FID/KID (default: the run's <style>/style)")
    sp.add_argument("--steady", type=int, default=4, metavar="N",
                    help="noise flicker and pan error of the student on the first N photos (default 4)")
    sp.add_argument("--teacher-steady", type=int, default=0, metavar="N",
                    help="the same for the teacher on N photos, for reference (slow for big teachers)")
    sp.add_argument("--json", type=Path, help="also write the results here (default RUN_DIR/eval.json)")
    sp.add_argument("--grid", type=Path, help="write a JPEG grid: one row per photo, photo | teacher | student")
    sp.add_argument("--grid-rows", default="6", metavar="N|I,J,…",
                    help="photos in the --grid: the first N (default 6), or these indices of the photo list")
    sp.add_argument("--baseline", metavar="STYLE",
                    help="a second student (e.g. the previous version): a grid column and baseline_* metrics")
    from cartoon_cam.completion import add_completion_command

    add_completion_command(sub, build_parser)
    return p


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dest, key in _FLAG_KEYS.items():
        v = getattr(args, dest, None)
        if v is not None:
            sec, k = key.split(".")
            out.setdefault(sec, {})[k] = str(v) if isinstance(v, Path) else v
    if getattr(args, "no_progress", False):
        out.setdefault("train", {})["progress"] = False
    if getattr(args, "tensorboard", False):
        out.setdefault("train", {})["tensorboard"] = True
    if getattr(args, "onnx", False):
        out.setdefault("export", {})["onnx"] = True
    for sec, values in parse_set(getattr(args, "set", []) or []).items():
        out.setdefault(sec, {}).update(values)
    return out


def resolve_config(args: argparse.Namespace, command: str) -> Config:
    """The run's configuration (on ``--resume``: the checkpoint's, with file/flag overrides)."""
    overrides = _overrides(args)
    if args.resume:
        from .runtime import RunDir, load_checkpoint

        path = RunDir(args.out).last if args.resume == "auto" else Path(args.resume)
        cfg = from_dict(json.loads(load_checkpoint(path)["config"]))
        if args.preset:
            cfg = _apply_preset(cfg, args.preset)
        if args.config:
            cfg = merge(cfg, {k: v for k, v in load_file(args.config).items() if k != "preset"}, origin=str(args.config))
        cfg = merge(cfg, overrides, origin="command line")
        _validate(cfg)
        return cfg
    base = DISTILL_DEFAULT_PRESET if command == "distill" else ""
    cfg = _resolve(base_preset=base, config_file=args.config, preset=args.preset, overrides=overrides)
    if command == "train" and not (cfg.data.root and cfg.data.style):
        raise ConfigError("train needs --data DIR and --style-name NAME (or data.root / data.style in --config)")
    return cfg


def _cmd_prep(args: argparse.Namespace) -> int:
    from .prep import prep_dataset
    from .runtime import setup_logging

    setup_logging(None, True)
    counts = prep_dataset(args.data, args.style_name, style_src=args.style_src, photo_src=args.photo_src,
                          size=args.size, overwrite=args.overwrite)
    print(json.dumps(counts))
    return EXIT_OK


def _cmd_train(args: argparse.Namespace) -> int:
    from .trainer import train

    cfg = resolve_config(args, "train")
    res = train(cfg, args.out, resume=args.resume, stop_after=args.stop_after,
                allow_config_change=args.allow_config_change)
    _print_result(res)
    return EXIT_OK


def _cmd_distill(args: argparse.Namespace) -> int:
    from .distill import distill

    cfg = resolve_config(args, "distill")
    res = distill(cfg, args.out, args.teacher or "", resume=args.resume, stop_after=args.stop_after,
                  allow_config_change=args.allow_config_change, teacher_device=args.teacher_device,
                  teacher_backend=args.teacher_backend)
    _print_result(res)
    return EXIT_OK


def _print_result(res: dict[str, Any]) -> None:
    import os

    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(res))


def _cmd_export(args: argparse.Namespace) -> int:
    from .export import export_checkpoint
    from .runtime import setup_logging

    setup_logging(None, True)
    if args.style is not None:
        from .export import export_style_onnx

        if not args.onnx or args.out is None or args.out.suffix != ".onnx":
            raise ConfigError("export --style rebuilds an ONNX style: pass --onnx and --out FILE.onnx")
        print(json.dumps({"exported": [str(export_style_onnx(args.style, args.out, overwrite=args.overwrite))]}))
        return EXIT_OK
    ov: dict[str, Any] = {}
    for k in ("id", "name", "licence", "attribution", "description", "recommended_size"):
        if getattr(args, k) is not None:
            ov[k] = getattr(args, k)
    if args.fp16:
        ov["fp16"] = True
    if args.onnx:
        ov["onnx"] = True
    out = args.out or args.ckpt.resolve().parent.parent / "export"
    thumb = _run_thumbnail_input(args.ckpt.resolve().parent.parent)
    paths = export_checkpoint(args.ckpt, out, overrides={"export": ov} if ov else None, thumbnail_input=thumb)
    print(json.dumps({"exported": [str(p) for p in paths]}))
    return EXIT_OK


def _run_thumbnail_input(run_dir: Path) -> Any:
    """First validation photo of a run (for the export thumbnail), or None."""
    try:
        from .prep import read_rgb

        hold = run_dir / "holdout.txt"
        if hold.is_file() and (lines := hold.read_text(encoding="utf-8").split()):
            return read_rgb(lines[0])
        cfg_file = run_dir / "config.toml"
        if cfg_file.is_file():
            cfg = _resolve(config_file=cfg_file)
            from .trainer import val_images

            folder = Path(cfg.data.root) / "train_photo"
            from .prep import list_images

            return val_images(cfg, list_images(folder) if folder.is_dir() else [], cfg.data.size)[0]
    except Exception:  # a thumbnail is optional
        return None
    return None


def _grid_rows(rows: list, spec: str) -> list:
    """``spec`` "N" → the first N rows; "I,J,…" → those rows (0-based indices of the photo list)."""
    try:
        idx = [int(v) for v in spec.split(",")]
    except ValueError:
        raise ConfigError(f"--grid-rows: expected N or I,J,…, got {spec!r}") from None
    if len(idx) == 1:
        return rows[: max(1, idx[0])]
    bad = [i for i in idx if not 0 <= i < len(rows)]
    if bad:
        raise ConfigError(f"--grid-rows: no photo {bad[0]} (there are {len(rows)})")
    return [rows[i] for i in idx]


def _cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import eval_against_teacher, eval_fid_kid
    from .prep import list_images
    from .runtime import setup_logging

    setup_logging(None, True)
    run = args.run
    style, teacher, photos, cache, max_side = args.style, args.teacher, None, None, args.max_side
    cfg = None
    if run is not None:
        cfg = _resolve(config_file=run / "config.toml") if (run / "config.toml").is_file() else None
        if style is None:
            exported = sorted((run / "export").glob("*.safetensors"))
            if not exported:
                raise ConfigError(f"no exported style in {run / 'export'} (pass --style)")
            style = str(exported[0])
        info_file = run / "distill.json"
        if info_file.is_file():
            info = json.loads(info_file.read_text(encoding="utf-8"))
            teacher = teacher or info["teacher"]
            if args.photos is None:
                photos = [Path(p) for p in info["holdout"]]
            if cfg is not None:
                from .distill import TeacherCache

                max_side = max_side or cfg.data.photo_max_side
                cache = TeacherCache(Path(cfg.data.teacher_cache) if cfg.data.teacher_cache
                                     else run / "teacher_cache", teacher, cfg.data.photo_max_side)
    if style is None:
        raise ConfigError("eval needs --style PATH or --run RUN_DIR")
    if args.photos is not None:
        photos = list_images(args.photos, recursive=True)
        if not photos:
            raise ConfigError(f"no readable photos under {args.photos}")
    if photos is None and cfg is not None and cfg.data.root:
        val = Path(cfg.data.root) / "val"
        photos = list_images(val if val.is_dir() else Path(cfg.data.root) / "train_photo")
    photos = (photos or [])[: args.n]
    results: dict[str, Any] = {"style": str(style)}
    if args.grid is not None and not (teacher and photos):
        raise ConfigError("--grid needs a teacher and photos (--teacher and --photos, or a distill --run)")
    rows: list = []
    if teacher and photos:
        speed = tuple(int(v) for v in args.speed.lower().split("x"))[::-1] if args.speed else (0, 0)
        r = eval_against_teacher(style, teacher, photos, max_side=max_side, cache=cache, backend=args.backend,
                                 device=args.device, speed_size=speed if args.speed else None, runs=args.runs,
                                 rows=rows, steady=args.steady, teacher_steady=args.teacher_steady,
                                 baseline=args.baseline)
        results.update(teacher=str(teacher), **r)
        if args.grid is not None:
            from .export import centre_square
            from .runtime import save_grid

            # centre squares, so rows of different aspect line up
            save_grid(args.grid, [[centre_square(im) for im in row] for row in _grid_rows(rows, args.grid_rows)],
                      cell=256)
            results["grid"] = str(args.grid)
    elif args.speed:
        from cartoon_cam.inference.backends import create_backend
        from cartoon_cam.inference.catalog import load_style

        from .evaluate import time_backend

        w, h = (int(v) for v in args.speed.lower().split("x"))
        with create_backend(load_style(style), backend=args.backend, device=args.device) as b:
            results.update(backend=b.describe(), **time_backend(b.process, h, w, runs=args.runs))
    if args.inception is not None:
        style_dir = args.style_images
        if style_dir is None and cfg is not None and cfg.data.root and cfg.data.style:
            style_dir = Path(cfg.data.root) / cfg.data.style / "style"
        if style_dir is None or not photos:
            raise ConfigError("FID/KID need --style-images DIR and photos (--photos or --run)")
        results.update(eval_fid_kid(style, photos, list_images(style_dir, recursive=True), args.inception,
                                    max_side=max_side or 512, backend=args.backend, device=args.device))
    if len(results) == 1:
        raise ConfigError("nothing to evaluate: give --teacher and photos for PSNR/SSIM (or a distill --run), "
                          "--speed WxH for speed, or --inception for FID/KID")
    text = json.dumps(results, indent=2)
    print(text)
    out = args.json or (run / "eval.json" if run is not None else None)
    if out is not None:
        Path(out).write_text(text + "\n", encoding="utf-8")
    return EXIT_OK


_COMMANDS = {"prep": _cmd_prep, "train": _cmd_train, "distill": _cmd_distill, "export": _cmd_export,
             "eval": _cmd_eval}


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point ``cartoon-cam-train``; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "_run", None) is not None:  # `completion`
            return int(args._run(args))
        return _COMMANDS[args.command](args)
    except KeyboardInterrupt as e:
        step = getattr(e, "step", None)  # runtime.Interrupted: the finished step was checkpointed
        msg = (f"interrupted after step {step} (checkpoint saved; continue with --resume)" if step is not None
               else "aborted (a run continues from its last checkpoint with --resume)")
        print(f"cartoon-cam-train: {msg}", file=sys.stderr)
        return 130
    except ModuleNotFoundError as e:  # an install without the torch extra
        if args.debug or (e.name or "").split(".")[0] not in ("torch", "onnx", "safetensors"):
            raise
        from cartoon_cam.errors import TORCH_EXTRA

        print(f"cartoon-cam-train: error: training needs PyTorch ({e.name} is not installed): {TORCH_EXTRA}",
              file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:
        if args.debug or not _user_error(e):
            raise
        print(f"cartoon-cam-train: error: {e}", file=sys.stderr)
        return EXIT_USAGE


def _user_error(e: BaseException) -> bool:
    from cartoon_cam.errors import CartoonCamError

    from .prep import ImageReadError
    from .vgg import VGGWeightsError

    return isinstance(e, (ConfigError, VGGWeightsError, FileNotFoundError, ImageReadError, CartoonCamError))


if __name__ == "__main__":
    sys.exit(main())
