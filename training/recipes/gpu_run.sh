#!/usr/bin/env bash
# The prepared GPU run of issue 12: one sub-command per call of the device tool (docs/TRAINING.md,
# "GPU run (issue 12)"). From the repository root:
#
#   training/recipes/gpu_run.sh prepare            here, CPU: .gpu_carry/ (360 photos, the 4 teachers)
#   training/recipes/gpu_run.sh plan               here: bytes each call carries vs the 64 MiB limit
#   training/recipes/gpu_run.sh check bench        device: pytest -m cuda, then the benchmark (~5 min)
#   training/recipes/gpu_run.sh distill hayao      device: one teacher, <= 400 s of training, resumable
#   training/recipes/gpu_run.sh --dry-run          here: all of it at toy sizes on the CPU (< 2 min)
#
# Results go to $OUT (default runs/gpu_out); PYTHON defaults to python3 (the GPU machine's PyTorch),
# else .venv/bin/python. Extra options (--steps, --budget-s, --photos): python -m training.gpu_run -h
set -euo pipefail
cd "$(dirname "$0")/../.."
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
exec "$PYTHON" -m training.gpu_run "$@"
