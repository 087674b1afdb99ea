"""Nothing silent: a style that cannot run is an error (not a quiet ``classic``), a requested output
that got nothing is a non-zero exit, a truncated video is reported, ``live`` picks and names the
window's default style, exit codes are 2 / 1 / 130, and the error texts say what is true."""

from __future__ import annotations

import math
import pickle
import types
from pathlib import Path

import av
import numpy as np
import pytest

from cartoon_cam.cli import main
from cartoon_cam.errors import brief


def write_clip(path: Path, frames: int, fps: int = 25, w: int = 64, h: int = 48, faststart: bool = False) -> Path:
    opts = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=opts) as c:
        st = c.add_stream("mpeg4", rate=fps)
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        for i in range(frames):
            img = np.random.default_rng(i).integers(0, 255, (h, w, 3), dtype=np.uint8)
            for pkt in st.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(pkt)
        for pkt in st.encode():
            c.mux(pkt)
    return path


def truncated_clip(tmp: Path) -> Path:
    """A 100-frame MP4 cut in half: its index still says 100 frames, about 40 decode."""
    full = write_clip(tmp / "full.mp4", 100, faststart=True)
    data = full.read_bytes()
    cut = tmp / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    return cut


# ------------------------------------------------------------------ styles that cannot run


@pytest.mark.parametrize(("extra", "needle"), [
    (["--style", "hayao_lite", "--device", "cuda"], "cuda"),
    (["--style", "hayao_lite", "--backend", "torch"], "ONNX model"),
])
def test_live_refuses_a_style_that_cannot_run_instead_of_classic(tmp_path: Path, capsys, extra, needle) -> None:
    out = tmp_path / "r.mp4"
    rc = main(["live", "--source", "demo", "--record", str(out), "--duration", "2", "--stats-every", "0", *extra])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert needle in err and "cartoon-cam: error:" in err
    assert "classic" not in err.lower().replace("'classic'", "") or "using 'classic'" not in err
    assert not out.exists()  # nothing was recorded, with classic or anything else


def test_the_pipeline_without_a_fallback_never_swaps_in_classic(tmp_path: Path) -> None:
    import threading

    from cartoon_cam.core.pipeline import Pipeline
    from cartoon_cam.core.sources import ScriptedSource

    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"no model")
    events: list = []
    failed = threading.Event()

    def on_event(ev) -> None:
        events.append(ev)
        if ev.kind == "style_failed":
            failed.set()

    p = Pipeline(ScriptedSource(32, 24, fps=60), str(broken), on_event=on_event, fallback_style=None)
    p.start()
    try:
        assert failed.wait(30)
    finally:
        p.stop(timeout=5)
    assert not any(e.kind == "style_changed" for e in events)
    assert "classic" not in " ".join(e.message for e in events)


