#!/bin/sh
# Batch-1 latency of minnow's model zoo (models/zoo/*.onnx, 28×28 inputs),
# fp32 and int8, in minnow and in ONNX Runtime (the same files), 1 thread.
# Rounds alternate the engines so both see the same load; per engine and
# model the median over ROUNDS of each run's process CPU ms per inference
# (robust on a shared machine) and of its p50 wall ms are reported, with
# the ratio minnow / ONNX Runtime (below 1: minnow is faster).
# int8 = `minnow quantize --mode int8` (integer operators, 512 calibration
# images), which both engines run as QLinearConv etc.
# Writes bench/results/zoo_speed.json and bench/results/zoo_speed.md.
# usage: bench/zoo_speed.sh [BUILD]    env: ROUNDS=5 RUNS=1000 MODELS="..."
set -e
B=${1:-build}
cd "$(dirname "$0")/.."
M="$B/minnow"
ORT="node bench/peers/ort_run.js"
ROUNDS=${ROUNDS:-5}
RUNS=${RUNS:-1000}
MODELS=${MODELS:-"resnet8 thesis-cnn mobilenetv2 convnext-tiny"}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
for m in $MODELS; do
    "$M" quantize "models/zoo/$m.onnx" --mode int8 --calib fashion-mnist:train \
        -o "$T/$m.int8.onnx" > /dev/null 2>&1 || echo "zoo_speed: $m int8 failed" >&2
done
for r in $(seq "$ROUNDS"); do
    for m in $MODELS; do
        for p in fp32 int8; do
            f="models/zoo/$m.onnx"; [ $p = int8 ] && f="$T/$m.int8.onnx"
            [ -f "$f" ] || continue
            "$M" bench "$f" --threads 1 --runs "$RUNS" --warmup 50 --json |
                jq -c --arg m $m --arg p $p '{m:$m, p:$p, rt:"minnow", cpu:.cpu_ms, p50:.p50_ms}'
            $ORT "$f" --bench --threads 1 --runs "$RUNS" --warmup 50 |
                jq -c --arg m $m --arg p $p '{m:$m, p:$p, rt:"ort", cpu:.cpu_ms, p50:.p50_ms}'
        done
    done
done > "$T/rows.jsonl"
jq -s --arg rounds "$ROUNDS" '
  def med: sort | .[length/2|floor];
  group_by(.m + " " + .p) | map({model:.[0].m, precision:.[0].p,
    minnow_cpu_ms:(map(select(.rt=="minnow").cpu)|med),
    minnow_p50_ms:(map(select(.rt=="minnow").p50)|med),
    ort_cpu_ms:(map(select(.rt=="ort").cpu)|med),
    ort_p50_ms:(map(select(.rt=="ort").p50)|med)}
    | . + {ratio_cpu:(.minnow_cpu_ms/.ort_cpu_ms), ratio_p50:(.minnow_p50_ms/.ort_p50_ms)})
  | {note:("batch 1, 1 thread, medians of " + $rounds + " alternating rounds; cpu = process CPU ms per inference"), rows:.}' \
  "$T/rows.jsonl" > bench/results/zoo_speed.json
{
    echo "# Zoo latency: minnow vs ONNX Runtime (batch 1, 1 thread)"
    echo
    echo "$(jq -r .note bench/results/zoo_speed.json); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg). \`sh bench/zoo_speed.sh\`."
    echo
    echo "| model | precision | minnow CPU ms | ORT CPU ms | minnow / ORT (CPU) | minnow p50 ms | ORT p50 ms | minnow / ORT (p50) |"
    echo "|---|---|---|---|---|---|---|---|"
    jq -r '.rows[] | "| \(.model) | \(.precision) | \(.minnow_cpu_ms*1000|round/1000) | \(.ort_cpu_ms*1000|round/1000) | \(.ratio_cpu*100|round/100) | \(.minnow_p50_ms*1000|round/1000) | \(.ort_p50_ms*1000|round/1000) | \(.ratio_p50*100|round/100) |"' bench/results/zoo_speed.json
} > bench/results/zoo_speed.md
cat bench/results/zoo_speed.md
