#!/usr/bin/env bash
# Stage 5 of the built-in real-time styles (issue 11): the cel-shading layer decided at half
# resolution and with a gradient-adaptive slope (preset distill_lite_cel). Each student starts
# from the stage-4 file shipped at commit e620bc5 (extracted from git into RUNS_DIR/shipped4/, which
# is also the grid's previous-student column) and is fine-tuned STEPS steps through the new layer on
# the same 900 photos. Then export (ONNX twin), held-out eval against the teacher, and a copy of the
# .onnx into resources/styles/ (check the grid and the numbers before committing it).
#
#   training/recipes/builtin_lite_cel.sh [RUNS_DIR] [STEPS]   (repository root, .venv present,
#                                                              ../shared beside)
#
# On a fresh machine the first run of each teacher builds its 900-photo cache (RUNS_DIR/teacher_cache):
# ~20 min at 2 threads. Interrupted? Run the same command again: the cache keeps what it computed,
# a run with checkpoints/last.pt resumes exactly, a finished run is only re-evaluated.
# TEACHERS="hayao" does a subset. Times: docs/TRAINING.md, "stage 5".
set -euo pipefail
RUNS=${1:-runs/builtin}
STEPS=${2:-150}
MAX_PHOTOS=${MAX_PHOTOS:-900}
SHIPPED_COMMIT=e620bc5
source "$(dirname "$0")/cartoongan_teachers.sh"  # TRAIN, SHARED, THREADS, NAME, LOOK_DRAWN, attribution, LICENCE, fine_tune_builtin, shipped_style
for t in ${TEACHERS:-hayao hosoda paprika shinkai}; do
  id=${t}_lite
  shipped=$(shipped_style "$SHIPPED_COMMIT" "$id" "$RUNS/shipped4")
  fine_tune_builtin "$t" "$RUNS/cel/$id" distill_lite_cel "$shipped" "$STEPS"
done
