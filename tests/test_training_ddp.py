"""Multi-process training through ``torchrun`` (DDP) with two CPU processes on gloo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from training.runtime import load_checkpoint

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SAMPLE = SHARED / "photos" / "animegan_sample"
TEACHER = SHARED / "models" / "cartoongan" / "hayao.npz"
PHOTOS = SHARED / "photos" / "train" / "kodak_mcmaster"

pytestmark = pytest.mark.skipif(not SAMPLE.is_dir(), reason="../shared is not present")


def _torchrun(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CARTOON_CAM_DATA_DIR": str(tmp / "userdata")}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "training.cli", *args]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)


def test_ddp_train_two_cpu_processes(tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = _torchrun("train", "--data", str(SAMPLE), "--style-name", "Target", "--preset", "ci_tiny",
                  "--size", "32", "--batch", "1", "--out", str(out), tmp=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "2 ranks hold identical generator weights" in r.stderr
    ckpt = load_checkpoint(out / "checkpoints" / "last.pt")
    assert ckpt["world_size"] == 2 and ckpt["step"] == 4
    assert (out / "export" / "target.safetensors").is_file()
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 4  # only rank 0 logs


@pytest.mark.skipif(not TEACHER.is_file(), reason="teacher not present")
def test_ddp_distill_shares_the_teacher_cache(tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = _torchrun("distill", "--teacher", str(TEACHER), "--photos", str(PHOTOS), "--max-photos", "4",
                  "--teacher-backend", "torch", "--preset", "ci_tiny", "--size", "32", "--batch", "1", "--out", str(out), tmp=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert len(list((out / "teacher_cache").glob("*/*.png"))) == 8  # 4 photos x 2 scales, split over ranks
    from cartoon_cam.inference.backends import create_backend
    from cartoon_cam.inference.style import read_style

    with create_backend(read_style(out / "export" / "hayao_lite.safetensors"), device="cpu") as b:
        assert b.process(np.zeros((24, 40, 3), np.uint8)).shape == (24, 40, 3)
