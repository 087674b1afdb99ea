"""Batch conversion of images and videos (the engine behind ``cartoon-cam convert``).

Images (png, jpg, webp, bmp, tif) keep their format; videos (mp4, mov, mkv, webm, avi, ...) become
H.264 MP4 with the audio copied (or re-encoded to AAC when MP4 cannot hold the original codec).
Every output is written to a temporary file beside its destination and renamed at the end, so a
failure never leaves a partial file. One bad input does not stop the batch.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from .errors import InputError, OutputError
from .inference.backends import Backend
from .inference.style import atomic_write_bytes

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".gif")
H264_ENCODERS = ("libx264", "libopenh264", "h264_videotoolbox", "h264_nvenc", "h264_qsv", "h264_mf")


def is_image(p: Path) -> bool:
    return p.suffix.lower() in IMAGE_SUFFIXES


def is_video(p: Path) -> bool:
    return p.suffix.lower() in VIDEO_SUFFIXES


# --------------------------------------------------------------------------- images


def read_image(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Read an image file → (uint8 RGB HxWx3 C-contiguous, alpha uint8 HxW or None).

    Grayscale is expanded to RGB, 16-bit is scaled to 8-bit, EXIF orientation is applied.
    """
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from None
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None:
        raise InputError(f"{path}: not a readable image (corrupt or unsupported format)")
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype != np.uint8:
        img = cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    # Apply EXIF orientation the way IMREAD_COLOR would (IMREAD_UNCHANGED skips it).
    if path.suffix.lower() in (".jpg", ".jpeg", ".tif", ".tiff", ".webp"):
        oriented = cv2.imdecode(data, cv2.IMREAD_COLOR)
        if oriented is not None and oriented.shape[:2] != img.shape[:2] and img.ndim == 3 and img.shape[2] == 3:
            img = oriented
    alpha = None
    if img.ndim == 2:
        rgb = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    elif img.shape[2] == 4:
        alpha = np.ascontiguousarray(img[..., 3])
        rgb = cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    else:
        rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(rgb), alpha


def encode_image(rgb: np.ndarray, suffix: str, alpha: np.ndarray | None = None) -> bytes:
    """uint8 RGB HxWx3 (+ optional alpha HxW) → encoded file bytes for ``suffix``."""
    suffix = suffix.lower()
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if alpha is not None and suffix in (".png", ".webp", ".tif", ".tiff") and alpha.shape == rgb.shape[:2]:
        bgr = np.dstack([bgr, alpha])
    params: list[int] = []
    if suffix in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, 95]
    elif suffix == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, 95]
    ok, buf = cv2.imencode(suffix, bgr, params)
    if not ok:
        raise OutputError(f"cannot encode {suffix} image")
    return buf.tobytes()


def compose(original: np.ndarray, cartoon: np.ndarray, side_by_side: bool) -> np.ndarray:
    """The output picture: the cartoon, or original | cartoon side by side (uint8 RGB)."""
    return np.ascontiguousarray(np.hstack([original, cartoon])) if side_by_side else cartoon


def convert_image(backend: Backend, src: Path, dst: Path, *, side_by_side: bool = False) -> None:
    rgb, alpha = read_image(src)
    out = compose(rgb, backend.process(rgb), side_by_side)
    if side_by_side and alpha is not None:
        alpha = np.hstack([alpha, alpha])
    data = encode_image(out, dst.suffix, alpha)
    try:
        atomic_write_bytes(dst, data)
    except OSError as e:
        raise OutputError(f"{dst}: cannot write ({e.strerror or e})") from None


# --------------------------------------------------------------------------- videos


def pick_h264_encoder() -> str:
    """The first H.264 encoder this FFmpeg build offers (``mpeg4`` as a last resort)."""
    import av

    available = av.codecs_available
    for name in H264_ENCODERS:
        if name in available:
            try:
                av.codec.Codec(name, "w")
                return name
            except Exception:
                continue
    return "mpeg4"


@dataclass
class VideoResult:
    frames: int = 0
    encoder: str = ""
    audio: str = "none"  # none | copied | aac


def _even(n: int) -> int:
    return n - (n % 2)


