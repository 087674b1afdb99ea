"""The prepared GPU run (training/recipes/gpu_run.sh): its dry run on the CPU, and its mechanics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, shared_path

from training import gpu_run as G


def test_checkpoint_pieces_fit_the_return_limit_and_join_back(tmp_path: Path) -> None:
    src = tmp_path / "last.pt"
    data = os.urandom(G.PART_SIZE + 12345)
    src.write_bytes(data)
    parts = G.split_file(src, tmp_path, "t_last.pt")
    assert [p.name for p in parts] == ["t_last.pt.part0", "t_last.pt.part1"]
    assert all(p.stat().st_size <= G.RETURN_FILE_LIMIT for p in parts)
    assert G.join_parts(tmp_path, "t_last.pt", tmp_path / "back" / "last.pt")
    assert (tmp_path / "back" / "last.pt").read_bytes() == data
    assert not G.join_parts(tmp_path, "nothing", tmp_path / "x.pt")


def test_return_check_counts_files_and_sizes(tmp_path: Path) -> None:
    for i in range(G.RETURN_FILES):
        (tmp_path / f"f{i}").write_bytes(b"x")
    assert G.check_return(tmp_path)["ok"]
    (tmp_path / "one_more").write_bytes(b"x")
    assert not G.check_return(tmp_path)["ok"]
    (tmp_path / "one_more").unlink()
    with open(tmp_path / "f0", "wb") as f:
        f.truncate(G.RETURN_FILE_LIMIT + 1)
    assert G.check_return(tmp_path)["too_big"] == ["f0"]


def test_budget_stops_a_run_with_sigint_so_it_can_checkpoint(tmp_path: Path) -> None:
    """What a distill call relies on: after the budget the child gets SIGINT (a training loop then
    finishes its step and checkpoints), not a kill."""
    script = ("import signal, sys, time\n"
              "def stop(*a):\n    print('checkpointed', flush=True); sys.exit(130)\n"
              "signal.signal(signal.SIGINT, stop)\nprint('started', flush=True)\ntime.sleep(60)\n")
    log = tmp_path / "log.txt"
    rc, over = G.run_logged([sys.executable, "-c", script], log, dict(os.environ), budget_s=3, grace_s=30)
    assert (rc, over) == (130, True)
    assert "checkpointed" in log.read_text()


@pytest.mark.slow
@pytest.mark.timeout(900)  # ~90 s of CPU; 5-10 min of wall time when the 2 cores are shared
def test_dry_run_makes_every_call_within_the_device_limits(tmp_path: Path) -> None:
    shared_path("models", "cartoongan", "hayao.npz")
    out = tmp_path / "dry"
    env = {**os.environ, "PYTHON": sys.executable}
    r = subprocess.run(["bash", str(REPO / "training" / "recipes" / "gpu_run.sh"), "--dry-run", "--out", str(out)],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=880)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    rep = json.loads((out / "dry_run.json").read_text())
    calls = rep["calls"]
    assert set(calls) == {"check", "bench", "distill_1", "distill_2"}
    for name, c in calls.items():
        ret = c["return"]
        assert c["ok"] and ret["ok"], name
        assert ret["n_files"] <= G.RETURN_FILES and max(ret["files"].values()) <= G.RETURN_FILE_LIMIT, name
    # check: the CUDA tests were collected, and skipped here
    assert calls["check"]["tests"] >= 8 and calls["check"]["skipped"] == calls["check"]["tests"]
    # bench: every part of it produced rows
    rows = json.loads((out / "bench" / "bench.json").read_text())["rows"]
    kinds = {(r["model"], r["what"]) for r in rows}
    assert {("animeganv2", "network"), ("animeganv2", "end-to-end"), ("lite", "network"),
            ("cartoongan", "end-to-end"), ("hayao_lite", "end-to-end")} <= kinds
    assert any(r["what"] == "fp16 vs fp32" for r in rows)
    assert (out / "bench" / "bench.md").read_text().count("\n| animeganv2") >= 2
    # distill: stopped half-way, brought its checkpoint back, resumed on a "fresh machine", finished
    d1, d2 = calls["distill_1"], calls["distill_2"]
    assert (d1["step"], d1["finished"], d1["resumed"]) == (2, False, False)
    assert (d2["step"], d2["finished"], d2["resumed"]) == (4, True, True)
    for d, name in ((d1, "distill_1"), (d2, "distill_2")):
        files = d["return"]["files"]
        assert {"hayao.onnx", "hayao.safetensors", "hayao_eval.json", "hayao_summary.json"} <= set(files)
        assert files["hayao.onnx"] <= G.ONNX_LIMIT
        ev = json.loads((out / name / "hayao_eval.json").read_text())
        assert ev["photos"] >= 1 and ev["psnr"] > 0
    # the real run's carry: working tree + 400 photos + one teacher + the full-size checkpoint
    plan = rep["plan"]
    assert plan["ok"] and plan["checkpoint"] == d2["checkpoint_bytes"]
    assert all(c["bytes"] <= G.CARRY_LIMIT for c in plan["calls"].values())
