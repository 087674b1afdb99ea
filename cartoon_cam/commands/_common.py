"""Arguments shared by several subcommands."""

from __future__ import annotations

import argparse

from ..inference.backends import BACKENDS, DEVICES


def positive_size(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid size {text!r}: expected pixels, e.g. 512") from None
    if not 16 <= v <= 8192:
        raise argparse.ArgumentTypeError(f"size {v} out of range (16..8192 pixels on the longer side)")
    return v


def add_backend_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", type=positive_size, default=None, metavar="N",
                   help="inference size: pixels on the longer side (default: the style's recommendation)")
    p.add_argument("--backend", choices=[b for b in BACKENDS if b != "classic"], default="auto",
                   help="inference backend (default: auto = fastest available)")
    p.add_argument("--device", default="auto", metavar="DEVICE",
                   help=f"{', '.join(DEVICES)} or an ONNX Runtime provider such as directml/coreml (default: auto)")
