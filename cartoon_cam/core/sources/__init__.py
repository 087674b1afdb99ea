"""Frame sources (no Qt): cameras, video files, still images, the animated demo, and a scripted
source for tests. All produce uint8 RGB HxWx3 frames; see :mod:`.base` for the contract.

:func:`open_source` turns a source *spec* into a (not yet opened) source:

``demo`` · ``camera`` (first camera) · ``camera:INDEX`` · ``camera:NAME`` · a video or image path.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import InputError
from .base import FrameSource, Pacer, SourceEnded, SourceError, SourceLost
from .camera import CameraInfo, CameraSource, capture_apis, find_camera, list_cameras
from .demo import DemoSource, demo_pictures
from .media import IMAGE_SUFFIXES, ImageSource, VideoFileSource, read_image_rgb
from .scripted import ScriptedSource, frame_number


def parse_camera(spec: str) -> int | str:
    """``camera`` → 0, ``camera:2`` → 2, ``camera:HD Webcam`` → ``"HD Webcam"``."""
    rest = spec.partition(":")[2].strip()
    if not rest:
        return 0
    return int(rest) if rest.isdigit() else rest


def open_source(spec: str, *, width: int | None = None, height: int | None = None,
                fps: float | None = None, loop: bool = True) -> FrameSource:
    """Build the source a spec names (cheap: nothing is opened yet).

    ``width``/``height``/``fps`` are requests for cameras and the demo (``fps`` also overrides a
    video's own rate). ``loop``: a video file starts again at its end (the window); ``False``: it
    plays once and then raises :class:`SourceEnded` (headless ``live``).
    Raises :class:`~cartoon_cam.errors.InputError` for a file that does not exist, and for a
    picture that is empty or over the size limits (:mod:`cartoon_cam.limits`; only its header is read).
    """
    s = spec.strip()
    low = s.lower()
    if low == "demo":
        return DemoSource(width or 640, height or 360, fps or 30.0)
    if low == "camera" or low.startswith("camera:"):
        return CameraSource(parse_camera(s), width=width, height=height, fps=fps)
    p = Path(s).expanduser()
    if not p.is_file():
        raise InputError(f"--source {spec!r}: not 'demo', 'camera[:INDEX|:NAME]' or an existing file")
    if p.suffix.lower() in IMAGE_SUFFIXES:
        from ...limits import check_image_file

        check_image_file(p, f"--source {p}")
        return ImageSource(p)
    return VideoFileSource(p, loop=loop, fps=fps)


__all__ = [
    "IMAGE_SUFFIXES", "CameraInfo", "CameraSource", "DemoSource", "FrameSource", "ImageSource",
    "Pacer", "ScriptedSource", "SourceEnded", "SourceError", "SourceLost", "VideoFileSource",
    "capture_apis", "demo_pictures", "find_camera", "frame_number", "list_cameras", "open_source",
    "parse_camera", "read_image_rgb",
]
