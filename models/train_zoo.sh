#!/bin/sh
# Regenerates minnow's model zoo: Fashion-MNIST models trained by
# `minnow train` (full 60 000-image training split, evaluated on the
# 10 000-image test split). Each run writes models/zoo/NAME.onnx and
# models/zoo/NAME.json (the --json summary: accuracy, seconds, params).
# usage: models/train_zoo.sh [BUILD] [NAME ...]   (default: every model)
# Same seed -> byte-identical model for a given minnow build (1 or 2
# threads give the same bytes; THREADS=N picks the count, default 2).
set -e
B=${1:-build}
[ $# -gt 0 ] && shift
cd "$(dirname "$0")/.."
M="$B/minnow"
mkdir -p models/zoo
run() { # name, arguments...
  name=$1; shift
  echo "== $name: $M train $* --data fashion-mnist --threads ${THREADS:-2} --seed 1 --json" >&2
  "$M" train "$@" --data fashion-mnist --threads "${THREADS:-2}" --seed 1 \
      --checkpoint "models/zoo/$name.ckpt" --resume --json \
      -o "models/zoo/$name.onnx" > "models/zoo/$name.json.tmp"
  mv "models/zoo/$name.json.tmp" "models/zoo/$name.json"
  rm -f "models/zoo/$name.ckpt"
}
# a second stage: more epochs from the model the first stage wrote
# (summary in NAME.ft.json)
cont() { # name, arguments...
  name=$1; shift
  echo "== $name (continued): $M train --init models/zoo/$name.onnx $* --data fashion-mnist --threads ${THREADS:-2} --json" >&2
  "$M" train --init "models/zoo/$name.onnx" "$@" --data fashion-mnist \
      --threads "${THREADS:-2}" --checkpoint "models/zoo/$name.ft.ckpt" \
      --resume --json -o "models/zoo/$name.onnx" > "models/zoo/$name.ft.json.tmp"
  mv "models/zoo/$name.ft.json.tmp" "models/zoo/$name.ft.json"
  rm -f "models/zoo/$name.ft.ckpt"
}
want() { [ -z "$SEL" ] || echo " $SEL " | grep -q " $1 "; }
SEL="$*"
want resnet8 && run resnet8 --arch resnet8 --epochs 15 --flip
want thesis-cnn && run thesis-cnn --arch thesis-cnn --epochs 6 --flip
want mobilenetv2 && run mobilenetv2 --arch mobilenetv2 --width 0.35 --epochs 8 --flip
# convnext-tiny: 10 epochs reached 90.22 %; 3 more at a tenth of the peak
# rate (13 in all) were added after that run, as one fixed recipe
want convnext-tiny && run convnext-tiny --arch convnext-tiny --epochs 10 --flip \
    --optimizer adamw --lr 4e-3 --wd 0.05 &&
    cont convnext-tiny --epochs 3 --flip --optimizer adamw --lr 4e-4 \
        --wd 0.05 --schedule cosine --warmup 0 --seed 2
exit 0
