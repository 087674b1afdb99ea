"""Nothing is lost: no command writes over one of its inputs, and no command replaces an existing
file unless ``--overwrite`` is given — checked for every command that writes a file, so a new
output option without the rule fails here."""

from __future__ import annotations

import argparse
import hashlib
import os
from pathlib import Path

import av
import numpy as np
import pytest

from cartoon_cam.cli import build_parser, main
from cartoon_cam.files import check_output, same_file, unique_path

#: Options that name a file a command writes (argparse ``dest``), and positional outputs.
OUTPUT_DESTS = {"output", "record", "onnx", "screenshot"}


def digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def write_clip(path: Path, frames: int = 10, fps: int = 10, w: int = 64, h: int = 48) -> Path:
    with av.open(str(path), "w") as c:
        st = c.add_stream("mpeg4", rate=fps)
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        for i in range(frames):
            img = np.full((h, w, 3), (16 * i) % 256, np.uint8)
            for pkt in st.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(pkt)
        for pkt in st.encode():
            c.mux(pkt)
    return path


def write_png(path: Path, w: int = 48, h: int = 32) -> Path:
    import cv2

    img = np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), img)
    return path


# ------------------------------------------------------------------ live --record vs --source


@pytest.mark.parametrize("spelling", ["same", "dotdot", "hardlink", "symlink"])
def test_live_never_records_over_its_source(tmp_path: Path, capsys, spelling: str) -> None:
    clip = write_clip(tmp_path / "v.mp4")
    before = digest(clip)
    (tmp_path / "sub").mkdir()
    target = {"same": clip, "dotdot": tmp_path / "sub" / ".." / "v.mp4",
              "hardlink": tmp_path / "hard.mp4", "symlink": tmp_path / "soft.mp4"}[spelling]
    if spelling == "hardlink":
        os.link(clip, target)
    elif spelling == "symlink":
        target.symlink_to(clip)
    for extra in ([], ["--overwrite"]):  # --overwrite never allows writing over the input
        rc = main(["live", "--source", str(clip), "--style", "classic", "--record", str(target),
                   "--duration", "5", "--stats-every", "0", *extra])
        err = capsys.readouterr().err
        assert rc == 2, err
        assert "is the input" in err and "refusing to write over an input" in err
        assert "[recorder]" not in err and "[source_opened]" not in err  # nothing was opened
    assert digest(clip) == before


def test_live_refuses_an_existing_recording_without_overwrite(tmp_path: Path, capsys) -> None:
    out = tmp_path / "old.mp4"
    out.write_bytes(b"precious")
    rc = main(["live", "--source", "demo", "--style", "classic", "--record", str(out), "--duration", "1",
               "--stats-every", "0"])
    err = capsys.readouterr().err
    assert rc == 2 and "exists (use --overwrite to replace it)" in err
    assert out.read_bytes() == b"precious"
    rc = main(["live", "--source", "demo", "--style", "classic", "--record", str(out), "--duration", "1",
               "--stats-every", "0", "--overwrite"])
    assert rc == 0, capsys.readouterr().err
    with av.open(str(out)) as c:
        assert c.streams.video


# ------------------------------------------------------------------ the class: every output of every command


def _cases(tmp: Path) -> dict[str, tuple[list[str], Path]]:
    """command name → (argv with ``{out}`` as output, the output path)."""
    img, clip = write_png(tmp / "in.png"), write_clip(tmp / "in.mp4")
    hayao = Path(__file__).resolve().parents[1] / "resources" / "styles"
    style = next(iter(sorted(hayao.glob("*.onnx"))), None)
    cases = {
        "convert image": (["convert", str(img), "-o", "{out}", "--style", "classic"], tmp / "o.png"),
        "convert video": (["convert", str(clip), "-o", "{out}", "--style", "classic"], tmp / "o.mp4"),
        "live --record": (["live", "--source", "demo", "--style", "classic", "--record", "{out}",
                           "--duration", "1", "--stats-every", "0"], tmp / "r.mp4"),
        "window --screenshot": (["--source", "demo", "--style", "classic", "--screenshot", "{out}",
                                 "--quit-after", "0"], tmp / "s.png"),
    }
    if style is not None:
        cases["styles export"] = (["styles", "export", str(style), "--onnx", "{out}", "--no-check"], tmp / "e.onnx")
    return cases


