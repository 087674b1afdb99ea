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
STEPS=${2:-800}
MAX_PHOTOS=${MAX_PHOTOS:-240}
INIT=${INIT:-$RUNS/stage2}
STAGE2_COMMIT=ff7e6f8
source "$(dirname "$0")/cartoongan_teachers.sh"  # TRAIN, SHARED, THREADS, NAME, LOOK_DRAWN, attribution, LICENCE, fine_tune_builtin, shipped_style
for t in ${TEACHERS:-hayao hosoda paprika shinkai}; do
  id=${t}_lite
  init=$(shipped_style "$STAGE2_COMMIT" "$id" "$INIT")
  fine_tune_builtin "$t" "$RUNS/grown/$id" distill_lite_grown "$init" "$STEPS"
done
