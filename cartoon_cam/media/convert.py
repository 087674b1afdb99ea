"""Batch conversion of images and videos (the engine behind ``cartoon-cam convert``).

Images (png, jpg, webp, bmp, tif) keep their format and go through Pillow, which keeps what
OpenCV's codecs drop: the EXIF orientation is applied (the output is upright, its EXIF says
Orientation 1), and the ICC profile and EXIF (camera, date, artist, ...) are written into the output
where the format holds them (JPEG, PNG, WebP, TIFF). Videos (mp4, mov, mkv, webm, avi, ...) become
H.264 MP4 with the audio copied (or re-encoded to AAC when MP4 cannot hold the original codec).
Every output is written to a temporary file beside its destination and renamed at the end, so a
failure never leaves a partial file (a truncated video is kept only with ``keep_partial``). Outputs
follow :mod:`cartoon_cam.files` (never an input, never an existing file unless ``overwrite``, the
umask's permissions) and inputs :mod:`cartoon_cam.limits`. One bad input does not stop the batch.
"""

from __future__ import annotations

import io
import logging
import os
import struct
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from ..errors import InputError, OutputError, brief
from ..files import apply_umask, check_output
from ..inference.backends import Backend
from ..inference.style import atomic_write_bytes
from ..limits import MAX_INPUT_PIXELS, check_image_file, check_input_size

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".gif")


def is_image(p: Path) -> bool:
    return p.suffix.lower() in IMAGE_SUFFIXES


def is_video(p: Path) -> bool:
    return p.suffix.lower() in VIDEO_SUFFIXES


# --------------------------------------------------------------------------- images


@dataclass
class Picture:
    """A decoded picture, upright: ``rgb`` uint8 HxWx3 RGB C-contiguous, ``alpha`` uint8 HxW (255 =
    opaque) or None, and what OpenCV's decoder would drop: the ``icc_profile`` (raw ICC bytes, kept
    only for an RGB profile, since the pixels are RGB) and ``exif`` (raw TIFF-structured EXIF block,
    its Orientation already set to 1) or None."""

    rgb: np.ndarray
    alpha: np.ndarray | None = None
    icc_profile: bytes | None = None
    exif: bytes | None = None


