#!/usr/bin/env bash
# Stage 3b of the built-in real-time styles (issue 11), after builtin_lite_grown.sh: each grown
# stage-3 student (RUNS_DIR/grown/ID/export/ID.onnx) is pruned back to the stage-2 size — its
# 1/2-resolution and extra body blocks dropped (preset distill_lite_lowpass, model.init_prune), the
# low-pass filters against camera noise kept — and fine-tuned briefly; then export, held-out eval
# against the teacher and the stage-2 student, a grid, and a copy of the .onnx into resources/styles/.
#
#   training/recipes/builtin_lite_lowpass.sh [RUNS_DIR] [STEPS]
#
# Resumable like the other recipes: run the same command again. TEACHERS="hayao paprika" does a subset.
set -euo pipefail
RUNS=${1:-runs/builtin}
STEPS=${2:-200}
MAX_PHOTOS=${MAX_PHOTOS:-240}
source "$(dirname "$0")/cartoongan_teachers.sh"  # TRAIN, SHARED, THREADS, NAME, LOOK_DRAWN, attribution, LICENCE, fine_tune_builtin, shipped_style
for t in ${TEACHERS:-hayao hosoda paprika shinkai}; do
  id=${t}_lite
  grown="$RUNS/grown/$id/export/$id.onnx"
  [ -f "$grown" ] || { echo "run builtin_lite_grown.sh first: $grown is missing" >&2; exit 2; }
  fine_tune_builtin "$t" "$RUNS/lowpass/$id" distill_lite_lowpass "$grown" "$STEPS" "$RUNS/stage2/$id.onnx"
done
