#!/usr/bin/env bash
# Stage 3 of the built-in real-time styles (issue 11): each of hayao/hosoda/paprika/shinkai_lite
# starts from its stage-2 student (the files shipped at commit ff7e6f8, extracted from git into
# INIT) grown by the distill_lite_grown preset — 2 residual blocks at 1/2 resolution and 2 more in
# the 1/8 body, all starting as the identity; a 5x5 low-pass on the linear skip path and a 3x3 one
# on the network's input (camera noise) — and fine-tuned with the ink losses and camera-noise
# augmentation. Then export (ONNX twin), held-out eval with the look metrics against the teacher
# and the stage-2 student, a grid, and a copy of the .onnx into resources/styles/.
#
#   training/recipes/builtin_lite_grown.sh [RUNS_DIR] [STEPS]      (repository root, .venv present,
#                                                                  ../shared beside the checkout)
#
# Interrupted (end of a working session, Ctrl-C)? Run the same command again: a run folder that has
# checkpoints/last.pt is resumed exactly (--resume), finished runs are only re-evaluated, and the
# teacher cache (RUNS_DIR/teacher_cache) is reused. TEACHERS="hayao paprika" does a subset. Times:
# docs/TRAINING.md, "stage 3".
set -euo pipefail
RUNS=${1:-runs/builtin}
STEPS=${2:-1500}
MAX_PHOTOS=${MAX_PHOTOS:-240}
TRAIN=${TRAIN:-.venv/bin/cartoon-cam-train}
SHARED=${SHARED:-../shared}
THREADS=${THREADS:-2}
INIT=${INIT:-$RUNS/stage2}
STAGE2_COMMIT=ff7e6f8
source "$(dirname "$0")/cartoongan_teachers.sh"  # NAME, attribution, LICENCE
declare -A LOOK=(
  [hayao]="Warm reds and ochres, flat painted shading and dark drawn outlines."
  [hosoda]="Pale, airy colours, flat shading and fine dark outlines."
  [paprika]="Saturated warm reds, deep shadows and bold drawn outlines."
  [shinkai]="Cool, muted tones, soft contrast and fine drawn outlines."
)
mkdir -p "$INIT"
for t in ${TEACHERS:-hayao hosoda paprika shinkai}; do
  id=${t}_lite
  run="$RUNS/grown/$id"
  [ -f "$INIT/$id.onnx" ] || git show "$STAGE2_COMMIT:resources/styles/$id.onnx" > "$INIT/$id.onnx"
  resume=()
  [ -f "$run/checkpoints/last.pt" ] && resume=(--resume)
  if [ ! -f "$run/export/$id.onnx" ]; then
    "$TRAIN" distill --teacher "$SHARED/models/cartoongan/$t.npz" --photos "$SHARED/photos/train" \
      --out "$run" --teacher-cache "$RUNS/teacher_cache" --max-photos "$MAX_PHOTOS" \
      --preset distill_lite_grown --init-from "$INIT/$id.onnx" "${resume[@]}" \
      --steps "$STEPS" --threads "$THREADS" --no-progress \
      --onnx --id "$id" --name "${NAME[$t]} (real-time)" \
      --description "${LOOK[$t]} Real-time student of CartoonGAN ${NAME[$t]}." \
      --attribution "$(attribution "$t")" \
      --licence "$LICENCE"
  fi
  # grid rows: a house under the sky, two faces, a face behind a mask, food (photo | teacher | stage 2 | new)
  "$TRAIN" eval --run "$run" --style "$run/export/$id.onnx" --baseline "$INIT/$id.onnx" \
    --grid "$run/grid.jpg" --grid-rows 0,1,3,6,10 --steady 4 --teacher-steady 2
  cp "$run/export/$id.onnx" resources/styles/
done