def _pixels(im: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Any Pillow mode → (uint8 RGB HxWx3 C-contiguous, alpha uint8 HxW or None): 16-bit scaled
    to 8-bit (high byte, as Pillow does for 16-bit colour itself), 32-bit integer and float grey
    stretched min..max to 0..255, grey and palette expanded to RGB."""
    if im.mode.startswith("I;16") or im.mode in ("I", "F"):  # one channel, more than 8 bits
        a = np.asarray(im)
        if im.mode.startswith("I;16"):
            a8 = (a.astype(np.uint16) >> 8).astype(np.uint8)
        else:
            lo, hi = float(a.min()), float(a.max())
            scale = 255.0 / (hi - lo) if hi > lo else 0.0
            a8 = np.rint((a.astype(np.float64) - lo) * scale).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(a8[..., None], 3, axis=2)), None
    has_alpha = "A" in im.getbands() or "transparency" in im.info
    if im.mode in ("RGBa", "La"):  # premultiplied
        has_alpha = True
    mode = "RGBA" if has_alpha else "RGB"
    # Copied out in bands of about 4 MB (converted band by band): the peak is the decoded picture
    # plus the array, where np.asarray(im) would add two whole-picture copies (Pillow's tobytes).
    w, h = im.size
    a = np.empty((h, w, len(mode)), np.uint8)
    step = max(1, (4 << 20) // (w * len(mode)))
    for y in range(0, h, step):
        band = im.crop((0, y, w, min(h, y + step)))
        a[y:y + step] = np.asarray(band if band.mode == mode else band.convert(mode))
    if has_alpha:
        return np.ascontiguousarray(a[..., :3]), np.ascontiguousarray(a[..., 3])
    return np.ascontiguousarray(a), None


def _rgb_icc(icc: bytes | None) -> bytes | None:
    """``icc`` if it is an RGB profile (data colour space ``RGB `` at bytes 16..20), else None:
    a CMYK or grey profile does not describe the RGB pixels written out."""
    if icc and len(icc) >= 20 and icc[16:20] == b"RGB ":
        return bytes(icc)
    if icc:
        log.debug("ICC profile for %r pixels dropped (the output is RGB)", icc[16:20])
    return None


def load_image(path: Path) -> Picture:
    """Read an image file with Pillow into an upright :class:`Picture`.

    The EXIF orientation (JPEG, PNG ``eXIf``, WebP, TIFF) is applied to colour and alpha alike
    (:func:`PIL.ImageOps.exif_transpose`); the ICC profile and EXIF are kept for the output.
    Grayscale is expanded to RGB, 16-bit is scaled to 8-bit. An empty file, or a picture over
    :data:`cartoon_cam.limits.MAX_INPUT_PIXELS` (read from its header, before decoding: ours, then
    Pillow's, whose decompression-bomb check becomes the same :class:`InputError`), is an
    :class:`InputError`, as is anything Pillow cannot decode.
    """
    check_image_file(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)  # the header only
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise InputError(f"{path}: larger than the limit of {MAX_INPUT_PIXELS // (1024 * 1024)} MP "
                         f"({e}); scale it down first") from None
    except UnidentifiedImageError:
        raise InputError(f"{path}: not a readable image (corrupt or unsupported format)") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from None
    with im:
        check_input_size(im.width, im.height, str(path))
        try:
            icc = _rgb_icc(im.info.get("icc_profile"))
            oriented = ExifTags.Base.Orientation in im.getexif()
            ImageOps.exif_transpose(im, in_place=True)  # decodes; no second copy of the pixels
            exif = im.getexif()
            rgb, alpha = _pixels(im)
        except (OSError, ValueError, SyntaxError, struct.error) as e:
            raise InputError(f"{path}: not a readable image ({e})") from None
    exif_bytes = None
    if len(exif):
        if oriented:  # exif_transpose deleted the tag; say "upright" outright instead
            exif[ExifTags.Base.Orientation] = 1
        exif_bytes = exif.tobytes()
    return Picture(rgb, alpha, icc, exif_bytes)


def read_image(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Read an image file → (uint8 RGB HxWx3 C-contiguous, alpha uint8 HxW or None), upright;
    see :func:`load_image` (which also returns the ICC profile and EXIF)."""
    pic = load_image(path)
    return pic.rgb, pic.alpha


PIL_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP",
               ".tif": "TIFF", ".tiff": "TIFF"}
_ALPHA_FORMATS = ("PNG", "WEBP", "TIFF")
_META_FORMATS = ("PNG", "JPEG", "WEBP", "TIFF")  # can carry an ICC profile and EXIF


def encode_image(rgb: np.ndarray, suffix: str, alpha: np.ndarray | None = None, *,
                 icc_profile: bytes | None = None, exif: bytes | None = None) -> bytes:
    """uint8 RGB HxWx3 (+ optional alpha uint8 HxW, kept for PNG, WebP and TIFF) → encoded file
    bytes for ``suffix`` (Pillow; JPEG and WebP at quality 95), with ``icc_profile`` and ``exif``
    (raw bytes, as in :class:`Picture`) embedded where the format holds them (not BMP)."""
    fmt = PIL_FORMATS.get(suffix.lower())
    if fmt is None:
        raise OutputError(f"cannot encode {suffix} image")
    if alpha is not None and fmt in _ALPHA_FORMATS and alpha.shape == rgb.shape[:2]:
        im = Image.fromarray(np.ascontiguousarray(np.dstack([rgb, alpha])), "RGBA")
    else:
        im = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    opts: dict[str, object] = {}
    if fmt in ("JPEG", "WEBP"):
        opts["quality"] = 95
    if fmt in _META_FORMATS:
        if icc_profile:
            opts["icc_profile"] = icc_profile
        if exif:
            opts["exif"] = exif
    buf = io.BytesIO()
    try:
        im.save(buf, format=fmt, **opts)
    except (OSError, ValueError, KeyError) as e:
        raise OutputError(f"cannot encode {suffix} image ({e})") from None
    return buf.getvalue()


def compose(original: np.ndarray, cartoon: np.ndarray, side_by_side: bool) -> np.ndarray:
    """The output picture: the cartoon, or original | cartoon side by side (uint8 RGB)."""
    return np.ascontiguousarray(np.hstack([original, cartoon])) if side_by_side else cartoon


def convert_image(backend: Backend, src: Path, dst: Path, *, side_by_side: bool = False) -> None:
    """Cartoonize the picture ``src`` into ``dst`` (format from its suffix), atomically, keeping
    its alpha (where the format can), ICC profile and EXIF (Orientation 1: written upright)."""
    pic = load_image(src)
    rgb, alpha = pic.rgb, pic.alpha
    out = compose(rgb, backend.process(rgb), side_by_side)
    if side_by_side and alpha is not None:
        alpha = np.hstack([alpha, alpha])
    data = encode_image(out, dst.suffix, alpha, icc_profile=pic.icc_profile, exif=pic.exif)
    try:
        atomic_write_bytes(dst, data)
    except OSError as e:
        raise OutputError(f"{dst}: cannot write ({e.strerror or e})") from None


# --------------------------------------------------------------------------- videos


def pick_h264_encoder() -> str:
    """The first encoder of the outputs' one list (:data:`~cartoon_cam.outputs.encoders.ENCODERS`,
    the recorder's and the stream's order) this FFmpeg build offers (``mpeg4`` as a last resort)."""
    from ..outputs.encoders import first_available

    return first_available()


@dataclass
class VideoResult:
    frames: int = 0
    encoder: str = ""
    audio: str = "none"  # none | copied | aac
    expected: int | None = None  # frames the container says it holds (when it says)
    partial: str = ""  # why the video was cut short, when it was and the part was kept


PARTIAL_KEPT = "kept the part converted"  # ends the warning for a truncated video kept in part


class TruncatedVideoError(InputError):
    """The input ended (or broke) before all its frames were decoded; nothing was written."""


def _short_by(frames: int, expected: int | None) -> bool:
    """True when ``frames`` decoded falls clearly short of the ``expected`` count (1% + 2 frames of
    slack: containers round their frame counts)."""
    return expected is not None and expected > 0 and frames < expected * 0.99 - 2


def _even(n: int) -> int:
    return n - (n % 2)


def convert_video(backend: Backend, src: Path, dst: Path, *, side_by_side: bool = False,
                  progress: Callable[[int, int | None], None] | None = None,
                  keep_partial: bool = False) -> VideoResult:
    """Decode ``src`` with PyAV, cartoonize each frame, encode H.264 MP4 to ``dst`` (atomically).

    Timestamps are carried over from the input (variable frame rate stays correct), all streams
    shifted by one offset so that audio and video stay in sync (see :class:`_Clock`); the first audio
    stream is copied, or re-encoded to AAC if MP4 cannot carry it. Errors reading ``src`` raise
    :class:`InputError`, errors writing ``dst`` :class:`OutputError`; nothing is left at ``dst``.
    A video that ends (or stops decoding) before the frame count its container declares raises
    :class:`TruncatedVideoError` and writes nothing, unless ``keep_partial``: then the frames
    converted are written and ``VideoResult.partial`` says what is missing.
    """
    import av

    try:
        inp = av.open(str(src), metadata_errors="replace")
    except (av.error.FFmpegError, OSError, UnicodeError) as e:
        raise InputError(f"{src}: not a readable video ({_av_msg(e)})") from None
    tmp = None
    try:
        if not inp.streams.video:
            raise InputError(f"{src}: has no video stream")
        vin = inp.streams.video[0]
        if vin.codec_context is None:
            raise InputError(f"{src}: no decoder for its video codec")
        vin.thread_type = "AUTO"
        ain = inp.streams.audio[0] if inp.streams.audio else None
        if ain is not None and ain.codec_context is None:
            log.warning("%s: no decoder for its audio codec; the output has no sound", src)
            ain = None
        w0, h0 = vin.codec_context.width, vin.codec_context.height
        if not w0 or not h0:
            raise InputError(f"{src}: video stream has no size")
        check_input_size(w0, h0, str(src))
        w, h = _even(w0), _even(h0)
        out_w = 2 * w if side_by_side else w
        rate = vin.average_rate or vin.guessed_rate or Fraction(30)
        total = vin.frames or (int(float(vin.duration * vin.time_base) * rate) if vin.duration else None)
        declared = vin.frames or None  # exact when the container has an index (MP4, MOV)

        dst.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dst.stem}.", suffix=".part.mp4", dir=dst.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        out = av.open(str(tmp), "w", format="mp4")
        try:
            res = VideoResult(encoder=pick_h264_encoder())
            vout = out.add_stream(res.encoder, rate=rate)
            vout.width, vout.height, vout.pix_fmt = out_w, h, "yuv420p"
            # Frames keep the input's time base. (Not ``vout.time_base`` later on: the MP4 muxer
            # changes the stream's time base when it writes the header, e.g. 1/1000 → 1/16000.)
            tb = vin.time_base or Fraction(1, 90000)
            vout.time_base = vout.codec_context.time_base = tb
            if res.encoder == "libx264":
                vout.options = {"crf": "18", "preset": "medium"}
            elif res.encoder == "mpeg4":
                vout.bit_rate = 8_000_000
            aout = None
            transcoder = None
            if ain is not None:
                aout, transcoder, res.audio = _add_audio(out, ain)
            streams = [vin] + ([ain] if aout is not None else [])
            clock = _Clock(streams)
            step = max(1, round(1 / (rate * tb)))  # one frame, for frames without a pts
            last_pts: int | None = None
            broken: list[str] = []

            def packets() -> Iterator:
                try:
                    yield from _demux(inp, streams, src)
                except InputError as e:  # the file breaks off mid-way
                    if not keep_partial or res.frames == 0:
                        raise
                    broken.append(str(e))

            for packet in packets():
                if packet.stream is ain:
                    _mux_audio(out, packet, aout, transcoder, clock, src)
                    continue
                for frame in _decode(packet, src):
                    rgb = frame.to_ndarray(format="rgb24")
                    if rgb.shape[0] != h or rgb.shape[1] != w:
                        rgb = np.ascontiguousarray(rgb[:h, :w])
                    img = compose(rgb, backend.process(rgb), side_by_side)
                    vf = av.VideoFrame.from_ndarray(img, format="rgb24")
                    if frame.pts is None:
                        pts = 0 if last_pts is None else last_pts + step
                    else:
                        pts = max(0, clock.shift(frame.pts, tb))
                    if last_pts is not None and pts <= last_pts:
                        pts = last_pts + 1
                    vf.pts, vf.time_base, last_pts = pts, tb, pts
                    for pkt in vout.encode(vf):
                        out.mux(pkt)
                    res.frames += 1
                    if progress:
                        progress(res.frames, total)
            for pkt in vout.encode(None):
                out.mux(pkt)
            if transcoder is not None:
                for pkt in _flush_transcoder(transcoder, aout):
                    out.mux(pkt)
        finally:
            out.close()
        if res.frames == 0:
            raise InputError(f"{src}: no decodable video frames")
        res.expected = declared
        short = _short_by(res.frames, declared)
        if short or broken:
            what = (f"{res.frames} of {declared} frames decoded" if short else
                    f"decoding stopped after {res.frames} frames")
            if not keep_partial:
                raise TruncatedVideoError(f"{src}: the video is truncated or corrupt ({what}); nothing "
                                          "was written (--keep-partial keeps the frames that convert)")
            res.partial = f"{src}: the video is truncated or corrupt ({what}); {PARTIAL_KEPT}"
            log.warning("%s", res.partial)
        apply_umask(tmp)  # mkstemp made it 0600
        os.replace(tmp, dst)
        tmp = None
        return res
    except av.error.FFmpegError as e:
        raise OutputError(f"{dst}: video encoding failed ({_av_msg(e)})") from None
    except OSError as e:
        raise OutputError(f"{dst}: cannot write ({e.strerror or e})") from None
    finally:
        inp.close()
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def _av_msg(e: BaseException) -> str:
    return getattr(e, "strerror", None) or brief(e)


