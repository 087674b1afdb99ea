#!/usr/bin/env bash
# Stage 4 of the built-in real-time styles (issue 11): cel shading. Each student is first fine-tuned
# on 900 photos (builtin_lite_more.sh, STEPS_MORE steps from its stage-3 weights), then gets lite's
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
SHIPPED_COMMIT=389d7be
source "$(dirname "$0")/cartoongan_teachers.sh"  # TRAIN, SHARED, THREADS, NAME, LOOK_DRAWN, attribution, LICENCE, fine_tune_builtin, shipped_style
for t in ${TEACHERS:-hayao hosoda paprika shinkai}; do
  id=${t}_lite
  shipped=$(shipped_style "$SHIPPED_COMMIT" "$id" "$RUNS/shipped3")
  # first half: the 900-photo fine-tune from the stage-3 weights, by its own recipe
  [ -f "$RUNS/more/$id/export/$id.onnx" ] ||
    TEACHERS=$t MAX_PHOTOS=$MAX_PHOTOS "$(dirname "$0")/builtin_lite_more.sh" "$RUNS" "$STEPS_MORE"
  fine_tune_builtin "$t" "$RUNS/toon/$id" distill_lite_toon "$RUNS/more/$id/export/$id.onnx" "$STEPS" "$shipped"
done
