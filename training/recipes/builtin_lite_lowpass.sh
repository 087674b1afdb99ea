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
TRAIN=${TRAIN:-.venv/bin/cartoon-cam-train}
SHARED=${SHARED:-../shared}
THREADS=${THREADS:-2}
source "$(dirname "$0")/cartoongan_teachers.sh"  # NAME, attribution, LICENCE
declare -A LOOK=(
  [hayao]="Warm reds and ochres, flat painted shading and dark drawn outlines."
  [hosoda]="Pale, airy colours, flat shading and fine dark outlines."
  [paprika]="Saturated warm reds, deep shadows and bold drawn outlines."
  [shinkai]="Cool, muted tones, soft contrast and fine drawn outlines."
)
for t in ${TEACHERS:-hayao hosoda paprika shinkai}; do
  id=${t}_lite
  grown="$RUNS/grown/$id/export/$id.onnx"
  run="$RUNS/lowpass/$id"
  [ -f "$grown" ] || { echo "run builtin_lite_grown.sh first: $grown is missing" >&2; exit 2; }
  resume=()
  [ -f "$run/checkpoints/last.pt" ] && resume=(--resume)
  if [ ! -f "$run/export/$id.onnx" ]; then
    "$TRAIN" distill --teacher "$SHARED/models/cartoongan/$t.npz" --photos "$SHARED/photos/train" \
      --out "$run" --teacher-cache "$RUNS/teacher_cache" --max-photos "$MAX_PHOTOS" \
      --preset distill_lite_lowpass --init-from "$grown" "${resume[@]}" \
      --steps "$STEPS" --threads "$THREADS" --no-progress \
      --onnx --id "$id" --name "${NAME[$t]} (real-time)" \
      --description "${LOOK[$t]} Real-time student of CartoonGAN ${NAME[$t]}." \
      --attribution "$(attribution "$t")" \
      --licence "$LICENCE"
  fi
  "$TRAIN" eval --run "$run" --style "$run/export/$id.onnx" --baseline "$RUNS/stage2/$id.onnx" \
    --grid "$run/grid.jpg" --grid-rows 0,1,3,6,10 --steady 4 --teacher-steady 2
  cp "$run/export/$id.onnx" resources/styles/
done