def test_live_without_style_uses_and_names_the_windows_default(capsys) -> None:
    from cartoon_cam.inference.catalog import StyleCatalog

    default = StyleCatalog().default_style_id()
    from cartoon_cam.core.threads import live_inference_threads
    from cartoon_cam.inference.backends import create_backend

    # answer auto's runtime probe now (it is cached), so the style loads within the 1 s run
    create_backend(StyleCatalog().resolve(default), threads=live_inference_threads()).close()
    rc = main(["live", "--source", "demo", "--duration", "1", "--stats-every", "0"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert f"style: {default} (the default" in err
    assert f"Style '{default}'" in err  # and it is the one that runs


# ------------------------------------------------------------------ requested outputs that got nothing


def test_live_exits_1_when_the_source_never_opens_with_record(tmp_path: Path, capsys) -> None:
    out = tmp_path / "never.mp4"
    rc = main(["live", "--source", "camera:97", "--style", "classic", "--record", str(out), "--duration", "1.5",
               "--stats-every", "0"])
    err = capsys.readouterr().err
    assert rc == 1, err
    assert "nothing was recorded" in err and "the source never opened" in err
    assert not out.exists()


def test_live_exits_1_when_no_snapshot_could_be_written(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc = main(["live", "--source", "demo", "--style", "classic", "--duration", "2.5", "--snapshot-every", "0.5",
               "--snapshot-dir", str(blocker / "shots"), "--stats-every", "0"])
    err = capsys.readouterr().err
    assert rc == 1, err
    assert "no snapshot was written" in err


def test_live_stats_never_print_nan() -> None:
    from cartoon_cam.commands.live import _stats_line

    stats = types.SimpleNamespace(capture_fps=0.0, inference_fps=0.0, latency_p50_ms=math.nan,
                                  latency_p95_ms=math.nan, dropped=0, style_id="")
    pipeline = types.SimpleNamespace(stats=lambda: stats)
    line = _stats_line(1.0, pipeline)  # no outputs running
    assert "nan" not in line and "latency p50    - ms" in line


# ------------------------------------------------------------------ truncated video


def test_a_truncated_video_is_an_error_and_leaves_nothing(tmp_path: Path, capsys) -> None:
    cut = truncated_clip(tmp_path)
    out = tmp_path / "o.mp4"
    rc = main(["convert", str(cut), "-o", str(out), "--style", "classic"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "truncated" in err and "of 100 frames" in err and "--keep-partial" in err
    assert not out.exists()
    assert not list(tmp_path.glob(".*part*"))


def test_keep_partial_keeps_what_converted_and_still_exits_non_zero(tmp_path: Path, capsys) -> None:
    cut = truncated_clip(tmp_path)
    out = tmp_path / "o.mp4"
    rc = main(["convert", str(cut), "-o", str(out), "--style", "classic", "--keep-partial"])
    cap = capsys.readouterr()
    assert rc == 2, cap.err
    assert "cartoon-cam: warning:" in cap.err and "kept the part converted" in cap.err
    assert "1 truncated" in cap.out
    with av.open(str(out)) as c:
        n = sum(1 for _ in c.decode(video=0))
    assert 10 < n < 100


def test_a_whole_video_is_not_reported_as_truncated(tmp_path: Path, capsys) -> None:
    clip = write_clip(tmp_path / "whole.mp4", 30)
    assert main(["convert", str(clip), "-o", str(tmp_path / "o.mp4"), "--style", "classic"]) == 0
    assert "truncated" not in capsys.readouterr().err


# ------------------------------------------------------------------ exit codes


def test_exit_codes_130_and_1(monkeypatch, capsys) -> None:
    from cartoon_cam.commands import styles

    def interrupted(_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(styles, "run", interrupted)
    assert main(["styles", "list"]) == 130

    def buggy(_args):
        raise RuntimeError("something broke\nsecond line")

    monkeypatch.setattr(styles, "run", buggy)
    assert main(["styles", "list"]) == 1
    err = capsys.readouterr().err
    assert "unexpected RuntimeError: something broke (details in" in err and "Traceback" not in err
    from cartoon_cam.logs import log_file

    logged = log_file().read_text()
    assert "Traceback" in logged and "RuntimeError: something broke" in logged  # the details are there


# ------------------------------------------------------------------ error texts


def _onnx_identity(path: Path, shape: list[int]) -> Path:
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)
    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, str(path))
    return path


def test_convert_does_not_advise_a_flag_it_lacks(tmp_path: Path, capsys) -> None:
    import cv2

    model = _onnx_identity(tmp_path / "odd.onnx", [1, 8, 8, 8])
    img = tmp_path / "in.png"
    cv2.imwrite(str(img), np.zeros((16, 16, 3), np.uint8))
    rc = main(["convert", str(img), "-o", str(tmp_path / "o.png"), "--style", str(model)])
    err = capsys.readouterr().err
    assert rc == 2 and "styles import odd.onnx --layout" in err
    assert "pass --layout" not in err


def test_import_of_a_model_too_small_or_with_one_channel_says_so(tmp_path: Path, capsys) -> None:
    model = _onnx_identity(tmp_path / "tiny.onnx", [1, 1, 8, 8])
    rc = main(["styles", "import", str(model), "--layout", "NCHW"])
    err = capsys.readouterr().err
    assert rc == 2 and "1 channel(s)" in err and "recommended_size" not in err
    model3 = _onnx_identity(tmp_path / "tiny3.onnx", [1, 3, 8, 8])
    rc = main(["styles", "import", str(model3)])
    err = capsys.readouterr().err
    assert rc == 2 and "fixed at 8x8" in err and "recommended_size" not in err


class _Evil:
    def __reduce__(self):
        return (print, ("this would run code",))


def test_the_pickle_refusal_is_not_cut_mid_word(tmp_path: Path, capsys) -> None:
    pt = tmp_path / "evil.pt"
    with open(pt, "wb") as fh:
        pickle.dump({"w": _Evil()}, fh)
    rc = main(["styles", "import", str(pt)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "refusing to load" in err
    inner = err[err.index("could run code (") + len("could run code ("):].rstrip(")")
    assert inner.endswith("…") or len(inner) < 160
    if inner.endswith("…"):
        assert inner[-2] != " "


def test_brief_cuts_at_word_boundaries() -> None:
    text = "word " * 60
    out = brief(text, 50)
    assert out.endswith("…") and len(out) <= 51 and out[:-1].split()[-1] == "word"
    assert brief(ValueError()) == "ValueError"
    assert brief("short") == "short"


def test_first_line_of_an_exception() -> None:
    from cartoon_cam.errors import first_line

    assert first_line(RuntimeError("  boom: bad shape\n  at line 3\n")) == "boom: bad shape"
    assert first_line(ValueError()) == "ValueError"  # no message: the class name
    assert first_line(ValueError(), "") == ""  # … unless the caller says what an empty one is
    assert first_line("driver missing\ndetails") == "driver missing"
    assert first_line("   ") == ""


def test_the_unknown_keys_error_names_the_file(tmp_path: Path, capsys) -> None:
    import json

    from cartoon_cam import paths

    src = json.loads((paths.builtin_styles_dir() / "classic.json").read_text())
    src["id"] = "odd_keys"
    src["colour_count"] = 7
    bad = tmp_path / "odd_keys.json"
    bad.write_text(json.dumps(src))
    rc = main(["styles", "import", str(bad)])
    err = capsys.readouterr().err
    assert rc == 2 and "odd_keys.json" in err and "unknown keys: colour_count" in err


def test_live_keeps_file_names_as_they_are(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "photo.png"
    bad.write_bytes(b"this is not a picture at all, just text in a png file")
    main(["live", "--source", str(bad), "--style", "classic", "--duration", "1", "--stats-every", "0"])
    err = capsys.readouterr().err
    assert "photo.png" in err and "Photo.png" not in err


def test_bench_prints_its_table_once_and_never_a_negative_overhead(capsys) -> None:
    from cartoon_cam.commands.bench import Row

    assert Row("s", "b", "cpu", "fp32", "8x8", None, model_ms=5.0, e2e_ms=4.0).overhead_ms == 0.0
    assert main(["bench", "--style", "classic", "--size", "64", "--input", "160x90", "--seconds", "0",
                 "--min-frames", "1"]) == 0
    out = capsys.readouterr().out
    assert sum(1 for ln in out.splitlines() if ln.startswith("style")) == 1
    assert sum(1 for ln in out.splitlines() if ln.startswith("classic")) == 1
