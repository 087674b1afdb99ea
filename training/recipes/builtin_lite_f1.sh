#!/usr/bin/env bash
# Stage 9 of the built-in real-time styles (issue 11): each student fine-tuned with the soft ink-F1
# term (preset distill_lite_f1: stage 8's losses — steadiness 10, ink 20 / 10 — plus loss.ink_f1 0.5,
# the eval's ink F1 with the student's mask a sigmoid), so strokes near the ink threshold are drawn
# or dropped, and placed, where the teacher draws them. Per style, stage 8's own weights stay:
# Hosoda steadiness 12 with ink 24 / 12; Paprika ink 28 / 14 (at steadiness 10 its ink ratio fell
# under 0.8 with ink 24 / 12; docs/TRAINING.md, "stage 9").
# Shipped for Paprika and Shinkai. Hayao and Hosoda (TEACHERS="hayao hosoda", not in the default
# list) drew more lines too, but their noise flicker rose over the issue's 0.30; Hayao's third run
# (CALM below) calmed it but took it under the built-in oracle test's fidelity floor, Hosoda's cost
# the lines back. Both stay at stage 8 (docs/TRAINING.md, "stage 9", has the probes' numbers).
# Each starts from the file shipped at commit a55840f (extracted from git into
# RUNS_DIR/shipped8/, also the grid's previous-student column) and trains in two runs: 150 steps at
# lr 1e-4, then 450 steps at 2e-4 (a warm restart) from that run's student. Then the held-out eval
# against the teacher and a copy of the .onnx into resources/styles/ (check the grid and the
# numbers first).
#
#   training/recipes/builtin_lite_f1.sh [RUNS_DIR]   (repository root, .venv present, ../shared beside)
#
# On 2 cores two styles at once, one thread each, finish sooner than one after the other:
#   THREADS=1 TEACHERS="paprika" training/recipes/builtin_lite_f1.sh &
#   THREADS=1 TEACHERS="shinkai" training/recipes/builtin_lite_f1.sh
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
# Hayao's noise flicker rose over the issue's 0.30 after the two runs (0.290 -> 0.315): a third run,
# 150 steps at lr 1e-4 and steadiness 24, brought it to 0.284 and kept half of the new lines (a probe)
declare -A CALM=([hayao]="--set loss.steady=24")
for t in ${TEACHERS:-paprika shinkai}; do
  id=${t}_lite
  read -r -a sets <<< "${SETS[$t]}"
  shipped=$(shipped_style a55840f "$id" "$RUNS/shipped8")
  train_builtin "$t" "$RUNS/stage9_a/$id" "$preset" "$shipped" 150 --set optim.lr=1e-4 "${sets[@]}"
  if [[ -z "${CALM[$t]:-}" ]]; then
    fine_tune_builtin "$t" "$RUNS/stage9/$id" "$preset" "$RUNS/stage9_a/$id/export/$id.onnx" 450 "$shipped" "${sets[@]}"
  else  # a third run, 150 steps at lr 1e-4, calms it down again
    read -r -a calm <<< "${CALM[$t]}"
    train_builtin "$t" "$RUNS/stage9/$id" "$preset" "$RUNS/stage9_a/$id/export/$id.onnx" 450 "${sets[@]}"
    fine_tune_builtin "$t" "$RUNS/stage9_c/$id" "$preset" "$RUNS/stage9/$id/export/$id.onnx" 150 "$shipped" \
      "${sets[@]}" --set optim.lr=1e-4 "${calm[@]}"
  fi
done