def convert_video(backend: Backend, src: Path, dst: Path, *, side_by_side: bool = False,
                  progress: Callable[[int, int | None], None] | None = None) -> VideoResult:
    """Decode ``src`` with PyAV, cartoonize each frame, encode H.264 MP4 to ``dst`` (atomically).

    Timestamps are carried over from the input (variable frame rate stays correct); the first
    audio stream is copied, or re-encoded to AAC if MP4 cannot carry it.
    """
    import av

    try:
        inp = av.open(str(src))
    except (av.error.FFmpegError, OSError) as e:
        raise InputError(f"{src}: not a readable video ({_av_msg(e)})") from None
    tmp = None
    try:
        if not inp.streams.video:
            raise InputError(f"{src}: has no video stream")
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        ain = inp.streams.audio[0] if inp.streams.audio else None
        w0, h0 = vin.codec_context.width, vin.codec_context.height
        if not w0 or not h0:
            raise InputError(f"{src}: video stream has no size")
        w, h = _even(w0), _even(h0)
        out_w = 2 * w if side_by_side else w
        rate = vin.average_rate or vin.guessed_rate or Fraction(30)
        total = vin.frames or (int(float(vin.duration * vin.time_base) * rate) if vin.duration else None)

        dst.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dst.stem}.", suffix=".part.mp4", dir=dst.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        out = av.open(str(tmp), "w", format="mp4")
        try:
            res = VideoResult(encoder=pick_h264_encoder())
            vout = out.add_stream(res.encoder, rate=rate)
            vout.width, vout.height, vout.pix_fmt = out_w, h, "yuv420p"
            vout.time_base = vin.time_base or Fraction(1, 90000)
            vout.codec_context.time_base = vout.time_base
            if res.encoder == "libx264":
                vout.options = {"crf": "18", "preset": "medium"}
            elif res.encoder == "mpeg4":
                vout.bit_rate = 8_000_000
            aout = None
            transcoder = None
            if ain is not None:
                aout, transcoder, res.audio = _add_audio(out, ain)
            last_pts: int | None = None
            start_pts: int | None = None
            streams = [vin] + ([ain] if aout is not None else [])
            for packet in inp.demux(*streams):
                if packet.stream is ain:
                    _mux_audio(out, packet, ain, aout, transcoder)
                    continue
                for frame in _decode(packet, src):
                    rgb = frame.to_ndarray(format="rgb24")
                    if rgb.shape[0] != h or rgb.shape[1] != w:
                        rgb = np.ascontiguousarray(rgb[:h, :w])
                    img = compose(rgb, backend.process(rgb), side_by_side)
                    vf = av.VideoFrame.from_ndarray(img, format="rgb24")
                    pts = frame.pts if frame.pts is not None else res.frames
                    if start_pts is None:
                        start_pts = pts
                    pts -= start_pts
                    if last_pts is not None and pts <= last_pts:
                        pts = last_pts + 1
                    vf.pts, vf.time_base, last_pts = pts, vout.time_base, pts
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
    return getattr(e, "strerror", None) or str(e).splitlines()[0][:160]


def _decode(packet: object, src: Path) -> Iterable:
    import av

    try:
        return packet.decode()  # type: ignore[attr-defined]
    except av.error.InvalidDataError:
        log.warning("%s: skipping a corrupt packet", src)
        return ()


_MP4_AUDIO_COPY = {"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac"}


def _add_audio(out: object, ain: object) -> tuple[object, object, str]:
    """Add the output audio stream: a copy when MP4 can hold the codec, else AAC."""
    name = ain.codec_context.name  # type: ignore[attr-defined]
    if name in _MP4_AUDIO_COPY:
        try:
            return out.add_stream_from_template(ain), None, "copied"  # type: ignore[attr-defined]
        except Exception as e:  # noqa: BLE001 - fall back to re-encoding
            log.info("cannot copy %s audio (%s); re-encoding to AAC", name, e)
    rate = ain.codec_context.sample_rate or 48000  # type: ignore[attr-defined]
    aout = out.add_stream("aac", rate=rate)  # type: ignore[attr-defined]
    aout.layout = ain.codec_context.layout.name if ain.codec_context.layout else "stereo"  # type: ignore[attr-defined]
    return aout, {"resampler": None}, "aac"


def _mux_audio(out: object, packet: object, ain: object, aout: object, transcoder: object) -> None:
    if packet.dts is None:  # type: ignore[attr-defined]
        return
    if transcoder is None:
        packet.stream = aout  # type: ignore[attr-defined]
        out.mux(packet)  # type: ignore[attr-defined]
        return
    import av

    try:
        frames = packet.decode()  # type: ignore[attr-defined]
    except av.error.InvalidDataError:
        return
    for frame in frames:
        frame.pts = None
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
              on_progress: Callable[[Job, int, int | None], None] | None = None,
              on_done: Callable[[Job, str | None], None] | None = None) -> BatchReport:
    """Convert every job; failures are collected, never raised."""
    rep = BatchReport()
    t0 = time.perf_counter()
    for job in jobs:
        err: str | None = None
        try:
            if job.dst.resolve() == job.src.resolve():
                raise OutputError(f"{job.dst}: refusing to overwrite the input")
            if job.dst.exists() and not overwrite:
                raise OutputError(f"{job.dst}: exists (use --overwrite to replace it)")
            if job.kind == "image":
                convert_image(backend, job.src, job.dst, side_by_side=side_by_side)
                rep.frames += 1
            else:
                cb = (lambda n, tot, _j=job: on_progress(_j, n, tot)) if on_progress else None
                r = convert_video(backend, job.src, job.dst, side_by_side=side_by_side, progress=cb)
                rep.frames += r.frames
            rep.done.append(job)
        except (InputError, OutputError) as e:
            err = str(e)
        except Exception as e:  # a model failure on one input must not stop the batch
            log.debug("conversion failed", exc_info=True)
            err = f"{job.src}: conversion failed ({type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''})"
        if err:
            rep.failed.append((job.src, err))
        if on_done:
            on_done(job, err)
    rep.seconds = time.perf_counter() - t0
    return rep
