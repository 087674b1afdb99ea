"""Video files (PyAV, paced to their own frame rate, looping) and still images."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ...errors import InputError
from ...limits import check_image_file, check_input_size
from .base import FrameSource, SourceEnded, SourceError, SourceLost

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def read_image_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as uint8 RGB HxWx3 (alpha dropped, grey expanded); ``SourceError`` if
    unreadable, empty or larger than :data:`cartoon_cam.limits.MAX_INPUT_PIXELS` (checked from the
    header, before decoding). Works with non-ASCII paths on Windows."""
    p = Path(path)
    try:
        check_image_file(p, p.name)
    except InputError as e:
        raise SourceError(str(e)) from None
    try:
        data = np.fromfile(str(p), dtype=np.uint8)
    except OSError as e:
        raise SourceError(f"cannot read image {p}: {e.strerror or e}") from None
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if img is None:
        raise SourceError(f"{p.name} is not an image OpenCV can read")
    return np.ascontiguousarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))


class ImageSource(FrameSource):
    """One picture repeated at ``fps`` (so strength, size and style changes keep showing)."""

    kind = "image"

    def __init__(self, path: str | Path, fps: float = 15.0) -> None:
        self.path = Path(path)
        super().__init__(self.path.name, fps)
        self._img: np.ndarray | None = None

    @property
    def spec(self) -> str:
        return str(self.path)

    def _open(self) -> None:
        self._img = read_image_rgb(self.path)
        self._img.flags.writeable = False

    def _read(self) -> np.ndarray:
        self._pacer.wait()
        assert self._img is not None
        return self._img

    def _close(self) -> None:
        self._img = None


class VideoFileSource(FrameSource):
    """A video file decoded with PyAV, delivered at the file's own frame rate.

    ``loop=True`` starts again at the end; otherwise ``read()`` raises :class:`SourceEnded`.
    Frames are uint8 RGB HxWx3 at the file's resolution.
    """

    kind = "video"

    def __init__(self, path: str | Path, *, loop: bool = True, fps: float | None = None) -> None:
        self.path = Path(path)
        super().__init__(self.path.name, fps or 30.0)
        self.loop = loop
        self._fps_override = fps
        self._container: Any = None
        self._frames: Any = None
        self.frame_count = 0  # frames delivered since open (all loops)

    @property
    def spec(self) -> str:
        return str(self.path)

    def _open_container(self) -> None:
        import av

        if not self.path.is_file():
            raise SourceError(f"video file {self.path} does not exist")
        try:
            container = av.open(str(self.path))
        except Exception as e:  # PyAV raises many kinds
            raise SourceError(f"cannot open video {self.path.name}: {e}") from None
        if not container.streams.video:
            container.close()
            raise SourceError(f"{self.path.name} has no video stream")
        stream = container.streams.video[0]
        cc = stream.codec_context
        if cc is not None and cc.width and cc.height:
            try:
                check_input_size(cc.width, cc.height, self.path.name)
            except InputError as e:
                container.close()
                raise SourceError(str(e)) from None
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if self._fps_override is None and rate:
            self._fps = float(rate)
            self._pacer.fps = self._fps
        self._container = container
        self._frames = container.decode(stream)

    def _open(self) -> None:
        self._open_container()

    def _next_frame(self) -> Any:
        try:
            return next(self._frames)
        except StopIteration:
            return None
        except Exception as e:  # corrupt data / file vanished
            raise SourceLost(f"{self.path.name}: decoding failed ({e})") from None

    def _read(self) -> np.ndarray:
        self._pacer.wait()
        frame = self._next_frame()
        if frame is None:
            if not self.loop:
                raise SourceEnded(f"{self.path.name} ended")
            self._close()
            self._open_container()
            frame = self._next_frame()
            if frame is None:
                raise SourceError(f"{self.path.name} contains no decodable frames")
        img = frame.to_ndarray(format="rgb24")
        self.frame_count += 1
        return np.ascontiguousarray(img)

    def _close(self) -> None:
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.close()
        self._container, self._frames = None, None
