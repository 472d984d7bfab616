#!/bin/sh
# Issue-6 acceptance runs on the zoo (models/zoo/*.onnx).
# resnet8:
#   mag90   magnitude, global, 90 % sparsity, 3 epochs of gradual fine-tuning
#   ch50    channel removal (BN gamma) to <= 50 % of the MACs, 3 epochs
#   ch50r4  the same with channel counts rounded to multiples of 4
#   ch50r8  the same rounded to multiples of 8 (37.8 % of the MACs: 16/32/64
#           channels round down to 8/16/40), FT_LONG (10) epochs
#   Each run's `minnow prune --json` summary (params, non-zeros, MACs, bytes,
#   fine-tuned test accuracy) goes to bench/results/prune_resnet8/NAME.json;
#   then the .mnw sizes of the 90 %-sparse model alone and quantized to
#   int8, with their accuracy, go to bench/results/prune_resnet8/storage.json;
#   speed.json: batch-1 ms per run (process CPU and p50 wall, median of 5
#   alternating rounds) of dense, ch50, ch50r4 and ch50r8 in minnow and in
#   ONNX Runtime, 1 thread.
# mobilenetv2:
#   ch50r8  channel removal to <= 50 % of the MACs, channel counts rounded to
#           multiples of 8 (ONNX Runtime runs odd counts ~2x slower), 3 epochs
#   -> bench/results/prune_mobilenetv2/ch50r8.json, and speed.json: batch-1
#   CPU ms per run (process CPU time, robust on a shared machine) of the
#   dense, the pruned and the unrounded pruned file in minnow and in ONNX
#   Runtime, 1 thread.
# usage: bench/prune_zoo.sh [BUILD] [resnet8 | resnet8_sparse |
#                                   resnet8_channel] [mobilenetv2]
#   (resnet8_sparse: mag90 and storage.json only, about 8 min;
#   resnet8_channel: the channel runs and speed.json, about 15 min)
#   (default both; resnet8 about 20 min on an idle 2-core machine,
#   mobilenetv2 about 20 min)
set -e
B=${1:-build}
[ $# -gt 0 ] && shift
SEL=${*:-resnet8 mobilenetv2}
cd "$(dirname "$0")/.."
M="$B/minnow"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
FT=${FT:-3} # fine-tuning epochs (0: none, for a quick check of the script)
common="--finetune-epochs $FT --data fashion-mnist:train --threads 2 --json"
[ "$FT" = 0 ] && common="--threads 2 --json"
acc() { "$M" eval "$1" --data fashion-mnist:test --threads 2 --json | jq .accuracy; }

mobilenetv2() {
R=bench/results/prune_mobilenetv2
BASE=${MNV2:-models/zoo/mobilenetv2.onnx}
mkdir -p "$R"
"$M" prune $BASE --method channel --criterion bn --sparsity 0.5 \
    --target-macs 0.5 --round-to 8 $common -o "$T/ch50r8.onnx" > "$R/ch50r8.json"
# the same without rounding, not fine-tuned: for speed only
"$M" prune $BASE --method channel --criterion bn --sparsity 0.5 \
    --target-macs 0.5 -o "$T/ch50.onnx" > /dev/null
cpu() { "$M" bench "$1" --threads 1 --runs 300 --warmup 20 --json | jq .cpu_ms; }
ocpu() { node bench/peers/ort_run.js "$1" --bench --threads 1 --runs 300 --warmup 20 | jq .cpu_ms; }
$PY bench/quant_bench_util.py testdata "$T/ch50r8.onnx" "$T/x.npy" "$T/y.npy"
cat > "$R/speed.json" <<JSON
{"dense_top1": $(acc $BASE), "ch50r8_top1": $(acc "$T/ch50r8.onnx"),
 "ort_ch50r8_top1": $(node bench/peers/ort_run.js "$T/ch50r8.onnx" --eval-npy "$T/x.npy" "$T/y.npy" --threads 2 | jq .accuracy),
 "minnow_cpu_ms": {"dense": $(cpu $BASE), "ch50r8": $(cpu "$T/ch50r8.onnx"), "ch50_unrounded": $(cpu "$T/ch50.onnx")},
 "ort_cpu_ms": {"dense": $(ocpu $BASE), "ch50r8": $(ocpu "$T/ch50r8.onnx"), "ch50_unrounded": $(ocpu "$T/ch50.onnx")},
 "note": "batch 1, 1 thread, process CPU ms per run; ch50_unrounded is not fine-tuned (speed only)"}
JSON
cat "$R/speed.json"
}

resnet8() {
resnet8_sparse
resnet8_channel
}

resnet8_channel() {
R=bench/results/prune_resnet8
BASE=models/zoo/resnet8.onnx
mkdir -p "$R"
ch="$M prune $BASE --method channel --criterion bn --sparsity 0.5 --target-macs 0.5"
$ch $common -o "$T/ch50.onnx" > "$R/ch50.json"
$ch --round-to 4 $common -o "$T/ch50r4.onnx" > "$R/ch50r4.json"
long=$(echo "$common" | sed "s/--finetune-epochs $FT/--finetune-epochs ${FT_LONG:-10}/")
$ch --round-to 8 $long -o "$T/ch50r8.onnx" > "$R/ch50r8.json"
# ms per run, batch 1, 1 thread: median over 5 rounds that alternate the
# files, so each sees the same load
for i in 1 2 3 4 5; do
    for n in dense ch50 ch50r4 ch50r8; do
        f="$T/$n.onnx"; [ $n = dense ] && f=$BASE
        "$M" bench "$f" --threads 1 --runs 1000 --warmup 50 --json |
            jq -c --arg n $n '{n:$n, rt:"minnow", cpu:.cpu_ms, p50:.p50_ms}'
        node bench/peers/ort_run.js "$f" --bench --threads 1 --runs 1000 \
            --warmup 50 |
            jq -c --arg n $n '{n:$n, rt:"ort", cpu:.cpu_ms, p50:.p50_ms}'
    done
done > "$T/speed.jsonl"
jq -s --arg note "batch 1, 1 thread, ms per run (cpu: process CPU time; p50: wall), median of 5 alternating rounds" '
  def med: sort | .[length/2|floor];
  {note:$note} + (group_by(.rt) | map({key:.[0].rt, value:(group_by(.n) |
    map({key:.[0].n, value:{cpu_ms:(map(.cpu)|med), p50_ms:(map(.p50)|med)}}) |
    from_entries)}) | from_entries)' "$T/speed.jsonl" > "$R/speed.json"
cat "$R/speed.json"
}

resnet8_sparse() {
R=bench/results/prune_resnet8
BASE=models/zoo/resnet8.onnx
mkdir -p "$R"
"$M" prune $BASE --method magnitude --scope global --sparsity 0.9 --gradual \
    $common -o "$T/mag90.onnx" > "$R/mag90.json"
"$M" export "$T/mag90.onnx" --format mnw -o "$T/mag90.mnw"
"$M" quantize "$T/mag90.onnx" --mode int8 --calib fashion-mnist:train \
    --calib-count 512 -o "$T/mag90q.onnx" > /dev/null
"$M" export "$T/mag90q.onnx" --format mnw -o "$T/mag90q.mnw"
cat > "$R/storage.json" <<JSON
{"dense_onnx_bytes": $(stat -c %s $BASE), "dense_top1": $(acc $BASE),
 "sparse90_mnw_bytes": $(stat -c %s "$T/mag90.mnw"), "sparse90_top1": $(acc "$T/mag90.mnw"),
 "sparse90_int8_mnw_bytes": $(stat -c %s "$T/mag90q.mnw"), "sparse90_int8_top1": $(acc "$T/mag90q.mnw")}
JSON
cat "$R/storage.json"
}

PY=/usr/bin/python3
for m in $SEL; do
    case $m in
    resnet8 | resnet8_sparse | resnet8_channel | mobilenetv2) $m ;;
    *) echo "prune_zoo: unknown model $m" >&2; exit 2 ;;
    esac
done
