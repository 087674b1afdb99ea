"""Arguments shared by several subcommands."""

from __future__ import annotations

import argparse

from ..errors import InputError
from ..inference.backends import BACKENDS, DEVICES
from ..limits import MAX_INFERENCE_SIZE, MIN_INFERENCE_SIZE, check_inference_size

SIZE_HELP = (f"inference size: pixels on the longer side, {MIN_INFERENCE_SIZE}..{MAX_INFERENCE_SIZE} "
             "(default: the style's recommendation)")


def positive_size(text: str) -> int:
    """``--size`` as argparse type: an int within :mod:`cartoon_cam.limits`."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid size {text!r}: expected pixels, e.g. 512") from None
    try:
        return int(check_inference_size(v, "size"))  # type: ignore[arg-type]
    except InputError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_backend_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", type=positive_size, default=None, metavar="N", help=SIZE_HELP)
    p.add_argument("--backend", choices=[b for b in BACKENDS if b != "classic"], default="auto",
                   help="inference backend (default: auto = fastest available)")
    p.add_argument("--device", default="auto", metavar="DEVICE",
                   help=f"{', '.join(DEVICES)} or an ONNX Runtime provider such as directml/coreml (default: auto)")
