"""``--self-test``, ``--version`` and the ``bench`` table (structure only: speed is not tested)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import shared_path

from cartoon_cam.cli import main


def test_self_test_passes_and_reports_backend() -> None:
    r = subprocess.run([sys.executable, "-m", "cartoon_cam", "--self-test"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "self-test passed" in r.stdout
    assert "onnxruntime" in r.stdout and "cpu" in r.stdout
    assert "onnxruntime check: 255 - x graph on CPUExecutionProvider: ok" in r.stdout


def test_self_test_onnxruntime_check_catches_a_wrong_result(monkeypatch: pytest.MonkeyPatch) -> None:
    import onnxruntime as ort

    from cartoon_cam import selftest

    class WrongSession(ort.InferenceSession):
        def run(self, *a, **k):  # type: ignore[override]
            return [np.zeros((1, 2, 5, 3), np.uint8)]

    monkeypatch.setattr(ort, "InferenceSession", WrongSession)
    with pytest.raises(RuntimeError, match="wrong result"):
        selftest._onnxruntime_check("cpu")


def test_self_test_fails_on_a_broken_style(tmp_path) -> None:
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not onnx")
    r = subprocess.run([sys.executable, "-m", "cartoon_cam", "--self-test", "--style", str(bad)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "SELF-TEST FAILED" in r.stderr


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and "cartoon-cam" in capsys.readouterr().out


def test_bench_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    model = shared_path("models", "animeganv3", "AnimeGANv3_tiny_Cute.onnx")
    assert main(["bench", "--style", "classic", "--style", str(model), "--size", "64", "--input", "160x90",
                 "--seconds", "0", "--min-frames", "1", "--markdown"]) == 0
    out = capsys.readouterr().out
    rows = [ln for ln in out.splitlines() if ln.startswith("| ")]
    assert rows[0].startswith("| style | backend")
    body = {r.split("|")[1].strip(): [c.strip() for c in r.split("|")[1:-1]] for r in rows[1:]}
    assert set(body) == {"classic", "animeganv3_tiny_cute"}
    cute = body["animeganv3_tiny_cute"]
    assert cute[4] == "64x48"  # 64x36 padded to the model's multiple of 16
    assert float(cute[5]) > 0 and float(cute[8]) > 0  # GFLOP and fps
    assert "machine:" in out


def test_bench_reports_peak_share_and_what_auto_runs(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("openvino")
    assert main(["bench", "--style", "hayao_lite", "--backend", "onnx", "--backend", "openvino", "--size", "256",
                 "--input", "320x180", "--seconds", "0", "--min-frames", "1", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert "measured fp32 peak" in out and "FLOP/cycle" in out
    rows = [[c.strip() for c in r.split("|")[1:-1]] for r in out.splitlines() if r.startswith("| hayao_lite")]
    assert sorted(r[1] for r in rows) == ["onnxruntime", "openvino"]
    for r in rows:
        assert float(r[5]) > 0 and r[10].endswith("%") and float(r[10][:-1]) > 0  # GFLOP, % of peak
    assert "auto runs hayao_lite at size 256 on" in out


def test_bench_pipeline_runs_the_live_pipeline(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--pipeline", "--style", "classic", "--input", "160x90", "--fps", "20",
                 "--seconds", "1", "--encode"]) == 0
    out = capsys.readouterr().out
    row = next(r for r in out.splitlines() if r.startswith("| classic"))
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[3] == "H.264"
    assert float(cells[6]) > 0  # cartoon fps
    assert float(cells[7]) > 0 and float(cells[8]) >= float(cells[7])  # latency p50 <= p95
    assert float(cells[11]) > 0  # CPU use