@pytest.mark.parametrize("name", ["convert image", "convert video", "live --record", "window --screenshot",
                                  "styles export"])
def test_no_command_replaces_an_existing_file_without_overwrite(tmp_path: Path, capsys, name: str) -> None:
    cases = _cases(tmp_path)
    if name not in cases:
        pytest.skip("no built-in ONNX style to export")
    argv, out = cases[name]
    out.write_bytes(b"precious")
    rc = main([a.replace("{out}", str(out)) for a in argv])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert out.read_bytes() == b"precious", f"{name} replaced an existing file"
    assert "--overwrite" in err


def test_styles_export_never_writes_over_the_style_it_reads(tmp_path: Path, capsys) -> None:
    styles = Path(__file__).resolve().parents[1] / "resources" / "styles"
    src = next(iter(sorted(styles.glob("*.onnx"))), None)
    if src is None:
        pytest.skip("no built-in ONNX style")
    copy = tmp_path / src.name
    copy.write_bytes(src.read_bytes())
    before = digest(copy)
    rc = main(["styles", "export", str(copy), "--onnx", str(copy), "--no-check", "--overwrite"])
    err = capsys.readouterr().err
    assert rc == 2 and "refusing to write over an input" in err
    assert digest(copy) == before


def test_convert_never_writes_over_another_input_of_the_batch(tmp_path: Path, capsys) -> None:
    """``convert a/x.png b/x.png -o a/`` would write a/x.png (b's output) over input a/x.png."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = write_png(tmp_path / "a" / "x.png")
    before = digest(a)
    write_png(tmp_path / "b" / "y.png")
    rc = main(["convert", str(a), str(tmp_path / "b" / "y.png"), "-o", str(tmp_path / "a"), "--style", "classic",
               "--overwrite"])
    err = capsys.readouterr().err
    assert rc == 2 and "refusing to write over an input" in err
    assert digest(a) == before


def test_every_output_option_comes_with_overwrite() -> None:
    """The class of bug: a command that writes a file must have --overwrite (and so the rule)."""
    parser = build_parser()

    def walk(p: argparse.ArgumentParser, name: str) -> None:
        dests = {a.dest for a in p._actions}
        outs = dests & OUTPUT_DESTS
        if outs:
            assert "overwrite" in dests, f"'{name}' writes {sorted(outs)} but has no --overwrite"
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                for sub_name, sub in a.choices.items():
                    walk(sub, f"{name} {sub_name}".strip())

    walk(parser, "cartoon-cam")


# ------------------------------------------------------------------ the rule itself, and the window's names


def test_check_output_and_same_file(tmp_path: Path) -> None:
    a = tmp_path / "a.mp4"
    a.write_bytes(b"x")
    os.link(a, tmp_path / "b.mp4")
    assert same_file(a, tmp_path / "b.mp4") and same_file(a, tmp_path / "." / "a.mp4")
    assert not same_file(a, tmp_path / "c.mp4")
    with pytest.raises(Exception, match="refusing to write over an input"):
        check_output(tmp_path / "b.mp4", inputs=[a], overwrite=True)
    with pytest.raises(Exception, match="exists"):
        check_output(a)
    assert check_output(a, overwrite=True) == a
    with pytest.raises(Exception, match="is a folder"):
        check_output(tmp_path, overwrite=True)


def test_unique_path_never_names_an_existing_file(tmp_path: Path) -> None:
    p = tmp_path / "cartoon-cam_2024-05-01_12-00-00.mp4"
    assert unique_path(p) == p
    p.write_bytes(b"1")
    q = unique_path(p)
    assert q.name == "cartoon-cam_2024-05-01_12-00-00-2.mp4"
    q.write_bytes(b"2")
    assert unique_path(p).name == "cartoon-cam_2024-05-01_12-00-00-3.mp4"


def test_converted_files_get_the_umask_mode(tmp_path: Path) -> None:
    img, clip = write_png(tmp_path / "in.png"), write_clip(tmp_path / "in.mp4")
    old = os.umask(0o022)
    try:
        assert main(["convert", str(img), str(clip), "-o", str(tmp_path / "out"), "--style", "classic"]) == 0
    finally:
        os.umask(old)
    for name in ("in.png", "in.mp4"):
        assert (tmp_path / "out" / name).stat().st_mode & 0o777 == 0o644, name