class _Clock:
    """The one offset (in seconds) subtracted from every output stream's timestamps.

    It is the earliest start of the streams that are written (so audio that begins before the
    video keeps its lead, and nothing is shifted below zero); when a stream does not declare its
    start, the first timestamp seen decides.
    """

    def __init__(self, streams: list) -> None:
        starts = [Fraction(s.start_time) * s.time_base for s in streams
                  if s.start_time is not None and s.time_base]
        self.offset: Fraction | None = min(starts) if len(starts) == len(streams) else None

    def ticks(self, time_base: Fraction, ts: int) -> int:
        """The offset in ``time_base`` units (``ts``, the timestamp at hand, sets it if still unknown)."""
        if self.offset is None:
            self.offset = Fraction(ts) * time_base
        return round(self.offset / time_base)

    def shift(self, ts: int, time_base: Fraction) -> int:
        """``ts`` (in ``time_base`` units) minus the offset."""
        return ts - self.ticks(time_base, ts)


def _decode_error(src: Path, e: BaseException) -> InputError:
    return InputError(f"{src}: cannot decode the video ({_av_msg(e)}); the file is corrupt or truncated")


def _demux(inp: object, streams: list, src: Path) -> Iterator:
    """``inp.demux(*streams)``, with read errors reported as errors of the input."""
    import av

    packets = inp.demux(*streams)  # type: ignore[attr-defined]
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.error.FFmpegError as e:
            raise _decode_error(src, e) from None
        yield packet


