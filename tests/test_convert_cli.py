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


CLI_GOLDENS = [  # (model, golden, golden layout, golden colour order)
    ("animeganv2/random_seed0.pt", "animeganv2_seed0_320x192.npz", "NCHW", "RGB"),
    ("cartoongan/hayao.npz", "cartoongan_hayao_256x256.npz", "NCHW", "RGB"),
    ("animeganv3/AnimeGANv3_Shinkai_37.onnx", "animeganv3_shinkai37_256x256_nhwc.npz", "NHWC", "RGB"),
    ("whitebox/whitebox_cartoonize.onnx", "whitebox_256x256_bgr.npz", "NCHW", "BGR"),
]


def _golden_rgb(x: np.ndarray, layout: str, color: str) -> np.ndarray:
    """One golden tensor in [-1, 1] → float RGB HxWx3 in 0..255 levels (rounded, clipped)."""
    img = x[0].transpose(1, 2, 0) if layout == "NCHW" else x[0]
    if color == "BGR":
        img = img[..., ::-1]
    return np.clip(np.rint((img + 1.0) * 127.5), 0, 255)


@pytest.mark.parametrize(("model", "golden", "layout", "color"), CLI_GOLDENS)
def test_golden_through_cli_png(tmp_path: Path, model: str, golden: str, layout: str, color: str) -> None:
    """PNG in → CLI → PNG out at the input's own size: within 1 level (mean) of the reference."""
    z = np.load(shared_path("golden", golden))
    img = _golden_rgb(z["input"], layout, color).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "g.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    assert main(["convert", str(tmp_path / "g.png"), "-o", str(tmp_path / "o.png"),
                 "--style", str(shared_path("models", *model.split("/"))), "--size", str(max(img.shape[:2]))]) == 0
    got = cv2.cvtColor(cv2.imread(str(tmp_path / "o.png")), cv2.COLOR_BGR2RGB).astype(int)
    want = _golden_rgb(z["output"], layout, color)
    assert got.shape == want.shape
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
        time_base = v.time_base  # while open: PyAV 18.1.1 refuses a closed container's streams
    assert len(frames) == 12
    assert all(b > a for a, b in zip(pts, pts[1:]))
    assert abs(float((pts[-1] - pts[0]) * time_base) - 11 / 12) < 0.01


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


# --------------------------------------------------------------------------- audio/video sync


def make_offset_video(path: Path, vstart: float, astart: float, acodec: str, n: int = 12, fps: int = 12) -> Path:
    """A clip whose video starts at ``vstart`` s and audio (``acodec``: aac or pcm_s16le) at ``astart`` s."""
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=fps)
        vs.width, vs.height, vs.pix_fmt = 96, 64, "yuv420p"
        vs.time_base = Fraction(1, fps * 1000)
        a_s = out.add_stream(acodec, rate=44100)
        a_s.layout = "stereo"
        for i in range(n):
            f = av.VideoFrame.from_ndarray(np.roll(probe_frame(64, 96), i * 4, axis=1), format="rgb24")
            f.pts, f.time_base = round((vstart + i / fps) * fps * 1000), vs.time_base
            for pkt in vs.encode(f):
                out.mux(pkt)
        for pkt in vs.encode(None):
            out.mux(pkt)
        total = int(44100 * n / fps)
        tone = (0.3 * np.sin(2 * np.pi * 1000 * np.arange(total) / 44100)).astype(np.float32)
        for s in range(0, total, 1024):
            chunk = tone[s:s + 1024]
            if acodec == "aac":
                af = av.AudioFrame.from_ndarray(np.stack([chunk, chunk]), format="fltp", layout="stereo")
            else:
                pcm = (chunk * 32767).astype(np.int16)
                af = av.AudioFrame.from_ndarray(np.stack([pcm, pcm], 1).reshape(1, -1), format="s16", layout="stereo")
            af.sample_rate, af.pts, af.time_base = 44100, round(astart * 44100) + s, Fraction(1, 44100)
            for pkt in a_s.encode(af):
                out.mux(pkt)
        for pkt in a_s.encode(None):
            out.mux(pkt)
    return path


