# Sourced by the built-in lite recipes: the four CartoonGAN teachers' display names and the terms
# every student distilled from them carries (its teacher's research weights and the photos').
declare -A NAME=([hayao]="Hayao" [hosoda]="Hosoda" [paprika]="Paprika" [shinkai]="Shinkai")
LICENCE="Non-commercial research use only (CartoonGAN research weights; training photos' terms)"
attribution() {  # attribution TEACHER
  echo "Distilled by cartoon_cam from the CartoonGAN ${NAME[$1]} generator (Y. Chen, Y.-K. Lai, Y.-J. Liu, CVPR 2018; weights released by the authors) on photos listed in ../shared/photos/train/manifest.tsv"
}