def _decode(packet: object, src: Path) -> Iterable:
    """The frames of ``packet``; a corrupt packet is skipped, any other decoder failure is an input error."""
    import av

    try:
        return packet.decode()  # type: ignore[attr-defined]
    except av.error.InvalidDataError:
        log.warning("%s: skipping a corrupt packet", src)
        return ()
    except av.error.FFmpegError as e:
        raise _decode_error(src, e) from None


_MP4_AUDIO_COPY = {"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac"}


def _add_audio(out: object, ain: object) -> tuple[object, object, str]:
    """Add the output audio stream: a copy when MP4 can hold the codec, else AAC."""
    name = ain.codec_context.name  # type: ignore[attr-defined]
    if name in _MP4_AUDIO_COPY:
        try:
            return out.add_stream_from_template(ain), None, "copied"  # type: ignore[attr-defined]
        except Exception as e:  # noqa: BLE001 - fall back to re-encoding
            log.info("cannot copy %s audio (%s); re-encoding to AAC", name, e)
    cc = ain.codec_context  # type: ignore[attr-defined]
    aout = out.add_stream("aac", rate=cc.sample_rate or 48000)  # type: ignore[attr-defined]
    layout = cc.layout.name if cc.layout else ""
    if not layout or layout.endswith("channels"):  # an unnamed layout ("2 channels"): AAC needs a real one
        layout = "mono" if cc.channels == 1 else "stereo"
    aout.layout = layout
    return aout, {"resampler": None}, "aac"