def first_frame_times(path: Path) -> tuple[list[float], float]:
    """(times of the video frames, time of the first decoded audio frame), in seconds."""
    with av.open(str(path)) as c:
        video = [float(f.time) for f in c.decode(video=0)]
    with av.open(str(path)) as c:
        audio = next(float(f.time) for f in c.decode(audio=0))
    return video, audio


@pytest.mark.parametrize(("suffix", "acodec", "vstart", "astart", "audio"), [
    (".mp4", "aac", 1.0, 0.0, "copied"),  # video 1 s after the audio; AAC copied
    (".mkv", "pcm_s16le", 1.0, 0.0, "aac"),  # Matroska (1/1000 time base), PCM re-encoded to AAC
    (".mkv", "pcm_s16le", 0.0, 1.0, "aac"),  # audio 1 s after the video
])
def test_video_keeps_audio_video_offset(tmp_path: Path, suffix: str, acodec: str, vstart: float, astart: float,
                                        audio: str) -> None:
    from cartoon_cam.inference.backends import create_backend
    from cartoon_cam.inference.catalog import load_style
    from cartoon_cam.media.convert import convert_video

    src = make_offset_video(tmp_path / f"in{suffix}", vstart, astart, acodec)
    v_in, a_in = first_frame_times(src)
    with create_backend(load_style("classic")) as b:
        res = convert_video(b, src, tmp_path / "out.mp4")
    assert (res.frames, res.audio) == (12, audio)
    v_out, a_out = first_frame_times(tmp_path / "out.mp4")
    assert len(v_out) == 12
    assert abs((v_out[0] - a_out) - (v_in[0] - a_in)) < 0.03  # the offset survives (AAC priming: 23 ms)
    assert min(v_out[0], a_out) > -0.001  # nothing before zero
    assert np.allclose(np.diff(v_out), 1 / 12, atol=0.002)  # frame spacing kept whatever the time base


def test_video_failing_midway_leaves_no_output_or_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from cartoon_cam.inference.backends.classic import ClassicBackend

    src = make_video(tmp_path / "clip.mp4")
    calls = {"n": 0}
    real = ClassicBackend._infer

    def flaky(self: ClassicBackend, rgb: np.ndarray) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("model exploded")
        return real(self, rgb)

    monkeypatch.setattr(ClassicBackend, "_infer", flaky)
    out = tmp_path / "out"
    assert main(["convert", str(src), "-o", str(out), "--style", "classic"]) == 2
    err = capsys.readouterr().err
    assert "model exploded" in err and "Traceback" not in err
    assert calls["n"] == 5
    assert list(out.iterdir()) == []  # neither clip.mp4 nor a .part file


class _BrokenInput:
    """A PyAV input container whose reading fails after a few packets (demux or decode)."""

    def __init__(self, container: object, where: str) -> None:
        self._c, self._where = container, where

    def __getattr__(self, name: str) -> object:
        return getattr(self._c, name)

    def demux(self, *streams: object):
        for i, packet in enumerate(self._c.demux(*streams)):  # type: ignore[attr-defined]
            if i >= 6 and self._where == "demux":
                raise av.error.InvalidDataError(-1094995529, "Invalid data found when processing input")
            yield _BrokenPacket(packet) if i >= 6 and packet.stream.type == "video" else packet


class _BrokenPacket:
    def __init__(self, packet: object) -> None:
        self._p = packet

    def __getattr__(self, name: str) -> object:
        return getattr(self._p, name)

    def decode(self) -> list:
        raise av.error.PatchWelcomeError(-1163346256, "Not yet implemented in FFmpeg, patches welcome")


