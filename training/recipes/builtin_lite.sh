#!/usr/bin/env bash
# Distil the four CartoonGAN teachers into the built-in real-time styles (resources/styles/*_lite.onnx).
#
#   training/recipes/builtin_lite.sh [RUNS_DIR] [STEPS]        (from the repository root, venv active or
#                                                               .venv present; ../shared beside the checkout)
#
# Each style: teacher outputs cached for 400 photos of ../shared/photos/train (16 held out for eval),
# whole-image distillation with the distill_lite preset (the student looks at image-wide
# statistics, as its teacher does), export with an
# ONNX twin (what the app ships: the frozen app has no PyTorch), held-out eval, and a copy of the .onnx
# into resources/styles/. Re-running reuses the teacher cache. Timings: docs/TRAINING.md.
# The shipped paprika_lite and shinkai_lite were then continued to 5,000 steps:
#   cartoon-cam-train distill --out RUNS_DIR/paprika_lite --resume --steps 5000 --threads 1
# and re-exported (cartoon-cam-train export --ckpt RUNS_DIR/ID/checkpoints/last.pt --onnx ...).
set -euo pipefail
RUNS=${1:-runs/builtin}
STEPS=${2:-3000}
source "$(dirname "$0")/cartoongan_teachers.sh"  # TRAIN, SHARED, THREADS, NAME, attribution, LICENCE
declare -A LOOK=(
  [hayao]="Warm, painterly colours (reds and ochres) with smoothed, softly shaded surfaces."
  [hosoda]="Pale, airy colours with soft, smoothed shading."
  [paprika]="Saturated warm reds and deep shadows with smoothed, painterly surfaces."
  [shinkai]="Cool, muted tones with soft contrast and smoothed surfaces."
)
for t in ${TEACHERS:-hayao hosoda paprika shinkai}; do
  id=${t}_lite
  "$TRAIN" distill --teacher "$SHARED/models/cartoongan/$t.npz" --photos "$SHARED/photos/train" \
    --out "$RUNS/$id" --teacher-cache "$RUNS/teacher_cache" --max-photos 400 \
    --steps "$STEPS" --threads "$THREADS" --no-progress \
    --onnx --id "$id" --name "${NAME[$t]} (real-time)" \
    --description "${LOOK[$t]} Real-time student of CartoonGAN ${NAME[$t]}: it follows the teacher's colours more than its outlines." \
    --attribution "$(attribution "$t")" \
    --licence "$LICENCE"
  "$TRAIN" eval --run "$RUNS/$id" --style "$RUNS/$id/export/$id.onnx" --grid "$RUNS/$id/grid.jpg"
  cp "$RUNS/$id/export/$id.onnx" resources/styles/
done
