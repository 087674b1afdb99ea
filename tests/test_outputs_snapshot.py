"""Snapshots: formats, layouts and sizes, names, atomic writes, errors."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from cartoon_cam.core.frames import Frame, ResultFrame
from cartoon_cam.errors import OutputError
from cartoon_cam.outputs.snapshot import SnapshotWriter, snapshot_name


def result(w: int = 333, h: int = 201) -> ResultFrame:
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    img[:20, :20] = (255, 0, 0)  # red corner: catches RGB/BGR swaps
    return ResultFrame(Frame(img, 0, 1.0), 255 - img, "test")


def read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


@pytest.mark.parametrize("layout", ["cartoon", "original", "side_by_side"])
def test_png_is_exact_at_source_resolution(tmp_path: Path, layout: str) -> None:
    r = result()
    path = SnapshotWriter(tmp_path, fmt="png", layout=layout).save_now(r)
    img = read_rgb(path)
    expected = {"cartoon": r.cartoon, "original": r.source.image,
                "side_by_side": np.concatenate([r.source.image, r.cartoon], axis=1)}[layout]
    assert img.shape == expected.shape
    np.testing.assert_array_equal(img, expected)
    assert path.suffix == ".png"


def test_jpeg_size_and_colours(tmp_path: Path) -> None:
    r = result()
    path = SnapshotWriter(tmp_path, fmt="jpg", layout="original").save_now(r)
    assert path.suffix == ".jpg"
    img = read_rgb(path)
    assert img.shape == (201, 333, 3)
    assert tuple(img[5, 5]) == pytest.approx((255, 0, 0), abs=12)  # red stays red


def test_names_are_timestamped_and_unique(tmp_path: Path) -> None:
    w = SnapshotWriter(tmp_path)
    paths = [w.save_now(result()) for _ in range(3)]
    assert len(set(paths)) == 3
    assert all(re.fullmatch(r"cartoon-cam_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d-\d{3}(-\d+)?\.png", p.name)
               for p in paths)
    assert snapshot_name(datetime(2024, 5, 1, 12, 34, 56, 789000), "side_by_side", "jpeg") == \
        "cartoon-cam_2024-05-01_12-34-56-789_side-by-side.jpg"
    assert not list(tmp_path.glob(".*"))  # no temp files left behind


def test_async_save_creates_folder_and_reports(tmp_path: Path) -> None:
    events = []
    folder = tmp_path / "new" / "pics"
    w = SnapshotWriter(folder, on_event=events.append)
    path = w.save(result()).result(timeout=10)
    w.close()
    assert path.parent == folder and path.is_file()
    assert [(e.output, e.kind, e.path) for e in events] == [("snapshot", "saved", path)]


def test_unwritable_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    events = []
    w = SnapshotWriter(blocker / "pics", on_event=events.append)
    with pytest.raises(OutputError, match="not a folder"):
        w.save(result()).result(timeout=10)
    w.close()
    assert events[0].kind == "error" and "Could not save the snapshot" in events[0].message
    with pytest.raises(OutputError):
        w.save_now(result())


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        SnapshotWriter(fmt="gif")
    with pytest.raises(ValueError):
        SnapshotWriter(layout="upside_down")
