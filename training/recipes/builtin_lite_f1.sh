#!/usr/bin/env bash
# Stage 9 of the built-in real-time styles (issue 11): each student fine-tuned with the soft ink-F1
# term (preset distill_lite_f1: stage 8's losses — steadiness 10, ink 20 / 10 — plus loss.ink_f1 0.5,
# the eval's ink F1 with the student's mask a sigmoid), so strokes near the ink threshold are drawn
# or dropped, and placed, where the teacher draws them. Per style, stage 8's own weights stay:
# Hosoda steadiness 12 with ink 24 / 12; Paprika ink 28 / 14 (at steadiness 10 its ink ratio fell
# under 0.8 with ink 24 / 12; docs/TRAINING.md, "stage 9").
# All four start from the files shipped at commit a55840f (extracted from git into
# RUNS_DIR/shipped8/, also the grid's previous-student column) and run in two runs: 150 steps at
# lr 1e-4, then 450 steps at 2e-4 (a warm restart) from that run's student. Then the held-out eval
# against the teacher and a copy of the .onnx into resources/styles/ (check the grid and the
# numbers first).
#
#   training/recipes/builtin_lite_f1.sh [RUNS_DIR]   (repository root, .venv present, ../shared beside)
#
# On 2 cores two styles at once, one thread each, finish sooner than one after the other:
#   THREADS=1 TEACHERS="paprika shinkai" training/recipes/builtin_lite_f1.sh &
#   THREADS=1 TEACHERS="hosoda hayao" training/recipes/builtin_lite_f1.sh
# The teacher caches of stages 4-8 (RUNS_DIR/teacher_cache, 900 photos) are reused; on a fresh
# machine the first run of each teacher builds them (~20 min at 2 threads). Interrupted? Run the
# same command again: the cache keeps what it computed, a run with checkpoints/last.pt resumes
# exactly, a finished run is skipped (the second only re-evaluated). Times: docs/TRAINING.md, "stage 9".
set -euo pipefail
RUNS=${1:-runs/builtin}
MAX_PHOTOS=${MAX_PHOTOS:-900}
source "$(dirname "$0")/cartoongan_teachers.sh"  # TRAIN, SHARED, THREADS, NAME, LOOK_DRAWN, attribution, LICENCE, train_builtin, fine_tune_builtin, shipped_style
preset=distill_lite_f1
declare -A SETS=([hayao]="" [shinkai]="" [hosoda]="--set loss.steady=12 --set loss.ink=24 --set loss.ink_pixel=12"
                 [paprika]="--set loss.ink=28 --set loss.ink_pixel=14")
for t in ${TEACHERS:-paprika hosoda hayao shinkai}; do
  id=${t}_lite
  read -r -a sets <<< "${SETS[$t]}"
  shipped=$(shipped_style a55840f "$id" "$RUNS/shipped8")
  train_builtin "$t" "$RUNS/stage9_a/$id" "$preset" "$shipped" 150 --set optim.lr=1e-4 "${sets[@]}"
  fine_tune_builtin "$t" "$RUNS/stage9/$id" "$preset" "$RUNS/stage9_a/$id/export/$id.onnx" 450 "$shipped" "${sets[@]}"
done