@pytest.mark.parametrize("where", ["demux", "decode"])
def test_corrupt_video_is_an_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str], where: str) -> None:
    src = make_video(tmp_path / "clip.mp4", n=24)
    real_open = av.open
    monkeypatch.setattr(av, "open", lambda f, *a, **k: (_BrokenInput(real_open(f, *a, **k), where)
                                                        if str(f) == str(src) else real_open(f, *a, **k)))
    out = tmp_path / "out"
    assert main(["convert", str(src), "-o", str(out), "--style", "classic"]) == 2
    err = capsys.readouterr().err
    assert f"{src}: cannot decode the video" in err and "encoding" not in err and "Traceback" not in err
    assert list(out.iterdir()) == []


# --------------------------------------------------------------------------- EXIF orientation


def with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """``jpeg`` with a minimal APP1 Exif segment (IFD0 holding only Orientation) after SOI."""
    tiff = (b"II*\x00" + (8).to_bytes(4, "little") + (1).to_bytes(2, "little")
            + (0x0112).to_bytes(2, "little") + (3).to_bytes(2, "little") + (1).to_bytes(4, "little")
            + orientation.to_bytes(2, "little") + b"\x00\x00" + (0).to_bytes(4, "little"))
    body = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + (len(body) + 2).to_bytes(2, "big") + body + jpeg[2:]


def upright(img: np.ndarray, orientation: int) -> np.ndarray:
    return {1: img, 3: img[::-1, ::-1], 6: np.rot90(img, -1)}[orientation]  # 6 = rotate 90° clockwise


@pytest.mark.parametrize("orientation", [3, 6])
@pytest.mark.parametrize("gray", [False, True])
def test_jpeg_exif_orientation_is_applied(tmp_path: Path, orientation: int, gray: bool) -> None:
    from cartoon_cam.media.convert import read_image

    rgb = probe_frame(40, 64)
    stored = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if gray else cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", stored, [cv2.IMWRITE_JPEG_QUALITY, 100])
    path = tmp_path / "o.jpg"
    path.write_bytes(with_exif_orientation(buf.tobytes(), orientation))
    got, alpha = read_image(path)
    plain = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    want = upright(cv2.cvtColor(plain, cv2.COLOR_GRAY2RGB) if gray else cv2.cvtColor(plain, cv2.COLOR_BGR2RGB),
                   orientation)
    assert alpha is None and got.shape == want.shape and np.array_equal(got, want)
    if not gray:  # and exactly what OpenCV's own EXIF handling gives
        ref = cv2.imdecode(np.fromfile(str(path), np.uint8), cv2.IMREAD_COLOR)
        assert np.array_equal(got, cv2.cvtColor(ref, cv2.COLOR_BGR2RGB))


def test_png_with_alpha_and_exif_orientation_turns_both(tmp_path: Path) -> None:
    import zlib

    from cartoon_cam.media.convert import read_image

    rgb = probe_frame(40, 64)
    alpha = np.tile(np.arange(64, dtype=np.uint8) * 4, (40, 1))
    ok, buf = cv2.imencode(".png", np.dstack([cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), alpha]))
    exif = with_exif_orientation(b"\xff\xd8", 6)[4 + 2 + 6:]  # the bare TIFF block of the APP1 segment
    chunk = len(exif).to_bytes(4, "big") + b"eXIf" + exif + zlib.crc32(b"eXIf" + exif).to_bytes(4, "big")
    png = buf.tobytes()
    (tmp_path / "a.png").write_bytes(png[:33] + chunk + png[33:])  # after the 33-byte signature + IHDR
    got, got_alpha = read_image(tmp_path / "a.png")
    assert np.array_equal(got, upright(rgb, 6)) and np.array_equal(got_alpha, upright(alpha, 6))


