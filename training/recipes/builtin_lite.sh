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
set -euo pipefail
RUNS=${1:-runs/builtin}
STEPS=${2:-3000}
TRAIN=${TRAIN:-.venv/bin/cartoon-cam-train}
SHARED=${SHARED:-../shared}
THREADS=${THREADS:-2}
declare -A NAME=([hayao]="Hayao" [hosoda]="Hosoda" [paprika]="Paprika" [shinkai]="Shinkai")
declare -A LOOK=(
  [hayao]="Ghibli-like watercolour greens, soft shading and inked outlines"
  [hosoda]="bright, clean colours with light line work"
  [paprika]="saturated, high-contrast colours with painted textures"
  [shinkai]="luminous skies and crisp, cool-toned detail"
)
for t in ${TEACHERS:-hayao hosoda paprika shinkai}; do
  id=${t}_lite
  "$TRAIN" distill --teacher "$SHARED/models/cartoongan/$t.npz" --photos "$SHARED/photos/train" \
    --out "$RUNS/$id" --teacher-cache "$RUNS/teacher_cache" --max-photos 400 \
    --steps "$STEPS" --threads "$THREADS" --no-progress \
    --onnx --id "$id" --name "${NAME[$t]} (real-time)" \
    --description "${LOOK[$t]}. A small real-time student (about 1.2 GFLOP at 640x360) distilled from the CartoonGAN ${NAME[$t]} model." \
    --attribution "Distilled by cartoon_cam from the CartoonGAN ${NAME[$t]} generator (Y. Chen, Y.-K. Lai, Y.-J. Liu, CVPR 2018; weights released by the authors) on photos listed in ../shared/photos/train/manifest.tsv" \
    --licence "Research and non-commercial use only (follows the CartoonGAN research weights and the training photos' terms)"
  "$TRAIN" eval --run "$RUNS/$id" --style "$RUNS/$id/export/$id.onnx" --grid "$RUNS/$id/grid.jpg"
  cp "$RUNS/$id/export/$id.onnx" resources/styles/
done
