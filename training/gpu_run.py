"""The prepared GPU run of issue 12: one sub-command per call of the device tool.

    python -m training.gpu_run prepare [--photos N]        here, on the CPU: writes the carry folder
    python -m training.gpu_run plan                        here: what each call carries, against the limits
    python -m training.gpu_run check                       device: pytest -m cuda, environment
    python -m training.gpu_run bench                       device: bench/bench_gpu.py
    python -m training.gpu_run distill TEACHER [--steps N] [--budget-s S]
                                                           device: one teacher, resumable
    python -m training.gpu_run --dry-run                   here: all of the above at toy sizes, on the CPU

``training/recipes/gpu_run.sh`` wraps this. Everything a device command produces goes under ``$OUT``
(``--out``), and each command ends by checking ``$OUT`` against what the device tool brings back
(at most 8 files of at most 16 MiB each). What a call carries (working tree + carried paths) must
stay within 64 MiB: ``plan`` and the dry run check it. Only the packages of the GPU machine are used
(PyTorch, onnx, onnxruntime, OpenCV, numpy, pytest): the dry run blocks PyAV, PySide6 and platformdirs
to prove it.

Carry folder (``.gpu_carry/``, git-ignored; ``../shared`` does not travel)::

    photos/...              N training photos (train + held out), copied unchanged from ../shared
    teachers/T.npz          the CartoonGAN teachers (22 MB each: carry one per call)
    resume/T/T_last.pt.part*  a checkpoint brought back by an earlier distill call of teacher T
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

MIB = 1 << 20
CARRY_LIMIT = 64 * MIB  # working tree + carried paths, per call
DEFAULT_PHOTOS = 360  # carried training photos: a resumed distill call (tree + photos + teacher + checkpoint) fits the limit
RETURN_FILES = 8  # files brought back from $OUT, per call
RETURN_FILE_LIMIT = 16 * MIB  # each
PART_SIZE = 15 * MIB  # checkpoint pieces (an AnimeGANv2 student checkpoint is ~26 MB)
ONNX_LIMIT = 5_000_000  # bytes, fp16 quality style
TEACHERS = ("hayao", "hosoda", "paprika", "shinkai")
REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DEFAULT_CARRY = Path(".gpu_carry")
# What the GPU machine lacks (device KINDS.md): the dry run makes these unimportable.
ABSENT_ON_GPU = ("av", "PySide6", "shiboken6", "platformdirs", "pyvirtualcam", "sounddevice", "pytestqt")

NAME = {"hayao": "Hayao", "hosoda": "Hosoda", "paprika": "Paprika", "shinkai": "Shinkai"}
LOOK = {
    "hayao": "Warm, painterly colours (reds and ochres) with smoothed, softly shaded surfaces.",
    "hosoda": "Pale, airy colours with soft, smoothed shading.",
    "paprika": "Saturated warm reds and deep shadows with smoothed, painterly surfaces.",
    "shinkai": "Cool, muted tones with soft contrast and smoothed surfaces.",
}
LICENCE = "Non-commercial research use only (CartoonGAN research weights; training photos' terms)"


# --------------------------------------------------------------------------- sizes and limits


def tree_bytes(path: Path) -> int:
    """Bytes of a file, or of every file under a folder (0 if absent)."""
    if path.is_file():
        return path.stat().st_size
    if not path.is_dir():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def working_tree_bytes(repo: Path = REPO) -> int:
    """Bytes the device tool sends without ``carry``: tracked files plus untracked, not ignored ones."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=repo,
                         capture_output=True, check=True).stdout
    return sum((repo / n).stat().st_size for n in out.decode().split("\0") if n and (repo / n).is_file())


def check_return(out: Path) -> dict[str, Any]:
    """What ``out`` would bring back: file count and sizes against the device tool's limits."""
    files = sorted(p for p in out.rglob("*") if p.is_file()) if out.is_dir() else []
    sizes = {str(p.relative_to(out)): p.stat().st_size for p in files}
    big = [n for n, s in sizes.items() if s > RETURN_FILE_LIMIT]
    return {"files": sizes, "n_files": len(files), "ok": len(files) <= RETURN_FILES and not big,
            "too_big": big, "limit": f"{RETURN_FILES} files x {RETURN_FILE_LIMIT // MIB} MiB"}


