"""``cartoon-cam convert``: formats, folders, video with audio, and every bad input."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from conftest import shared_path

from cartoon_cam.cli import main
from cartoon_cam.inference.catalog import probe_frame


def write_image(path: Path, h: int = 60, w: int = 80) -> Path:
    assert cv2.imwrite(str(path), cv2.cvtColor(probe_frame(h, w), cv2.COLOR_RGB2BGR))
    return path


def make_video(path: Path, n: int = 12, w: int = 96, h: int = 64, fps: int = 12, audio: bool = True) -> Path:
    """A small H.264 (or MPEG-4) clip, optionally with a 1 kHz AAC tone."""
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        a_s = out.add_stream("aac", rate=44100) if audio else None
        for i in range(n):
            img = np.roll(probe_frame(h, w), i * 4, axis=1)
            for pkt in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(pkt)
        for pkt in vs.encode(None):
            out.mux(pkt)
        if a_s is not None:
            t = np.arange(int(44100 * n / fps)) / 44100
            tone = (0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
            for s in range(0, len(tone), 1024):
                chunk = tone[s:s + 1024]
                af = av.AudioFrame.from_ndarray(np.stack([chunk, chunk]), format="fltp", layout="stereo")
                af.sample_rate, af.pts, af.time_base = 44100, s, Fraction(1, 44100)
                for pkt in a_s.encode(af):
                    out.mux(pkt)
            for pkt in a_s.encode(None):
                out.mux(pkt)
    return path


def test_single_image_to_file_matches_backend(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write_image(tmp_path / "in.png")
    assert main(["convert", str(src), "-o", str(tmp_path / "out.png"), "--style", "classic"]) == 0
    out = cv2.imread(str(tmp_path / "out.png"))
    assert out.shape == (60, 80, 3)
    assert "converted 1 file(s)" in capsys.readouterr().out


def test_golden_through_cli_png(tmp_path: Path) -> None:
    z = np.load(shared_path("golden", "animeganv2_seed0_320x192.npz"))
    img = np.rint((z["input"][0].transpose(1, 2, 0) + 1) * 127.5).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "g.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    model = shared_path("models", "animeganv2", "random_seed0.pt")
    assert main(["convert", str(tmp_path / "g.png"), "-o", str(tmp_path / "o.png"), "--style", str(model),
                 "--size", "320"]) == 0
    got = cv2.cvtColor(cv2.imread(str(tmp_path / "o.png")), cv2.COLOR_BGR2RGB).astype(int)
    want = np.clip(np.rint((z["output"][0].transpose(1, 2, 0) + 1) * 127.5), 0, 255)
    assert np.abs(got - want).mean() <= 1.0


def test_folder_formats_side_by_side_and_alpha(tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    for ext in ("png", "jpg", "webp", "bmp"):
        write_image(d / f"a_{ext}.{ext}")
    rgba = np.dstack([cv2.cvtColor(probe_frame(40, 50), cv2.COLOR_RGB2BGR), np.full((40, 50), 128, np.uint8)])
    cv2.imwrite(str(d / "alpha.png"), rgba)
    (d / "readme.txt").write_text("ignored")
    assert main(["convert", str(d), "-o", str(tmp_path / "out"), "--style", "classic", "--side-by-side"]) == 0
    outs = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert outs == ["a_bmp.bmp", "a_jpg.jpg", "a_png.png", "a_webp.webp", "alpha.png"]
    assert cv2.imread(str(tmp_path / "out" / "a_png.png")).shape == (60, 160, 3)
    a = cv2.imread(str(tmp_path / "out" / "alpha.png"), cv2.IMREAD_UNCHANGED)
    assert a.shape == (40, 100, 4) and (a[..., 3] == 128).all()


def test_video_keeps_timing_and_audio(tmp_path: Path) -> None:
    src = make_video(tmp_path / "clip.mp4")
    dst = tmp_path / "out" / "clip.mp4"
    assert main(["convert", str(src), "-o", str(tmp_path / "out"), "--style", "classic"]) == 0
    with av.open(str(dst)) as c:
        v = c.streams.video[0]
        assert v.codec_context.name in ("h264", "mpeg4")
        assert (v.codec_context.width, v.codec_context.height) == (96, 64)
        assert c.streams.audio and c.streams.audio[0].codec_context.name == "aac"
        frames = list(c.decode(video=0))
        pts = [f.pts for f in frames]
    assert len(frames) == 12
    assert all(b > a for a, b in zip(pts, pts[1:]))
    assert abs(float((pts[-1] - pts[0]) * v.time_base) - 11 / 12) < 0.01


def test_bad_inputs_fail_cleanly_and_batch_continues(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write_image(tmp_path / "good.png")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 this is not a jpeg")
    badvid = tmp_path / "bad.mp4"
    badvid.write_bytes(b"\x00" * 500)
    out = tmp_path / "out"
    rc = main(["convert", str(good), str(bad), str(badvid), str(tmp_path / "missing.png"),
               "-o", str(out), "--style", "classic"])
    err = capsys.readouterr().err
    assert rc == 2
    assert sorted(p.name for p in out.iterdir()) == ["good.png"]  # no partial outputs, no temp files
    assert "bad.jpg" in err and "bad.mp4" in err and "missing.png" in err
    assert "Traceback" not in err


def test_existing_output_is_not_overwritten_by_default(tmp_path: Path) -> None:
    src = write_image(tmp_path / "x.png")
    dst = tmp_path / "o.png"
    dst.write_bytes(b"precious")
    assert main(["convert", str(src), "-o", str(dst), "--style", "classic"]) == 2
    assert dst.read_bytes() == b"precious"
    assert main(["convert", str(src), "-o", str(dst), "--style", "classic", "--overwrite"]) == 0
    assert dst.read_bytes() != b"precious"


@pytest.mark.parametrize(("args", "needle"), [
    (["--style", "no_such_style"], "unknown style"),
    (["--style", "{tmp}/x.png"], "not a model file"),
    (["--style", "classic", "--size", "-5"], "size"),
    (["--style", "classic", "--backend", "tpu"], "invalid choice"),
])
def test_usage_errors_exit_2_with_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    src = write_image(tmp_path / "x.png")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    r = subprocess.run([sys.executable, "-m", "cartoon_cam", "convert", str(src), "-o", str(tmp_path / "o.png"), *args],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert needle in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) <= 3
    assert not (tmp_path / "o.png").exists()


def test_unwritable_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write_image(tmp_path / "x.png")
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    assert main(["convert", str(src), "-o", str(blocker / "sub" / "o.png"), "--style", "classic"]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_pickle_style_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    torch.save({"w": Evil()}, tmp_path / "evil.pth")
    src = write_image(tmp_path / "x.png")
    assert main(["convert", str(src), "-o", str(tmp_path / "o.png"), "--style", str(tmp_path / "evil.pth")]) == 2
    cap = capsys.readouterr()
    assert "refusing" in cap.err and "owned" not in cap.out
