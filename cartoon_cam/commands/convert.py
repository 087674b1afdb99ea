"""``cartoon-cam convert``: images, folders and videos in batch."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputError
from ._common import add_backend_args

NAME = "convert"
HELP = "cartoonize images, folders and videos"


def register(p: argparse.ArgumentParser) -> None:
    from ..limits import describe_limits

    p.epilog = (f"Limits: {describe_limits()}. Exit status: 0 every input converted; 2 an input could not "
                "be used or was truncated, or an output exists without --overwrite; 1 runtime failure; "
                "130 Ctrl-C.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image / video files or folders")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output folder, or a file name when converting a single input")
    p.add_argument("--style", required=True, metavar="STYLE", help="style id (see `styles list`) or a model file")
    add_backend_args(p)
    p.add_argument("--side-by-side", action="store_true", help="write original | cartoon side by side")
    p.add_argument("--recursive", action="store_true", help="descend into sub-folders")
    exist = p.add_mutually_exclusive_group()
    exist.add_argument("--overwrite", action="store_true",
                       help="replace existing output files (an input is never written over)")
    exist.add_argument("--skip-existing", action="store_true",
                       help="leave inputs whose output file already exists (e.g. to finish an interrupted batch)")
    p.add_argument("--keep-partial", action="store_true",
                   help="keep what converts of a truncated or corrupt video (the exit status is 2 anyway)")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..inference.backends import create_backend
    from ..inference.catalog import StyleCatalog
    from ..media.convert import PARTIAL_KEPT, collect_inputs, plan_outputs, run_batch

    files, problems = collect_inputs(args.inputs, recursive=args.recursive)
    for path, why in problems:
        print(f"cartoon-cam: error: {path}: {why}", file=sys.stderr)
    if not files:
        raise InputError("nothing to convert")
    out = Path(args.output)
    jobs = plan_outputs(files, out, single_file_ok=len(args.inputs) == 1 and Path(args.inputs[0]).is_file())
    skipped = 0
    if args.skip_existing:
        kept = [j for j in jobs if not j.dst.exists()]
        skipped, jobs = len(jobs) - len(kept), kept
        if not jobs:
            if not getattr(args, "quiet", False):
                print(f"nothing to do: all {skipped} output(s) exist (--skip-existing)")
            return 0
    style = StyleCatalog().resolve(args.style)
    backend = create_backend(style, backend=args.backend, device=args.device, size=args.size)
    show = not getattr(args, "quiet", False) and sys.stderr.isatty()
    bar = tqdm(total=len(jobs), unit="file", disable=not show, file=sys.stderr, dynamic_ncols=True)
    frame_bar: dict[str, tqdm] = {}

    def on_progress(job, n, total):  # video frames
        fb = frame_bar.get("v")
        if fb is None:
            fb = frame_bar["v"] = tqdm(total=total, unit="frame", desc=job.src.name, leave=False,
                                       disable=not show, file=sys.stderr, dynamic_ncols=True)
        fb.update(n - fb.n)

    def on_done(job, err):
        fb = frame_bar.pop("v", None)
        if fb is not None:
            fb.close()
        if err:
            kind = "warning" if err.endswith(PARTIAL_KEPT) else "error"
            tqdm.write(f"cartoon-cam: {kind}: {err}", file=sys.stderr)
        bar.update(1)

    try:
        rep = run_batch(backend, jobs, side_by_side=args.side_by_side, overwrite=args.overwrite,
                        keep_partial=args.keep_partial, on_progress=on_progress, on_done=on_done)
    finally:
        bar.close()
        backend.close()
    n_img = sum(j.kind == "image" for j in rep.done)
    n_vid = len(rep.done) - n_img
    fps = rep.frames / rep.seconds if rep.seconds > 0 else 0.0
    failed = len(rep.failed) + len(problems)
    say = (lambda *a, **k: None) if getattr(args, "quiet", False) else print
    say(f"converted {len(rep.done)} file(s) ({n_img} image(s), {n_vid} video(s), {rep.frames} frame(s)) "
          f"in {rep.seconds:.1f} s ({fps:.1f} frames/s) with style {style.id!r} on {backend.describe()}"
          + (f"; {failed} failed" if failed else "")
          + (f"; {skipped} skipped (output exists)" if skipped else "")
          + (f"; {len(rep.partial)} truncated (kept in part)" if rep.partial else ""))
    return 2 if failed or rep.partial else 0