def split_file(path: Path, dest: Path, name: str) -> list[Path]:
    """Cut ``path`` into ``dest/name.part0, .part1, ...`` of at most :data:`PART_SIZE` bytes."""
    parts = []
    with open(path, "rb") as f:
        i = 0
        while chunk := f.read(PART_SIZE):
            p = dest / f"{name}.part{i}"
            p.write_bytes(chunk)
            parts.append(p)
            i += 1
    return parts


def join_parts(src: Path, name: str, dest: Path) -> bool:
    """Reassemble ``src/name.part*`` into ``dest``; False if there are none."""
    parts = sorted(src.glob(f"{name}.part*"), key=lambda p: int(p.suffix.removeprefix(".part")))
    if not parts:
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "wb") as f:
        for p in parts:
            f.write(p.read_bytes())
    return True


# --------------------------------------------------------------------------- environment


def block_absent_modules(tmp: Path) -> Path:
    """Make :data:`ABSENT_ON_GPU` unimportable, here and in child processes that put the returned
    folder (a ``sitecustomize``) first on ``PYTHONPATH``."""
    d = tmp / "_gpu_blocker"
    d.mkdir(parents=True, exist_ok=True)
    code = (
        "import importlib.abc, sys\n"
        f"_ABSENT = {ABSENT_ON_GPU!r}\n"
        "class _Absent(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in _ABSENT:\n"
        "            raise ModuleNotFoundError(f'No module named {name!r} (not on the GPU machine)', name=name)\n"
        "sys.meta_path.insert(0, _Absent())\n")
    (d / "sitecustomize.py").write_text(code, encoding="utf-8")
    exec(compile(code, str(d / "sitecustomize.py"), "exec"), {})  # here too
    return d


def child_env(work: Path, pythonpath: Sequence[str] = ()) -> dict[str, str]:
    """Environment for the recipe's child processes: ``pythonpath`` and the repository importable,
    user folders under ``work`` (so nothing needs platformdirs; set here too), unbuffered output."""
    env = dict(os.environ)
    path = [*pythonpath, str(REPO), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])]
    dirs = {"CARTOON_CAM_DATA_DIR": str(work / "userdata"), "XDG_CACHE_HOME": str(work / "cache")}
    os.environ.update(dirs)  # for the steps run in this process
    env.update(PYTHONPATH=os.pathsep.join(path), PYTHONUNBUFFERED="1", **dirs)
    return env


def run_logged(cmd: Sequence[str], log: Path, env: dict[str, str], budget_s: float | None = None,
               grace_s: float = 90.0) -> tuple[int, bool]:
    """Run ``cmd`` appending its output to ``log``. After ``budget_s`` seconds it gets SIGINT (a
    training loop then checkpoints the step in progress and stops), after ``grace_s`` more it is
    killed. Returns (exit code, whether the budget ran out)."""
    with open(log, "a", encoding="utf-8") as f:
        f.write(f"\n$ {' '.join(cmd)}\n")
        f.flush()
        proc = subprocess.Popen(list(cmd), stdout=f, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        try:
            return proc.wait(timeout=budget_s), False
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
            try:
                return proc.wait(timeout=grace_s), True
            except subprocess.TimeoutExpired:
                proc.kill()
                return proc.wait(), True


def run_inline(main: Any, argv: Sequence[str], log: Path) -> int:
    """``main(argv)`` of a CLI in this process (saves a PyTorch import per step), its stdout appended
    to ``log``; an exception is logged and returned as exit code 1."""
    import traceback

    with open(log, "a", encoding="utf-8") as f, contextlib.redirect_stdout(f):
        print(f"\n$ {getattr(main, '__module__', '?')} {' '.join(argv)}", flush=True)
        try:
            return int(main(list(argv)) or 0)
        except SystemExit as e:
            return e.code if isinstance(e.code, int) else 1
        except Exception:  # noqa: BLE001 - reported in the log and the summary
            traceback.print_exc(file=f)
            return 1


def gpu_info() -> dict[str, Any]:
    """Versions and the GPU PyTorch sees (empty device fields without CUDA)."""
    import platform

    import torch

    info: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__,
                            "cuda": torch.version.cuda, "cuda_available": torch.cuda.is_available()}
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        info.update(gpu=p.name, sm=f"{p.major}.{p.minor}", multiprocessors=p.multi_processor_count,
                    memory_gib=round(p.total_memory / 2**30, 1), cudnn=torch.backends.cudnn.version())
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        info["nvidia_smi"] = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,clocks.max.sm,power.limit", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20).stdout.strip()
    return info


