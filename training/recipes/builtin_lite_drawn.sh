#!/usr/bin/env bash
# Stage 2 of the built-in real-time styles (issue 11): teach the colour students to draw their
# teacher's outlines. Each of hayao/hosoda/paprika/shinkai_lite starts from its stage-1 student
# (builtin_lite.sh: the files shipped at commit 4ceb187, extracted from git if INIT has none) and is
# fine-tuned with the distill_lite_drawn preset: ink (black-hat) quantile loss, ink-weighted pixel
# L1, camera-noise augmentation. Then export (ONNX twin), held-out eval with the look metrics, a
# grid, and a copy of the .onnx into resources/styles/.
#
#   training/recipes/builtin_lite_drawn.sh [RUNS_DIR] [STEPS]      (repository root, .venv present,
#                                                                  ../shared beside the checkout)
#
# Interrupted (end of a working session, Ctrl-C)? Run the same command again: a run folder that has
# checkpoints/last.pt is resumed exactly (--resume), finished runs are only re-evaluated, and the
# teacher cache (RUNS_DIR/teacher_cache) is reused. TEACHERS="hayao paprika" does a subset;
# THREADS=1 with two TEACHERS lists in parallel shares 2 cores. Timings: docs/TRAINING.md.
set -euo pipefail
RUNS=${1:-runs/builtin}
STEPS=${2:-600}
MAX_PHOTOS=${MAX_PHOTOS:-240}
INIT=${INIT:-$RUNS/stage1}
STAGE1_COMMIT=4ceb187
source "$(dirname "$0")/cartoongan_teachers.sh"  # TRAIN, SHARED, THREADS, NAME, LOOK_DRAWN, attribution, LICENCE, fine_tune_builtin, shipped_style
for t in ${TEACHERS:-hayao hosoda paprika shinkai}; do
  id=${t}_lite
  run="$RUNS/$id"
  init=$(shipped_style "$STAGE1_COMMIT" "$id" "$INIT")
  fine_tune_builtin "$t" "$run" distill_lite_drawn "$init" "$STEPS"
done