def test_exif_rotated_jpeg_through_cli(tmp_path: Path) -> None:
    stored = np.zeros((40, 64, 3), np.uint8)
    stored[:20, :32] = 255  # white top-left quadrant as stored: bottom-right once turned upright (180°)
    ok, buf = cv2.imencode(".jpg", stored)
    (tmp_path / "r.jpg").write_bytes(with_exif_orientation(buf.tobytes(), 3))
    assert main(["convert", str(tmp_path / "r.jpg"), "-o", str(tmp_path / "o.png"), "--style", "classic"]) == 0
    out = cv2.imread(str(tmp_path / "o.png"), cv2.IMREAD_GRAYSCALE)
    assert out.shape == (40, 64)
    assert out[25:35, 40:60].mean() > 150 and out[5:15, 5:25].mean() < 100


# --------------------------------------------------------------------------- metadata (Pillow)


def _srgb_icc() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _photo_with_metadata(path: Path, orientation: int = 6) -> tuple[np.ndarray, bytes]:
    """A JPEG stored sideways (EXIF Orientation ``orientation``) with Make, Artist, a DateTimeOriginal
    in the Exif sub-IFD and an sRGB ICC profile; returns the stored RGB and the profile."""
    from PIL import ExifTags, Image

    stored = np.zeros((40, 64, 3), np.uint8)
    stored[:20, :32] = (255, 255, 255)  # white top-left as stored
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestCam"
    exif[ExifTags.Base.Artist] = "A. Photographer"
    exif[ExifTags.Base.Orientation] = orientation
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2024:05:06 07:08:09"
    icc = _srgb_icc()
    Image.fromarray(stored).save(path, "JPEG", quality=95, exif=exif.tobytes(), icc_profile=icc)
    return stored, icc


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".tif"])
def test_convert_keeps_icc_and_exif_and_writes_upright(tmp_path: Path, suffix: str) -> None:
    """EXIF orientation 6 (90° clockwise) comes out upright, and the ICC profile and EXIF (Make,
    Artist, the Exif sub-IFD) survive into the output with Orientation reset to 1."""
    from PIL import ExifTags, Image

    src = tmp_path / "photo.jpg"
    _, icc = _photo_with_metadata(src)
    dst = tmp_path / f"out{suffix}"
    assert main(["convert", str(src), "-o", str(dst), "--style", "classic"]) == 0
    with Image.open(dst) as im:
        assert im.size == (40, 64)  # W x H: turned upright (stored 64 wide, 40 high)
        assert im.info.get("icc_profile") == icc
        exif = im.getexif()
        assert exif.get(ExifTags.Base.Make) == "TestCam"
        assert exif.get(ExifTags.Base.Artist) == "A. Photographer"
        assert exif.get(ExifTags.Base.Orientation) == 1
        assert exif.get_ifd(ExifTags.IFD.Exif).get(ExifTags.Base.DateTimeOriginal) == "2024:05:06 07:08:09"
        gray = np.asarray(im.convert("L"))
    # the white stored top-left is the top-right once turned 90° clockwise
    assert gray[5:15, 25:35].mean() > 150 and gray[45:60, 5:15].mean() < 100


def test_read_image_matches_an_exif_turn_and_keeps_metadata(tmp_path: Path) -> None:
    from PIL import ExifTags, Image

    from cartoon_cam.media.convert import load_image

    src = tmp_path / "photo.jpg"
    _, icc = _photo_with_metadata(src, orientation=6)
    pic = load_image(src)
    with Image.open(src) as im:
        plain = np.asarray(im.convert("RGB"))
    assert np.array_equal(pic.rgb, np.rot90(plain, -1)) and pic.alpha is None
    exif = Image.Exif()
    exif.load(pic.exif)
    assert exif[ExifTags.Base.Orientation] == 1 and exif[ExifTags.Base.Make] == "TestCam"
    # the profile written into the photo (a fresh _srgb_icc() carries another creation second)
    assert pic.icc_profile == icc