# --------------------------------------------------------------------------- here: prepare, plan


def select_photos(photos: Path, n: int, seed: int = 0, holdout: int = 16) -> list[Path]:
    """The ``n`` photos the lite recipe uses (``--max-photos n`` of distill's deterministic split)."""
    from .distill import split_photos

    train, held = split_photos(photos, seed, holdout, n)
    return held + train


def prepare(carry: Path, shared: Path, n_photos: int, teachers: Sequence[str]) -> dict[str, Any]:
    """Write the carry folder: ``n_photos`` photos (unchanged files, relative paths kept) and the
    teachers' ``.npz``. Returns the sizes."""
    src = shared / "photos" / "train"
    chosen = select_photos(src, n_photos)
    dst = carry / "photos"
    if dst.exists():
        shutil.rmtree(dst)
    for p in chosen:
        q = dst / p.relative_to(src)
        q.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, q)
    (carry / "teachers").mkdir(parents=True, exist_ok=True)
    for t in teachers:
        shutil.copyfile(shared / "models" / "cartoongan" / f"{t}.npz", carry / "teachers" / f"{t}.npz")
    info = {"photos": len(chosen), "photos_bytes": tree_bytes(dst),
            "teachers": {t: tree_bytes(carry / "teachers" / f"{t}.npz") for t in teachers}}
    (carry / "prepared.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    return info


def student_ckpt_bytes() -> int:
    """Size of a distill checkpoint of the default ``animeganv2`` student (weights + 2 Adam moments,
    float32, plus a little bookkeeping): what a resumed call carries."""
    from cartoon_cam.inference.registry import create_model

    n = sum(p.numel() for p in create_model("animeganv2").parameters())
    return 3 * 4 * n + 64 * 1024


def plan(carry: Path, repo: Path = REPO, *, ckpt_bytes: int | None = None,
         photos_bytes: int | None = None, teacher_bytes: int | None = None) -> dict[str, Any]:
    """Bytes each device call sends (working tree + carry) against :data:`CARRY_LIMIT`. Missing
    pieces are estimated (``*_bytes`` arguments override the measurements)."""
    tree = working_tree_bytes(repo)
    photos = photos_bytes if photos_bytes is not None else tree_bytes(carry / "photos")
    npz = [tree_bytes(p) for p in sorted((carry / "teachers").glob("*.npz"))]
    teacher = teacher_bytes if teacher_bytes is not None else (max(npz) if npz else 0)
    ckpt = ckpt_bytes if ckpt_bytes is not None else student_ckpt_bytes()
    calls = {
        "check+bench (+ one teacher, for its fp16 error)": tree + teacher,
        "distill (first call of a teacher)": tree + photos + teacher,
        "distill (resumed: + checkpoint)": tree + photos + teacher + ckpt,
    }
    return {"working_tree": tree, "photos": photos, "teacher": teacher, "checkpoint": ckpt,
            "calls": {k: {"bytes": v, "mib": round(v / MIB, 1), "ok": v <= CARRY_LIMIT} for k, v in calls.items()},
            "limit_mib": CARRY_LIMIT // MIB, "ok": all(v <= CARRY_LIMIT for v in calls.values())}


# --------------------------------------------------------------------------- device: check, bench


def cmd_check(out: Path, work: Path, env: dict[str, str], dry: bool) -> dict[str, Any]:
    """``pytest -m cuda`` (skipped without CUDA) → check.log, check.xml, check.json."""
    log = out / "check.log"
    t0 = time.perf_counter()
    rc, _ = run_logged([sys.executable, "-m", "pytest", "-m", "cuda", "-q", "-p", "no:cacheprovider",
                        "-p", "no:pytest-qt", "tests/test_cuda.py", f"--junitxml={out / 'check.xml'}"],
                       log, env, budget_s=240)
    res = {"pytest_rc": rc, "seconds": round(time.perf_counter() - t0, 1), **gpu_info()}
    try:
        import xml.etree.ElementTree as ET

        s = ET.parse(out / "check.xml").getroot()
        s = s if s.tag == "testsuite" else s[0]
        res.update({k: int(s.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")})
    except (OSError, ET.ParseError, IndexError):
        pass
    (out / "check.json").write_text(json.dumps(res, indent=2), encoding="utf-8")
    res["ok"] = rc in (0, 5) if dry else rc == 0  # 5: nothing selected/ran (dry: all skipped is fine)
    return res


def cmd_bench(out: Path, work: Path, env: dict[str, str], dry: bool, carry: Path,
              compile_modes: bool = True) -> dict[str, Any]:
    """``bench/bench_gpu.py`` → bench.json, bench.md, bench.log."""
    cmd = [sys.executable, str(REPO / "bench" / "bench_gpu.py"), "--out", str(out)]
    if not compile_modes:
        cmd.append("--no-compile")
    teachers = sorted((carry / "teachers").glob("*.npz"))
    if teachers:
        cmd += ["--teacher", str(teachers[0])]
    if dry:
        cmd.append("--dry-run")
    t0 = time.perf_counter()
    rc, over = run_logged(cmd, out / "bench.log", env, budget_s=600 if dry else 420, grace_s=10)
    return {"rc": rc, "over_budget": over, "seconds": round(time.perf_counter() - t0, 1),
            "ok": rc == 0 and (out / "bench.json").is_file()}


# --------------------------------------------------------------------------- device: distill


def _last_metrics(run: Path) -> dict[str, Any]:
    try:
        lines = (run / "metrics.jsonl").read_text(encoding="utf-8").split("\n")
        return json.loads([ln for ln in lines if ln.strip()][-1])
    except (OSError, IndexError, ValueError):
        return {}


def cmd_distill(out: Path, work: Path, env: dict[str, str], dry: bool, carry: Path, teacher: str,
                steps: int, budget_s: float, stop_after: int | None = None) -> dict[str, Any]:
    """Distil CartoonGAN ``teacher`` into an ``animeganv2`` student (preset ``distill_animeganv2``,
    AMP), for at most ``budget_s`` seconds of training, resuming from ``carry/resume/T`` when a
    checkpoint is there; export an fp16 ONNX style and evaluate it (also when stopped early, as a
    preview). → T.onnx (fp16, fused uint8 graph), T.safetensors (fp16 weights), T_eval.json,
    T_grid.jpg, T_summary.json, T_log.txt, T_last.pt.part0/1: 8 files."""
    import torch

    t_start = time.perf_counter()
    npz = carry / "teachers" / f"{teacher}.npz"
    if not npz.is_file():
        raise FileNotFoundError(f"{npz} is not here: carry it (gpu_run prepare writes it)")
    run = work / "runs" / teacher
    log = out / f"{teacher}_log.txt"
    resumed = join_parts(carry / "resume" / teacher, f"{teacher}_last.pt", run / "checkpoints" / "last.pt")
    py = [sys.executable, "-m", "training"]
    args = ["distill", "--preset", "distill_animeganv2", "--teacher", str(npz), "--photos", str(carry / "photos"),
            "--out", str(run), "--steps", str(steps), "--no-progress",
            "--id", teacher, "--name", NAME.get(teacher, teacher.title()),
            "--description", f"{LOOK.get(teacher, '')} Quality student of CartoonGAN {NAME.get(teacher, teacher)}.",
            "--attribution", f"Distilled by cartoon_cam from the CartoonGAN {NAME.get(teacher, teacher)} generator "
                             "(Y. Chen, Y.-K. Lai, Y.-J. Liu, CVPR 2018; weights released by the authors) on photos "
                             "listed in ../shared/photos/train/manifest.tsv",
            "--licence", LICENCE]
    if dry:  # toy sizes: 48 px crops of 64 px photos, batch 2, one scale, 2 held out, no AMP, CPU
        args += ["--size", "48", "--batch", "2", "--photo-max-side", "64", "--workers", "0", "--amp", "off",
                 "--threads", "2", "--teacher-backend", "torch", "--set", "data.scales=[1.0]",
                 "--set", "data.holdout=2", "--set", "data.n_val=1", "--set", "train.log_every=1",
                 "--set", "train.ckpt_every=1000", "--set", "train.val_every=1000",
                 "--set", "optim.warmup_steps=0"]
    else:
        args += ["--amp", "auto", "--workers", "8", "--teacher-device", "cuda"]
    if resumed:
        args.append("--resume")
    if stop_after is not None:
        args += ["--stop-after", str(stop_after)]
    rc, over = run_logged(py + args, log, env, budget_s=budget_s)
    ckpt_file = run / "checkpoints" / "last.pt"
    step = int(torch.load(ckpt_file, map_location="cpu", weights_only=True)["step"]) if ckpt_file.is_file() else 0
    res: dict[str, Any] = {"teacher": teacher, "resumed": resumed, "distill_rc": rc, "stopped_by_budget": over,
                           "step": step, "steps": steps, "finished": step >= steps,
                           "train_seconds": round(time.perf_counter() - t_start, 1), "last_metrics": _last_metrics(run)}
    if step:
        # fp16 weights (.safetensors, for PyTorch on CUDA); the training export's --onnx twin is float32
        # (8.7 MB), so the ONNX style comes from the app's fused fp16 export (uint8 in/out, ~4.3 MB).
        exp = run / "export_fp16"
        shutil.rmtree(exp, ignore_errors=True)
        from cartoon_cam.cli import main as app_cli

        from .cli import main as train_cli

        rc_e = run_inline(train_cli, ["export", "--ckpt", str(ckpt_file), "--out", str(exp), "--fp16", "--id", teacher],
                          log)
        st, onnx = exp / f"{teacher}.safetensors", exp / f"{teacher}.onnx"
        if st.is_file():
            shutil.copyfile(st, out / st.name)
            rc_e = rc_e or run_inline(app_cli, ["styles", "export", str(st), "--onnx", str(onnx), "--fp16"], log)
        res.update(export_rc=rc_e, onnx_bytes=tree_bytes(onnx), onnx_ok=0 < tree_bytes(onnx) <= ONNX_LIMIT)
        if onnx.is_file():
            shutil.copyfile(onnx, out / onnx.name)
            ev = ["eval", "--run", str(run), "--style", str(onnx), "--json", str(out / f"{teacher}_eval.json"),
                  "--grid", str(out / f"{teacher}_grid.jpg")]
            ev += ["--n", "1", "--runs", "1", "--speed", "64x64"] if dry else ["--n", "16", "--runs", "10"]
            res["eval_rc"] = run_inline(train_cli, ev, log)
        res["checkpoint_parts"] = [p.name for p in split_file(ckpt_file, out, f"{teacher}_last.pt")]
        res["checkpoint_bytes"] = ckpt_file.stat().st_size
    res["seconds"] = round(time.perf_counter() - t_start, 1)
    (out / f"{teacher}_summary.json").write_text(json.dumps(res, indent=2), encoding="utf-8")
    res["ok"] = bool(step) and res.get("onnx_ok", False) and res.get("eval_rc") == 0
    return res


# --------------------------------------------------------------------------- dry run


def dry_run(out: Path) -> dict[str, Any]:
    """Every device command at toy sizes on the CPU, the GPU machine's missing packages blocked:
    check, bench, a distill call stopped half-way and a second one resumed from the checkpoint it
    brought back. Each simulated call gets its own ``out/<call>/`` and is checked against the return
    limits; the carry plan of the real run is checked against 64 MiB."""
    t0 = time.perf_counter()
    if out.exists():
        shutil.rmtree(out)
    work = out / "work"
    carry = work / "carry"
    env = child_env(work, [str(block_absent_modules(work))])
    report: dict[str, Any] = {"calls": {}}
    teacher = "hayao"
    report["prepare"] = prepare(carry, SHARED, 5, [teacher])

    def call(name: str, fn: Any, *a: Any) -> dict[str, Any]:
        o = out / name
        o.mkdir(parents=True)
        t = time.perf_counter()
        r = fn(o, work, env, True, *a)
        r["call_seconds"] = round(time.perf_counter() - t, 1)
        r["return"] = check_return(o)
        report["calls"][name] = r
        return r

    call("check", lambda o, w, e, d: cmd_check(o, w, e, d))
    call("bench", cmd_bench, carry)
    first = call("distill_1", cmd_distill, carry, teacher, 4, 600.0, 2)  # as if the budget ran out
    # What the next call would carry: the checkpoint pieces the first one brought back.
    resume = carry / "resume" / teacher
    resume.mkdir(parents=True)
    for p in first.get("checkpoint_parts", []):
        shutil.copyfile(out / "distill_1" / p, resume / p)
    shutil.rmtree(work / "runs")  # a fresh machine: nothing but the carry survives
    call("distill_2", cmd_distill, carry, teacher, 4, 600.0)
    # The real run: the working tree, the real teacher, 360 photos and this (full-size) checkpoint.
    real_photos = sum(p.stat().st_size for p in select_photos(SHARED / "photos" / "train", DEFAULT_PHOTOS))
    report["plan"] = plan(carry, ckpt_bytes=report["calls"]["distill_2"].get("checkpoint_bytes"),
                          photos_bytes=real_photos,
                          teacher_bytes=tree_bytes(SHARED / "models" / "cartoongan" / f"{teacher}.npz"))
    calls = report["calls"]
    report["ok"] = (all(c.get("ok") and c["return"]["ok"] for c in calls.values()) and report["plan"]["ok"]
                    and calls["distill_2"].get("resumed") and calls["distill_2"].get("finished"))
    report["seconds"] = round(time.perf_counter() - t0, 1)
    shutil.rmtree(work / "carry" / "teachers", ignore_errors=True)  # 22 MB copy, not needed any more
    (out / "dry_run.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point (see the module docstring); returns the exit code."""
    p = argparse.ArgumentParser(prog="gpu_run", description=__doc__.split("\n\n")[0])
    p.add_argument("--dry-run", action="store_true", help="all commands at toy sizes on the CPU")
    p.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or "runs/gpu_out"),
                   help="where results go (default $OUT)")
    p.add_argument("--carry", type=Path, default=DEFAULT_CARRY, help="carry folder (default .gpu_carry)")
    p.add_argument("--work", type=Path, default=Path("runs/gpu_work"), help="scratch folder (run dirs)")
    p.add_argument("command", nargs="*", metavar="COMMAND",
                   help="prepare | plan | check | bench | distill TEACHER (check and bench may be chained)")
    p.add_argument("--photos", type=int, default=DEFAULT_PHOTOS, help="prepare: photos to carry")
    p.add_argument("--teachers", default=",".join(TEACHERS), help="prepare: teachers to copy")
    p.add_argument("--no-compile", action="store_true", help="bench: skip torch.compile (saves minutes)")
    p.add_argument("--steps", type=int, default=10000, help="distill: total steps of the run")
    p.add_argument("--budget-s", type=float, default=400.0, help="distill: training seconds in this call")
    a = p.parse_args(argv)
    a.out, a.carry, a.work = a.out.resolve(), a.carry.resolve(), a.work.resolve()
    if a.dry_run:
        r = dry_run(a.out)
        print(json.dumps({k: r[k] for k in ("ok", "seconds", "plan")}, indent=2))
        return 0 if r["ok"] else 1
    if not a.command:
        p.error("give a COMMAND (or --dry-run)")
    cmd, rest = a.command[0], a.command[1:]
    if cmd == "prepare":
        print(json.dumps(prepare(a.carry, SHARED, a.photos, [t for t in a.teachers.split(",") if t]), indent=2))
        print(json.dumps(plan(a.carry), indent=2))
        return 0
    if cmd == "plan":
        r = plan(a.carry)
        print(json.dumps(r, indent=2))
        return 0 if r["ok"] else 1
    a.out.mkdir(parents=True, exist_ok=True)
    env = child_env(a.work)
    results: dict[str, Any] = {}
    if cmd == "distill":
        if len(rest) != 1:
            p.error("distill takes one TEACHER (" + ", ".join(TEACHERS) + ")")
        results["distill"] = cmd_distill(a.out, a.work, env, False, a.carry, rest[0], a.steps, a.budget_s)
    else:
        for c in a.command:
            if c == "check":
                results[c] = cmd_check(a.out, a.work, env, False)
            elif c == "bench":
                results[c] = cmd_bench(a.out, a.work, env, False, a.carry, not a.no_compile)
            else:
                p.error(f"unknown command {c!r}")
    ret = check_return(a.out)
    print(json.dumps({"results": results, "return": ret}, indent=2))
    return 0 if ret["ok"] and all(r.get("ok") for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
