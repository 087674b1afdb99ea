"""``cartoon-cam styles list | import | remove | export``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError, OutputError

NAME = "styles"
HELP = "list, import, remove and export styles"


def _range(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH such as -1,1 or 0,1, got {text!r}") from None
    if lo >= hi:
        raise argparse.ArgumentTypeError("LOW must be below HIGH")
    return lo, hi


def register(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="styles_cmd", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="list built-in and imported styles")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    imp = sub.add_parser("import", help="validate a model file and add it to your styles")
    imp.add_argument("path", metavar="PATH", help=".pt/.pth (AnimeGANv2, CartoonGAN ports), .npz, .safetensors or .onnx")
    imp.add_argument("--id", help="style id (default: from the file name)")
    imp.add_argument("--name", help="display name")
    imp.add_argument("--arch", help="architecture when it cannot be detected (animeganv2, cartoongan, lite)")
    imp.add_argument("--layout", choices=["NCHW", "NHWC"], help="ONNX tensor layout (default: detected)")
    imp.add_argument("--color", choices=["RGB", "BGR"], help="colour order the network expects")
    imp.add_argument("--range", type=_range, dest="value_range", metavar="LOW,HIGH",
                     help="value range of the network's input/output (default -1,1)")
    imp.add_argument("--multiple", type=int, dest="size_multiple", help="required size multiple (default: probed)")
    imp.add_argument("--size", type=int, dest="recommended_size", help="recommended inference size (long side)")
    imp.add_argument("--licence", help="licence of the weights")
    imp.add_argument("--attribution", help="authors / source of the weights")
    imp.add_argument("--replace", action="store_true", help="replace an imported style with the same id")
    rm = sub.add_parser("remove", help="remove an imported style")
    rm.add_argument("id")
    ex = sub.add_parser("export", help="export a style to ONNX (checked against PyTorch)")
    ex.add_argument("id", help="style id or model file")
    ex.add_argument("--onnx", required=True, metavar="OUT", help="output .onnx file")
    ex.add_argument("--fp16", action="store_true", help="half-precision weights (for GPU providers)")
    ex.add_argument("--no-check", action="store_true", help="skip the ONNX Runtime vs PyTorch check")
    ex.add_argument("--overwrite", action="store_true", help="replace an existing OUT file")


def run(args: argparse.Namespace) -> int:
    from ..inference.catalog import StyleCatalog

    cat = StyleCatalog()
    cmd = args.styles_cmd
    if cmd == "list":
        entries = cat.entries()
        if args.json:
            import json

            print(json.dumps([{"id": e.id, "name": e.manifest.name, "arch": e.manifest.arch,
                               "tier": e.manifest.tier, "recommended_size": e.manifest.recommended_size,
                               "builtin": e.builtin, "path": str(e.path), "licence": e.manifest.licence,
                               "attribution": e.manifest.attribution} for e in entries], indent=2))
            return 0
        rows = [("ID", "NAME", "ARCH", "TIER", "SIZE", "WHERE", "LICENCE")]
        for e in entries:
            m = e.manifest
            rows.append((e.id, m.name, m.arch, m.tier, str(m.recommended_size),
                         "built-in" if e.builtin else "imported", m.licence or "-"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        print(f"\ndefault on this machine: {cat.default_style_id()}    user styles: {cat.user_dir}")
        return 0
    if cmd == "import":
        from ..inference.importers import ImportOptions

        if args.id is not None:
            from ..inference.style import valid_id

            if not valid_id(args.id):
                raise InputError(f"invalid id {args.id!r}: use lowercase letters, digits, '_' or '-'")
        opts = ImportOptions(id=args.id, name=args.name, arch=args.arch, layout=args.layout, color=args.color,
                             value_range=args.value_range, size_multiple=args.size_multiple,
                             recommended_size=args.recommended_size, licence=args.licence,
                             attribution=args.attribution)
        e = cat.import_file(args.path, opts, replace=args.replace)
        m = e.manifest
        print(f"imported {e.id!r} ({m.name}; {m.arch}, {m.layout} {m.color}, multiple {m.size_multiple}"
              f"{', fixed ' + 'x'.join(map(str, m.fixed_size)) if m.fixed_size else ''}) → {e.path}")
        return 0
    if cmd == "remove":
        path = cat.remove(args.id)
        print(f"removed {args.id!r} ({path})")
        return 0
    if cmd == "export":
        from ..inference.export import export_onnx

        out = Path(args.onnx)
        if out.suffix.lower() != ".onnx":
            raise InputError(f"{out}: the output file must end in .onnx")
        sf = cat.resolve(args.id)
        from ..files import check_output

        check_output(out, inputs=[sf.path] if sf.path else [], overwrite=args.overwrite, what="--onnx")
        try:  # fail before the (slow) export when the destination cannot exist
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"{out}: cannot write ({e.strerror or e})") from None
        res = export_onnx(sf, out, fp16=args.fp16, check=not args.no_check)
        msg = f"exported {sf.id!r} → {out}"
        if res is not None:
            msg += (f" (checked against PyTorch at {', '.join(f'{h}x{w}' for h, w in res.sizes)}: "
                    f"max diff {res.max_abs_diff} levels, mean {res.mean_abs_diff:.3f})")
        print(msg)
        return 0
    raise InputError(f"unknown styles action {cmd!r}")
