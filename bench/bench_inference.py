"""Reference inference benchmark (the table in docs/PERFORMANCE.md).

Runs ``cartoon-cam bench`` over the built-in styles and the published reference models in
``../shared/models`` (read from there, never copied), on a 1280x720 camera frame.

    python bench/bench_inference.py [--device cuda] [--seconds 3] [extra cartoon-cam bench args]
"""

from __future__ import annotations

import sys
from pathlib import Path

from cartoon_cam.cli import main

SHARED = Path(__file__).resolve().parents[2] / "shared" / "models"
REFERENCE = [
    "animeganv2/random_seed0.pt",
    "cartoongan/hayao.npz",
    "animeganv3/AnimeGANv3_Shinkai_37.onnx",
    "animeganv3/AnimeGANv3_tiny_Cute.onnx",
    "whitebox/whitebox_cartoonize.onnx",
]

if __name__ == "__main__":
    from cartoon_cam.inference.catalog import StyleCatalog

    styles = StyleCatalog().ids() + [str(SHARED / m) for m in REFERENCE if (SHARED / m).exists()]
    args = ["bench", "--markdown", "--size", "256", "--size", "640", "--size", "1280"]
    for s in styles:
        args += ["--style", s]
    sys.exit(main(args + sys.argv[1:]))