def _mux_audio(out: object, packet: object, aout: object, transcoder: object, clock: _Clock, src: Path) -> None:
    """Copy (or re-encode) one audio packet, shifted by the clock's offset like the video."""
    if packet.dts is None:  # type: ignore[attr-defined]
        return
    tb = packet.time_base  # type: ignore[attr-defined]
    if transcoder is None:
        pts, dts = packet.pts, packet.dts  # type: ignore[attr-defined]
        shift = clock.ticks(tb, dts if pts is None else pts)
        start = (dts if pts is None else pts) - shift
        if start + (packet.duration or 0) < 0:  # type: ignore[attr-defined]
            return  # wholly before the output's start (codec priming, ending at 0, is kept)
        packet.dts = dts - shift  # type: ignore[attr-defined]
        if pts is not None:
            packet.pts = pts - shift  # type: ignore[attr-defined]
        packet.stream = aout  # type: ignore[attr-defined]
        out.mux(packet)  # type: ignore[attr-defined]
        return
    import av

    try:
        frames = packet.decode()  # type: ignore[attr-defined]
    except av.error.InvalidDataError:
        return
    except av.error.FFmpegError as e:
        raise _decode_error(src, e) from None
    for frame in frames:
        if frame.pts is not None:
            pts = clock.shift(frame.pts, frame.time_base or tb)
            if pts < 0:
                continue  # before the output's start
            frame.pts = pts
        for pkt in aout.encode(frame):  # type: ignore[attr-defined]
            out.mux(pkt)  # type: ignore[attr-defined]


def _flush_transcoder(transcoder: object, aout: object) -> Iterator:
    yield from aout.encode(None)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- batch


