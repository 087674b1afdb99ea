"""The H.264 encoders every video output tries, in one order, and how each is set up (no Qt).

The recorder, the live stream and ``cartoon-cam convert`` all pick from :data:`ENCODERS`: the first
that opens wins (hardware encoders are probed by opening them and encoding one frame; results are
cached per size for the process). Options favour latency: ``libx264`` runs ``veryfast`` with
``zerolatency`` (no lookahead, no B-frames: packets leave the encoder at once), the hardware
encoders their low-latency modes. Files are quality-driven (CRF), streams bitrate-driven.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from fractions import Fraction

import av

from ..errors import OutputError, brief

#: Tried in order; the first that opens wins. Hardware encoders are probed by opening them.
#: ``h264_v4l2m2m`` is left out on purpose: it would grab a /dev/video device (maybe a loopback).
ENCODERS: tuple[str, ...] = (
    "libx264", "h264_nvenc", "h264_qsv", "h264_amf", "h264_videotoolbox", "h264_mf",
    "libopenh264", "mpeg4",
)

CODEC_OPTIONS: dict[str, dict[str, str]] = {
    # zerolatency: no lookahead and no B-frames, so packets leave the encoder at once (kill safety)
    "libx264": {"preset": "veryfast", "tune": "zerolatency"},
    "h264_nvenc": {"preset": "p4", "tune": "ll", "zerolatency": "1"},
    "h264_qsv": {"preset": "faster", "look_ahead": "0", "async_depth": "1"},
    "h264_amf": {"usage": "lowlatency"},
    "h264_videotoolbox": {"realtime": "1"},
}

VIDEO_TIME_BASE = Fraction(1, 90000)

_probe_cache: dict[tuple[str, int, int], str | None] = {}
_probe_lock = threading.Lock()


def auto_bitrate(w: int, h: int, fps: float) -> int:
    """A bitrate for ``w`` x ``h`` at ``fps``: about 0.15 bit per pixel, within 2..40 Mbit/s."""
    return int(min(40e6, max(2e6, 0.15 * w * h * fps)))


def pix_fmt(codec: av.codec.Codec) -> str | None:
    """The 4:2:0 input format ``codec`` takes (``yuv420p``, else ``nv12``), or None."""
    names = [f.name for f in (codec.video_formats or ())]
    if not names or "yuv420p" in names:
        return "yuv420p"
    return "nv12" if "nv12" in names else None


def configure(ctx, name: str, w: int, h: int, fps: float, pix: str, crf: int = 23,
              bitrate: int | None = None) -> None:
    """Set up codec context ``ctx`` of encoder ``name``: size, timing, BT.601 limited-range tags, a
    keyframe about every second, no B-frames, the low-latency :data:`CODEC_OPTIONS`. Quality:
    ``crf`` for libx264, unless ``bitrate`` (bit/s) is given (a stream: capped, VBV-constrained);
    other encoders always run at ``bitrate`` or :func:`auto_bitrate`."""
    ctx.width, ctx.height, ctx.pix_fmt = w, h, pix
    ctx.time_base = Fraction(1, 1000) if name == "mpeg4" else VIDEO_TIME_BASE  # mpeg4: denom ≤ 65535
    ctx.framerate = Fraction(fps).limit_denominator(1001)
    ctx.gop_size = max(1, round(fps))  # a keyframe about every second
    ctx.max_b_frames = 0
    ctx.colorspace, ctx.color_range = 6, 1  # SMPTE 170M (BT.601) matrix, limited ("MPEG") range
    ctx.color_primaries, ctx.color_trc = 1, 1  # BT.709 primaries / transfer (sRGB-like webcams)
    opts = dict(CODEC_OPTIONS.get(name, {}))
    if name == "libx264" and bitrate is None:
        opts["crf"] = str(crf)
    else:  # bitrate-driven
        ctx.bit_rate = int(bitrate or auto_bitrate(w, h, fps))
        if name == "libx264":  # a stream: hold the rate within a one-second buffer
            opts["maxrate"] = str(ctx.bit_rate)
            opts["bufsize"] = str(ctx.bit_rate)
    ctx.options = opts


def _try_open(name: str, w: int, h: int, fps: float) -> str | None:
    try:
        codec = av.codec.Codec(name, "w")
    except Exception:
        return "not in this FFmpeg build"
    pix = pix_fmt(codec)
    if pix is None:
        return "no 4:2:0 input format"
    try:
        ctx = av.CodecContext.create(codec)
        configure(ctx, name, w, h, fps, pix, 23)
        ctx.open()
        if name not in ("libx264", "mpeg4"):  # hardware: make sure a frame really encodes
            frame = av.VideoFrame(w, h, pix)
            frame.pts = 0
            ctx.encode(frame)
            ctx.encode(None)
    except Exception as e:
        return brief(e)
    return None


def probe_encoder(name: str, w: int = 640, h: int = 480, fps: float = 30.0) -> str | None:
    """``None`` when encoder ``name`` opens for ``w`` x ``h``, else the reason it can't be used.
    Results are cached per (name, size) for the process."""
    key = (name, w, h)
    with _probe_lock:
        if key not in _probe_cache:
            _probe_cache[key] = _try_open(name, w, h, fps)
        return _probe_cache[key]


def choose_encoder(w: int, h: int, fps: float = 30.0,
                   candidates: Sequence[str] | None = None) -> tuple[str, dict[str, str]]:
    """The first encoder of ``candidates`` (default :data:`ENCODERS`) that opens, and the reasons the
    ones before it were skipped. Raises :class:`OutputError` listing every reason when none opens."""
    skipped: dict[str, str] = {}
    for name in candidates or ENCODERS:
        reason = probe_encoder(name, w, h, fps)
        if reason is None:
            return name, skipped
        skipped[name] = reason
    raise OutputError("no video encoder could be opened: "
                      + "; ".join(f"{k}: {v}" for k, v in skipped.items()))


def first_available(candidates: Sequence[str] = ENCODERS) -> str:
    """The first of ``candidates`` this FFmpeg build has (no open probe; ``mpeg4`` at worst)."""
    available = av.codecs_available
    for name in candidates:
        if name in available:
            try:
                av.codec.Codec(name, "w")
                return name
            except Exception:
                continue
    return "mpeg4"
