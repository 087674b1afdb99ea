# Defaults every recipe shares (set them in the environment to override).
TRAIN=${TRAIN:-.venv/bin/cartoon-cam-train}
SHARED=${SHARED:-../shared}
THREADS=${THREADS:-2}

# Sourced by the built-in lite recipes: the four CartoonGAN teachers' display names and the terms
# every student distilled from them carries (its teacher's research weights and the photos').
declare -A NAME=([hayao]="Hayao" [hosoda]="Hosoda" [paprika]="Paprika" [shinkai]="Shinkai")
LICENCE="Non-commercial research use only (CartoonGAN research weights; training photos' terms)"
attribution() {  # attribution TEACHER
  echo "Distilled by cartoon_cam from the CartoonGAN ${NAME[$1]} generator (Y. Chen, Y.-K. Lai, Y.-J. Liu, CVPR 2018; weights released by the authors) on photos listed in ../shared/photos/train/manifest.tsv"
}

# The drawn styles' one-line descriptions (stages 2 and 3; stage 1 had its own).
declare -A LOOK_DRAWN=(
  [hayao]="Warm reds and ochres, flat painted shading and dark drawn outlines."
  [hosoda]="Pale, airy colours, flat shading and fine dark outlines."
  [paprika]="Saturated warm reds, deep shadows and bold drawn outlines."
  [shinkai]="Cool, muted tones, soft contrast and fine drawn outlines."
)

# fine_tune_builtin TEACHER RUN PRESET INIT STEPS [BASELINE [DISTILL_ARGS...]] — one fine-tuning stage of a built-in
# lite style: distill from INIT with PRESET into RUN (resumed when RUN has a checkpoint; skipped when
# RUN has its export), then eval against the teacher with BASELINE (default INIT) as the grid's
# previous-student column (grid rows: a house
# under the sky, two faces, a face behind a mask, food), and copy the .onnx into resources/styles/.
# Reads TRAIN, SHARED, RUNS, MAX_PHOTOS and THREADS from the recipe.
fine_tune_builtin() {
  local t=$1 run=$2 preset=$3 init=$4 steps=$5 baseline=${6:-$4} id=${1}_lite
  shift $(($# < 6 ? $# : 6))
  train_builtin "$t" "$run" "$preset" "$init" "$steps" "$@"
  "$TRAIN" eval --run "$run" --style "$run/export/$id.onnx" --baseline "$baseline" \
    --grid "$run/grid.jpg" --grid-rows 0,1,3,6,10 --steady 4 --teacher-steady 2
  cp "$run/export/$id.onnx" resources/styles/
}

# train_builtin TEACHER RUN_DIR PRESET INIT STEPS [DISTILL_ARGS...] — the distill half of
# fine_tune_builtin (resumes a run with a checkpoint, skips a finished one), without eval or copy.
train_builtin() {
  local t=$1 run=$2 preset=$3 init=$4 steps=$5 id=${1}_lite
  shift 5
  local resume=()
  [ -f "$run/checkpoints/last.pt" ] && resume=(--resume)
  if [ ! -f "$run/export/$id.onnx" ]; then
    "$TRAIN" distill --teacher "$SHARED/models/cartoongan/$t.npz" --photos "$SHARED/photos/train" \
      --out "$run" --teacher-cache "$RUNS/teacher_cache" --max-photos "$MAX_PHOTOS" \
      --preset "$preset" --init-from "$init" "${resume[@]}" \
      --steps "$steps" --threads "$THREADS" --no-progress \
      --onnx --id "$id" --name "${NAME[$t]} (real-time)" \
      --description "${LOOK_DRAWN[$t]} Real-time student of CartoonGAN ${NAME[$t]}." \
      --attribution "$(attribution "$t")" \
      --licence "$LICENCE" "$@"
  fi
}

# shipped_style COMMIT ID DIR — DIR/ID.onnx: the built-in style ID as shipped at COMMIT, extracted
# from git once (a failed extraction leaves nothing behind, so a rerun tries again); prints its path.
shipped_style() {
  local f="$3/$2.onnx"
  mkdir -p "$3"
  if [ ! -s "$f" ]; then
    git show "$1:resources/styles/$2.onnx" > "$f.part" || { rm -f "$f.part"; return 1; }
    mv "$f.part" "$f"
  fi
  echo "$f"
}
