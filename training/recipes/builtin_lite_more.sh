#!/usr/bin/env bash
# First half of stage 4 of the built-in real-time styles (issue 11; builtin_lite_toon.sh runs it
# before the cel-shading fine-tune; alone the picture did not change, docs/TRAINING.md "stage 4
# probes"): each stage-3 student (RUNS_DIR/lowpass/ID,
# or the file shipped at commit 5c48ace, extracted from git into RUNS_DIR/stage3/) is fine-tuned on
# 900 photos instead of 240 (preset distill_lite_more: same topology and losses, 1200 steps), so its
# colours follow a rule rather than the 224 training photos'. Then export (ONNX twin), held-out eval
# against the teacher with stage 3 as the previous student, a grid, and a copy of the .onnx into
# resources/styles/ (check the grid and the numbers before committing it).
#
#   training/recipes/builtin_lite_more.sh [RUNS_DIR] [STEPS]       (repository root, .venv present,
#                                                                  ../shared beside the checkout)
#
# The first run of each teacher extends its cache (RUNS_DIR/teacher_cache) by 660 photos: ~15 min
# at 2 threads. Interrupted? Run the same command again: the cache keeps what it computed, a run
# with checkpoints/last.pt resumes exactly, a finished run is only re-evaluated. TEACHERS="hayao"
# does a subset. Times: docs/TRAINING.md, "stage 4 probes".
set -euo pipefail
RUNS=${1:-runs/builtin}
STEPS=${2:-1200}
MAX_PHOTOS=${MAX_PHOTOS:-900}
STAGE3_COMMIT=5c48ace
source "$(dirname "$0")/cartoongan_teachers.sh"  # TRAIN, SHARED, THREADS, NAME, LOOK_DRAWN, attribution, LICENCE, fine_tune_builtin, shipped_style
for t in ${TEACHERS:-hayao hosoda paprika shinkai}; do
  id=${t}_lite
  init="$RUNS/lowpass/$id/export/$id.onnx"
  [ -f "$init" ] || init=$(shipped_style "$STAGE3_COMMIT" "$id" "$RUNS/stage3")
  fine_tune_builtin "$t" "$RUNS/more/$id" distill_lite_more "$init" "$STEPS"
done
