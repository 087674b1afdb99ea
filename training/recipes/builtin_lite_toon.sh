#!/usr/bin/env bash
# Stage 4 of the built-in real-time styles (issue 11): cel shading. Each student is first fine-tuned
# on 900 photos (preset distill_lite_more, STEPS_MORE steps from its stage-3 weights: RUNS_DIR/lowpass/ID,
# or the file shipped at commit 5c48ace, extracted from git into RUNS_DIR/stage3/), then gets lite's
# cel-shading layer (toon_levels 6) and is fine-tuned through it (preset distill_lite_toon, STEPS
# steps, same 900 photos). Then export (ONNX twin), held-out eval against the teacher with the
# stage-3 student shipped before (commit 389d7be) as the grid's previous-student column, and a copy
# of the .onnx into resources/styles/ (check the grid and the numbers before committing it).
#
#   training/recipes/builtin_lite_toon.sh [RUNS_DIR] [STEPS] [STEPS_MORE]   (repository root, .venv
#                                                                           present, ../shared beside)
#
# The first run of each teacher extends its cache (RUNS_DIR/teacher_cache) by 660 photos: ~15 min
# at 2 threads. Interrupted? Run the same command again: the cache keeps what it computed, a run
# with checkpoints/last.pt resumes exactly, a finished run is only re-evaluated. TEACHERS="hayao"
# does a subset. Times: docs/TRAINING.md, "stage 4".
set -euo pipefail
RUNS=${1:-runs/builtin}
STEPS=${2:-300}
STEPS_MORE=${3:-400}
MAX_PHOTOS=${MAX_PHOTOS:-900}
STAGE3_COMMIT=5c48ace
SHIPPED_COMMIT=389d7be
source "$(dirname "$0")/cartoongan_teachers.sh"  # TRAIN, SHARED, THREADS, NAME, LOOK_DRAWN, attribution, LICENCE, fine_tune_builtin
mkdir -p "$RUNS/stage3" "$RUNS/shipped3"
for t in ${TEACHERS:-hayao hosoda paprika shinkai}; do
  id=${t}_lite
  init="$RUNS/lowpass/$id/export/$id.onnx"
  if [ ! -f "$init" ]; then
    init="$RUNS/stage3/$id.onnx"
    [ -f "$init" ] || git show "$STAGE3_COMMIT:resources/styles/$id.onnx" > "$init"
  fi
  shipped="$RUNS/shipped3/$id.onnx"
  [ -f "$shipped" ] || git show "$SHIPPED_COMMIT:resources/styles/$id.onnx" > "$shipped"
  [ -f "$RUNS/more/$id/export/$id.onnx" ] ||
    fine_tune_builtin "$t" "$RUNS/more/$id" distill_lite_more "$init" "$STEPS_MORE"
  fine_tune_builtin "$t" "$RUNS/toon/$id" distill_lite_toon "$RUNS/more/$id/export/$id.onnx" "$STEPS" "$shipped"
done
