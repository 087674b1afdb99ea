#!/usr/bin/env bash
# Stage 6 of the built-in real-time styles (issue 11): calmer on a still camera. The two styles whose
# noise flicker missed the issue's 0.30 after stage 5 (Hayao 0.316, Hosoda 0.318) are fine-tuned
# with steadiness 8 instead of 5 and heavier ink terms (16 / 8) that keep their lines, preset
# distill_lite_calm, in two runs: 150 steps at lr 1e-4 from the stage-5 file shipped at commit
# 85df0f5 (extracted from git into RUNS_DIR/shipped5/, also the grid's previous-student column),
# then 600 steps at 2e-4 (a warm restart) from that run's student. Then the held-out eval against
# the teacher and a copy of the .onnx into resources/styles/ (check the grid and the numbers first).
#
#   training/recipes/builtin_lite_calm.sh [RUNS_DIR]   (repository root, .venv present, ../shared beside)
#
# The teacher caches of stages 4-5 (RUNS_DIR/teacher_cache, 900 photos) are reused; on a fresh
# machine the first run of each teacher builds them (~20 min at 2 threads). Interrupted? Run the same
# command again: the cache keeps what it computed, a run with checkpoints/last.pt resumes exactly,
# a finished run is skipped (the second only re-evaluated). TEACHERS="hayao" does a subset.
# Times: docs/TRAINING.md, "stage 6".
set -euo pipefail
RUNS=${1:-runs/builtin}
MAX_PHOTOS=${MAX_PHOTOS:-900}
SHIPPED_COMMIT=85df0f5
source "$(dirname "$0")/cartoongan_teachers.sh"  # TRAIN, SHARED, THREADS, NAME, LOOK_DRAWN, attribution, LICENCE, train_builtin, fine_tune_builtin, shipped_style
for t in ${TEACHERS:-hayao hosoda}; do
  id=${t}_lite
  shipped=$(shipped_style "$SHIPPED_COMMIT" "$id" "$RUNS/shipped5")
  train_builtin "$t" "$RUNS/calm_a/$id" distill_lite_calm "$shipped" 150 --set optim.lr=1e-4
  fine_tune_builtin "$t" "$RUNS/calm/$id" distill_lite_calm "$RUNS/calm_a/$id/export/$id.onnx" 600 "$shipped"
done
