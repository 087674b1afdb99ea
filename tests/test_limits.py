"""Memory and size limits (cartoon_cam.limits), one place used by the window, ``live`` and
``convert``: refused clearly, before anything of that size is allocated."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from cartoon_cam import limits
from cartoon_cam.cli import main
from cartoon_cam.errors import InputError


def huge_png(path: Path, w: int = 20000, h: int = 20000) -> Path:
    """A PNG whose header says ``w`` x ``h`` (the pixel data is a stub: it must never be decoded)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("ext", [".png", ".jpg", ".webp", ".bmp", ".tif"])
def test_header_size_matches_the_picture(ext: str) -> None:
    img = np.random.default_rng(1).integers(0, 255, (37, 53, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(ext, img)
    assert ok
    assert limits.image_header_size(buf.tobytes()) == (53, 37)


def test_header_size_of_a_jpeg_with_exif_and_of_garbage() -> None:
    img = np.zeros((20, 30, 3), np.uint8)
    jpg = cv2.imencode(".jpg", img)[1].tobytes()
    exif = b"Exif\x00\x00" + b"MM\x00*\x00\x00\x00\x08" + b"\x00\x00"
    app1 = b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif
    assert limits.image_header_size(jpg[:2] + app1 + jpg[2:]) == (30, 20)
    assert limits.image_header_size(b"not an image at all") is None
    assert limits.image_header_size(b"") is None


def test_inference_size_limits() -> None:
    assert limits.check_inference_size(None) is None
    assert limits.check_inference_size(limits.MAX_INFERENCE_SIZE) == limits.MAX_INFERENCE_SIZE
    for bad in (15, limits.MAX_INFERENCE_SIZE + 1, 99999):
        with pytest.raises(InputError, match=str(limits.MAX_INFERENCE_SIZE)):
            limits.check_inference_size(bad)


def test_the_pipeline_and_every_backend_refuse_an_oversized_inference() -> None:
    from cartoon_cam.core.pipeline import Pipeline
    from cartoon_cam.core.sources import DemoSource
    from cartoon_cam.inference.backends import create_backend
    from cartoon_cam.inference.catalog import load_style

    with pytest.raises(ValueError, match="2048"):
        Pipeline(DemoSource(64, 48), "classic", size=99999)
    p = Pipeline(DemoSource(64, 48), "classic")
    with pytest.raises(ValueError, match="2048"):
        p.set_size(8192)
    p.stop()
    with pytest.raises(InputError, match="2048"):
        create_backend(load_style("classic"), size=8192)
    b = create_backend(load_style("classic"), size=256)
    with pytest.raises(ValueError, match="2048"):
        b.size = 99999
    b.close()


@pytest.mark.parametrize("argv", [
    ["convert", "{img}", "-o", "{tmp}/o.png", "--style", "classic", "--size", "8192"],
    ["live", "--source", "demo", "--style", "classic", "--size", "99999", "--duration", "1"],
    ["--source", "demo", "--style", "classic", "--size", "99999", "--quit-after", "0"],  # the window
])
def test_every_command_refuses_an_oversized_inference(tmp_path: Path, capsys, argv: list[str]) -> None:
    img = tmp_path / "in.png"
    cv2.imwrite(str(img), np.zeros((16, 16, 3), np.uint8))
    argv = [a.replace("{img}", str(img)).replace("{tmp}", str(tmp_path)) for a in argv]
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse
        rc = e.code
    err = capsys.readouterr().err
    assert rc == 2 and "2048" in err, err


def test_a_huge_picture_is_refused_from_its_header(tmp_path: Path, monkeypatch, capsys) -> None:
    from cartoon_cam.media import convert

    big = huge_png(tmp_path / "big.png")

    def no_decode(*_a, **_k):
        raise AssertionError("the picture was decoded")

    monkeypatch.setattr(convert.Image, "open", no_decode)
    with pytest.raises(InputError, match="20000x20000.*64 MP"):
        convert.read_image(big)
    monkeypatch.undo()
    rc = main(["convert", str(big), "-o", str(tmp_path / "o.png"), "--style", "classic"])
    assert rc == 2 and "larger than the limit" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize(("w", "h", "needle"), [
    (20000, 20000, "decompression bomb"),  # over twice Pillow's MAX_IMAGE_PIXELS: Pillow refuses it
    (10000, 10000, "decompression bomb"),  # over Pillow's MAX_IMAGE_PIXELS: only a warning, made an error
    (9000, 9000, "9000x9000 (81 MP)"),  # over our 64 MP, under Pillow's limit: our check, from its header
])
def test_a_huge_picture_our_header_reader_misses_is_refused_by_pillow_header(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, w: int, h: int, needle: str) -> None:
    """Without our own header size (a format it does not know), Pillow's header still decides
    before any pixel is decoded, and its decompression-bomb error is our one-sentence InputError."""
    from PIL import Image

    from cartoon_cam.media import convert

    big = huge_png(tmp_path / "big.png", w, h)
    monkeypatch.setattr(limits, "image_header_size", lambda data: None)

    def no_decode(*_a, **_k):
        raise AssertionError("the picture was decoded")

    monkeypatch.setattr(Image.Image, "load", no_decode)
    with pytest.raises(InputError, match="larger than the limit of 64 MP") as e:
        convert.read_image(big)
    assert needle in str(e.value)


def test_live_refuses_a_huge_picture_before_anything_opens(tmp_path: Path, capsys) -> None:
    """It once gave no frame, no message, and a capture thread that outlived stop()."""
    big = huge_png(tmp_path / "big.png")
    rc = main(["live", "--source", str(big), "--style", "classic", "--duration", "2", "--stats-every", "0"])
    err = capsys.readouterr().err
    assert rc == 2 and "larger than the limit" in err and "[source" not in err


def test_image_source_checks_the_header_too(tmp_path: Path) -> None:
    from cartoon_cam.core.sources import ImageSource, SourceError

    src = ImageSource(huge_png(tmp_path / "big.png"))
    with pytest.raises(SourceError, match="larger than the limit"):
        src.open()


@pytest.mark.parametrize("cmd", ["live", "convert"])
def test_an_empty_picture_is_one_clear_line(tmp_path: Path, capsys, cmd: str) -> None:
    empty = tmp_path / "Empty.png"
    empty.write_bytes(b"")
    argv = (["live", "--source", str(empty), "--style", "classic", "--duration", "1"] if cmd == "live"
            else ["convert", str(empty), "-o", str(tmp_path / "o.png"), "--style", "classic"])
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2 and "the file is empty" in err, err
    assert "-215" not in err and "Assertion" not in err  # no raw OpenCV assertion
    assert "Empty.png" in err


@pytest.mark.parametrize("argv", [["live", "--help"], ["convert", "--help"], ["--help"]])
def test_limits_are_stated_in_help(capsys, argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        main(argv)
    out = " ".join(capsys.readouterr().out.split())
    assert "2048" in out and "64 MP" in out
