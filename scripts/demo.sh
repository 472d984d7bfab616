#!/bin/sh
# make demo: the main job on bundled data — load the bundled Fashion-MNIST
# model, show what it costs, measure its accuracy on the 10 000 test images,
# time it, and round-trip it through ONNX export.
set -e
B=${1:-build}
M=models/fashion_cnn.onnx
cd "$(dirname "$0")/.."
echo "== minnow info $M"
"$B/minnow" info "$M"
echo
echo "== minnow eval $M --data fashion-mnist:test"
"$B/minnow" eval "$M" --data fashion-mnist:test --batch 100
echo
echo "== minnow bench $M (batch 1, 1 thread)"
"$B/minnow" bench "$M" --runs 200 --warmup 20
echo
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "== minnow export $M --optimize -o (BatchNorm folded, then re-evaluated)"
"$B/minnow" export "$M" --format onnx --optimize -o "$out/fashion_cnn.opt.onnx"
"$B/minnow" eval "$out/fashion_cnn.opt.onnx" --data fashion-mnist:test --batch 100