@dataclass
class Job:
    src: Path
    dst: Path
    kind: str  # image | video


@dataclass
class BatchReport:
    done: list[Job] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    partial: list[tuple[Path, str]] = field(default_factory=list)  # written, but cut short (--keep-partial)
    frames: int = 0
    seconds: float = 0.0


def collect_inputs(inputs: Iterable[str | Path], recursive: bool = False) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Expand files and folders into convertible files; return (files, [(path, problem)])."""
    files: list[Path] = []
    problems: list[tuple[Path, str]] = []
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            found = sorted(q for q in (p.rglob("*") if recursive else p.iterdir())
                           if q.is_file() and (is_image(q) or is_video(q)) and not q.name.startswith("."))
            if not found:
                problems.append((p, "folder contains no images or videos"))
            files.extend(found)
        elif p.is_file():
            if is_image(p) or is_video(p):
                files.append(p)
            else:
                problems.append((p, f"unsupported file type {p.suffix or '(none)'}"))
        else:
            problems.append((p, "no such file or folder"))
    return files, problems


def plan_outputs(files: list[Path], out: Path, *, single_file_ok: bool) -> list[Job]:
    """Map inputs to outputs. ``out`` is a file when converting one input to an explicit file name
    with a suitable suffix; otherwise a folder (created) that receives ``<stem>.<ext>`` files."""
    if single_file_ok and len(files) == 1 and out.suffix and not out.is_dir():
        src = files[0]
        if is_image(src) and not is_image(out):
            raise InputError(f"output {out} must be an image file ({', '.join(IMAGE_SUFFIXES)}) or a folder")
        if is_video(src) and out.suffix.lower() not in (".mp4", ".m4v", ".mov"):
            raise InputError(f"output {out} for a video must be .mp4 (or a folder)")
        return [Job(src, out, "image" if is_image(src) else "video")]
    if out.exists() and not out.is_dir():
        raise InputError(f"output {out} exists and is not a folder (several inputs need a folder)")
    jobs: list[Job] = []
    taken: set[Path] = set()
    for src in files:
        name = src.name if is_image(src) else src.stem + ".mp4"
        dst = out / name
        i = 1
        while dst in taken:  # two inputs with the same name from different folders
            dst = out / f"{Path(name).stem}_{i}{Path(name).suffix}"
            i += 1
        taken.add(dst)
        jobs.append(Job(src, dst, "image" if is_image(src) else "video"))
    return jobs


def run_batch(backend: Backend, jobs: list[Job], *, side_by_side: bool = False, overwrite: bool = False,
              keep_partial: bool = False,
              on_progress: Callable[[Job, int, int | None], None] | None = None,
              on_done: Callable[[Job, str | None], None] | None = None) -> BatchReport:
    """Convert every job; failures are collected, never raised. Every output is checked with
    :func:`cartoon_cam.files.check_output` against *all* inputs of the batch, so one job can never
    write over another job's input. A truncated video kept with ``keep_partial`` is in ``done``
    and in ``partial`` (with the warning ``on_done`` receives too)."""
    rep = BatchReport()
    t0 = time.perf_counter()
    inputs = [j.src for j in jobs]
    for job in jobs:
        err: str | None = None
        try:
            check_output(job.dst, inputs=inputs, overwrite=overwrite)
            if job.kind == "image":
                convert_image(backend, job.src, job.dst, side_by_side=side_by_side)
                rep.frames += 1
            else:
                cb = (lambda n, tot, _j=job: on_progress(_j, n, tot)) if on_progress else None
                r = convert_video(backend, job.src, job.dst, side_by_side=side_by_side, progress=cb,
                                  keep_partial=keep_partial)
                rep.frames += r.frames
                if r.partial:
                    rep.partial.append((job.src, r.partial))
                    err = r.partial
            rep.done.append(job)
        except (InputError, OutputError) as e:
            err = str(e)
        except Exception as e:  # a model failure on one input must not stop the batch
            log.debug("conversion failed", exc_info=True)
            err = f"{job.src}: conversion failed ({type(e).__name__}: {brief(e)})"
        if err and job not in rep.done:
            rep.failed.append((job.src, err))
        if on_done:
            on_done(job, err)
    rep.seconds = time.perf_counter() - t0
    return rep
