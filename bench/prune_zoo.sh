#!/bin/sh
# Issue-6 acceptance runs on the zoo's resnet8 (models/zoo/resnet8.onnx):
#   mag90   magnitude, global, 90 % sparsity, 3 epochs of gradual fine-tuning
#   ch50    channel removal (BN gamma) to <= 50 % of the MACs, 3 epochs
#   ch50r8  the same with channel counts rounded to multiples of 8
# Each run's `minnow prune --json` summary (params, non-zeros, MACs, bytes,
# fine-tuned test accuracy) goes to bench/results/prune_resnet8/NAME.json;
# then the .mnw sizes of the 90 %-sparse model alone and quantized to int8,
# with their accuracy, go to bench/results/prune_resnet8/storage.json.
# usage: bench/prune_zoo.sh [BUILD]     (about 20 min on an idle 2-core machine)
set -e
B=${1:-build}
cd "$(dirname "$0")/.."
M="$B/minnow"
R=bench/results/prune_resnet8
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$R"
BASE=models/zoo/resnet8.onnx
common="--finetune-epochs 3 --data fashion-mnist:train --threads 2 --json"
"$M" prune $BASE --method magnitude --scope global --sparsity 0.9 --gradual \
    $common -o "$T/mag90.onnx" > "$R/mag90.json"
"$M" prune $BASE --method channel --criterion bn --sparsity 0.5 \
    --target-macs 0.5 $common -o "$T/ch50.onnx" > "$R/ch50.json"
"$M" prune $BASE --method channel --criterion bn --sparsity 0.5 \
    --target-macs 0.5 --round-to 8 $common -o "$T/ch50r8.onnx" > "$R/ch50r8.json"
"$M" export "$T/mag90.onnx" --format mnw -o "$T/mag90.mnw"
"$M" quantize "$T/mag90.onnx" --mode int8 --calib fashion-mnist:train \
    --calib-count 512 -o "$T/mag90q.onnx" > /dev/null
"$M" export "$T/mag90q.onnx" --format mnw -o "$T/mag90q.mnw"
acc() { "$M" eval "$1" --data fashion-mnist:test --threads 2 --json | jq .accuracy; }
cat > "$R/storage.json" <<JSON
{"dense_onnx_bytes": $(stat -c %s $BASE), "dense_top1": $(acc $BASE),
 "sparse90_mnw_bytes": $(stat -c %s "$T/mag90.mnw"), "sparse90_top1": $(acc "$T/mag90.mnw"),
 "sparse90_int8_mnw_bytes": $(stat -c %s "$T/mag90q.mnw"), "sparse90_int8_top1": $(acc "$T/mag90q.mnw")}
JSON
cat "$R/storage.json"
