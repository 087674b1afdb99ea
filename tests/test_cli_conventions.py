"""Command-line conventions: -q/-v anywhere, convert --skip-existing, --version on both programs,
a description for every subcommand, and completion scripts generated from the parsers."""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from cartoon_cam.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO / "resources" / "demo" / "astronaut.jpg"


def _all_subparsers(p: argparse.ArgumentParser, path: str = ""):  # noqa: ANN202
    for a in p._actions:  # noqa: SLF001
        if isinstance(a, argparse._SubParsersAction):  # noqa: SLF001
            for name, sp in a.choices.items():
                yield f"{path} {name}".strip(), sp
                yield from _all_subparsers(sp, f"{path} {name}")


@pytest.mark.parametrize("argv", [["-v", "styles", "list"], ["styles", "-v", "list"], ["styles", "list", "-v"]])
def test_verbose_is_accepted_before_and_after_the_subcommand(argv: list[str], capsys) -> None:  # noqa: ANN001
    assert main(argv) == 0
    assert "hayao_lite" in capsys.readouterr().out
    stderr_handlers = [h for h in logging.getLogger().handlers if type(h).__name__ == "_StderrHandler"]
    assert stderr_handlers and stderr_handlers[0].level == logging.INFO


def test_quiet_silences_convert_and_vv_is_debug(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "a.jpg"
    assert main(["convert", str(PHOTO), "-o", str(out), "--style", "classic", "-q"]) == 0
    assert out.is_file() and capsys.readouterr().out == ""
    assert main(["-q", "convert", str(PHOTO), "-o", str(tmp_path / "b.jpg"), "--style", "classic"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["styles", "list", "-vv"]) == 0
    handler = next(h for h in logging.getLogger().handlers if type(h).__name__ == "_StderrHandler")
    assert handler.level == logging.DEBUG
    main(["styles", "list"])  # back to the default for the tests that follow
    assert handler.level == logging.WARNING


def test_skip_existing_converts_only_what_is_missing(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        shutil.copy(PHOTO, src / name)
    out = tmp_path / "out"
    out.mkdir()
    (out / "b.jpg").write_bytes(b"keep me")  # an existing output: never touched
    assert main(["convert", str(src), "-o", str(out), "--style", "classic", "--skip-existing"]) == 0
    said = capsys.readouterr().out
    assert "converted 2 file(s)" in said and "1 skipped (output exists)" in said
    assert (out / "b.jpg").read_bytes() == b"keep me"
    for name in ("a.jpg", "c.jpg"):
        img = cv2.imread(str(out / name))
        assert img is not None and img.shape == cv2.imread(str(PHOTO)).shape
    assert main(["convert", str(src), "-o", str(out), "--style", "classic", "--skip-existing"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert main(["convert", str(src), "-o", str(out), "--style", "classic"]) == 2  # without it: refused
    assert (out / "b.jpg").read_bytes() == b"keep me"
    with pytest.raises(SystemExit) as e:  # one or the other
        main(["convert", str(src), "-o", str(out), "--style", "classic", "--skip-existing", "--overwrite"])
    assert e.value.code == 2


def test_both_programs_have_version_and_every_subcommand_a_description() -> None:
    from training.cli import build_parser as train_parser

    for prog, parser in (("cartoon-cam", build_parser()), ("cartoon-cam-train", train_parser())):
        with pytest.raises(SystemExit) as e:
            parser.parse_args(["--version"])
        assert e.value.code == 0
        subs = list(_all_subparsers(parser))
        assert subs, prog
        for name, sp in subs:
            assert sp.description and len(sp.description) > 10, f"{prog} {name} has no description"


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_name_every_subcommand_and_option(shell: str, capsys) -> None:  # noqa: ANN001
    assert main(["completion", shell]) == 0
    text = capsys.readouterr().out
    for word in ("convert", "styles", "bench", "live", "--skip-existing", "--style", "--backend", "openvino"):
        assert word.lstrip("-") in text, f"{shell}: {word} missing"
    if shell == "bash" and shutil.which("bash"):
        r = subprocess.run(["bash", "-n"], input=text, text=True, capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr  # the script parses
    if shell == "fish":
        lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
        assert all(ln.startswith("complete -c cartoon-cam ") for ln in lines)
        assert any("__fish_seen_subcommand_from convert" in ln and "-l skip-existing" in ln for ln in lines)


def test_training_completion(capsys) -> None:  # noqa: ANN001
    from training.cli import main as train_main

    assert train_main(["completion", "fish"]) == 0
    text = capsys.readouterr().out
    assert "__fish_seen_subcommand_from distill" in text and "-l teacher" in text


def test_a_closed_pipe_is_not_an_error() -> None:
    r = subprocess.run(f"{sys.executable} -m cartoon_cam styles list | head -c 10", shell=True,
                       capture_output=True, text=True, timeout=120)
    assert "error" not in r.stderr.lower() and "Traceback" not in r.stderr
    assert len(r.stdout) == 10


def test_quiet_live_prints_only_errors(capsys) -> None:  # noqa: ANN001
    assert main(["live", "--source", "demo", "--style", "classic", "--duration", "1", "--stats-every", "0.1", "-q"]) == 0
    out, err = capsys.readouterr()
    assert out == "" and err == ""
    assert main(["live", "--source", "demo", "--style", "classic", "--duration", "0.5"]) == 0
    assert "stopped after" in capsys.readouterr().err  # without -q it talks