def test_a_non_rgb_icc_profile_is_not_carried_over(tmp_path: Path) -> None:
    """A CMYK JPEG's profile does not describe the RGB pixels written: it is dropped."""
    from PIL import Image

    from cartoon_cam.media.convert import encode_image, load_image

    fake_cmyk_icc = bytes(16) + b"CMYK" + bytes(108)
    Image.new("CMYK", (16, 8), (0, 0, 0, 0)).save(tmp_path / "c.jpg", icc_profile=fake_cmyk_icc)
    pic = load_image(tmp_path / "c.jpg")
    assert pic.icc_profile is None and pic.rgb.shape == (8, 16, 3) and pic.rgb.min() > 240  # white
    out = encode_image(pic.rgb, ".png", icc_profile=pic.icc_profile, exif=pic.exif)
    with Image.open(__import__("io").BytesIO(out)) as im:
        assert "icc_profile" not in im.info


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("gray", [False, True])
def test_16_bit_pictures_are_scaled_to_8_bit(tmp_path: Path, suffix: str, gray: bool) -> None:
    from cartoon_cam.media.convert import read_image

    g = (np.arange(12 * 16, dtype=np.uint16).reshape(12, 16) * 300)
    stored = g if gray else np.dstack([g, g // 2, g // 3])  # BGR for OpenCV
    assert cv2.imwrite(str(tmp_path / f"x{suffix}"), stored)
    rgb, alpha = read_image(tmp_path / f"x{suffix}")
    want = (np.dstack([g, g, g]) if gray else np.dstack([g // 3, g // 2, g])) >> 8
    assert rgb.dtype == np.uint8 and alpha is None and np.array_equal(rgb, want.astype(np.uint8))


def test_palette_png_with_transparency_keeps_its_alpha(tmp_path: Path) -> None:
    from PIL import Image

    from cartoon_cam.media.convert import read_image

    im = Image.new("P", (8, 4), 0)
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    im.paste(1, (4, 0, 8, 4))
    im.save(tmp_path / "p.png", transparency=1)
    rgb, alpha = read_image(tmp_path / "p.png")
    assert rgb[0, 0].tolist() == [255, 0, 0] and rgb[0, 7].tolist() == [0, 0, 255]
    assert alpha is not None and alpha[:, :4].min() == 255 and alpha[:, 4:].max() == 0


# --------------------------------------------------------------------------- one-line errors


def assert_one_error_line(err: str, needle: str) -> None:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("cartoon-cam: error: ") and needle in lines[0], err


@pytest.mark.parametrize(("device", "needle"), [
    ("directml", "no backend can run"),  # a real ONNX Runtime provider, not installed here
    ("quantum", "unknown device"),
    ("cuda:x", "unknown device"),
])
def test_unavailable_device_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], device: str,
                                              needle: str) -> None:
    if device == "directml":
        from cartoon_cam.inference.backends.onnx_backend import available_providers

        if "DmlExecutionProvider" in available_providers():
            pytest.skip("DirectML is available here")
    src = write_image(tmp_path / "x.png")
    rc = main(["convert", str(src), "-o", str(tmp_path / "o.png"), "--device", device,
               "--style", str(shared_path("models", "animeganv2", "random_seed0.pt"))])
    assert rc == 2
    assert_one_error_line(capsys.readouterr().err, needle)
    assert not (tmp_path / "o.png").exists()


def test_classic_style_with_unknown_parameter_is_one_line_error(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    from cartoon_cam.inference.style import StyleManifest, write_json_style

    style = write_json_style(tmp_path / "odd.json", StyleManifest(id="odd", name="Odd", arch="classic",
                                                                  tier="classic", params={"sparkle": 3}))
    src = write_image(tmp_path / "x.png")
    assert main(["convert", str(src), "-o", str(tmp_path / "o.png"), "--style", str(style)]) == 2
    assert_one_error_line(capsys.readouterr().err, "unknown classic parameter(s) sparkle")
