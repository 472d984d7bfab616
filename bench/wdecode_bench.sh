#!/bin/sh
# bench/wdecode_bench.sh [BUILD_DIR] — weights kept compressed and decoded
# on the fly (--weights compact) against weights folded to float32 at
# compile (--weights float), for float16 and int4 models.
#
# 1. Whole model: ResNet-18 (MODEL, default bench/models/resnet18.onnx,
#    made by scripts/export_torchvision.py when missing and torch is
#    there) through `minnow quantize --mode float16` and `--mode int4`
#    (group 128, float16 scales: the defaults), then `minnow bench`
#    batch-1 at 1 and 2 threads, compact and float alternating run by run,
#    ROUNDS rounds: the median of the rounds' p50s, the best run (min_ms),
#    CPU ms per run, peak RSS (whole process: load, compile and runs) and
#    the constants' resident bytes. The float32 model is benched alongside
#    for reference.
# 2. Per layer (bench/wdecode_layer_bench.c): ResNet-18's convolutions at
#    224×224 and batch-1 fully connected layers (512→1000, 2048→1000,
#    4096→4096), float32 vs compact kernel calls alternating, 1 thread.
#
# The machine (2 cores) is shared with other benchmarks: absolute times
# are noisy; runs alternate so both sides see the same load, and the
# side-by-side ratios of medians and minima are what to read (the JSON
# records the load average). Writes bench/results/wdecode.json (OUT=...).
#   ROUNDS=5 RUNS=30 REPS=21 THREADS_LIST="1 2"
set -eu
B=${1:-build}
MINNOW=${MINNOW:-$B/minnow}
ROUNDS=${ROUNDS:-5}
RUNS=${RUNS:-30}
REPS=${REPS:-21}
THREADS_LIST=${THREADS_LIST:-"1 2"}
MODEL=${MODEL:-bench/models/resnet18.onnx}
OUT=${OUT:-bench/results/wdecode.json}
LIBS="-lprotobuf-c -lz -lpng -ljpeg -lcjson -lm -lpthread"
cd "$(dirname "$0")/.."
[ -x "$MINNOW" ] && [ -f "$B/libminnow.a" ] ||
    { echo "wdecode_bench: build minnow first (make)" >&2; exit 1; }
command -v jq >/dev/null || { echo "wdecode_bench: needs jq" >&2; exit 1; }
if [ ! -f "$MODEL" ] && [ -x /usr/bin/python3 ]; then
    /usr/bin/python3 scripts/export_torchvision.py -o bench/models resnet18 \
        >/dev/null 2>&1 || true
fi
[ -f "$MODEL" ] || { echo "wdecode_bench: no $MODEL" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM
load0=$(cut -d' ' -f1-3 /proc/loadavg)

"$MINNOW" quantize "$MODEL" --mode float16 -o "$T/fp16.onnx" >/dev/null
"$MINNOW" quantize "$MODEL" --mode int4 -o "$T/int4.onnx" >/dev/null
cp "$MODEL" "$T/fp32.onnx"

bench1() { # FILE THREADS WEIGHTS -> one JSON line
    "$MINNOW" bench "$1" --runs "$RUNS" --warmup 3 --threads "$2" \
        --weights "$3" --json |
        jq -c '{p50_ms, min_ms, cpu_ms, peak_rss_bytes,
                resident_weight_bytes, weights}'
}

echo "== whole model: $MODEL, $ROUNDS rounds of $RUNS runs, alternating"
: > "$T/models.jsonl"
for t in $THREADS_LIST; do
    for v in fp16 int4 fp32; do
        : > "$T/rounds"
        r=0
        while [ $r -lt "$ROUNDS" ]; do
            if [ "$v" = fp32 ]; then
                f=$(bench1 "$T/$v.onnx" "$t" float)
                echo "{\"float\": $f}" >> "$T/rounds"
            else
                c=$(bench1 "$T/$v.onnx" "$t" compact)
                f=$(bench1 "$T/$v.onnx" "$t" float)
                echo "{\"compact\": $c, \"float\": $f}" >> "$T/rounds"
            fi
            r=$((r + 1))
        done
        jq -c -s --arg v "$v" --argjson t "$t" '
            def med: sort | .[(length - 1) / 2 | floor];
            def side(k): if .[0][k] == null then null else
                {p50_ms: (map(.[k].p50_ms) | med),
                 min_ms: (map(.[k].min_ms) | min),
                 cpu_ms: (map(.[k].cpu_ms) | med),
                 peak_rss_bytes: (map(.[k].peak_rss_bytes) | max),
                 resident_weight_bytes: .[0][k].resident_weight_bytes}
                end;
            {weights_file: $v, threads: $t, compact: side("compact"),
             float: side("float"), rounds: .}
            | if .compact then
                .float_over_compact_p50 = (.float.p50_ms / .compact.p50_ms)
                | .float_over_compact_min = (.float.min_ms / .compact.min_ms)
                | .rss_saved_bytes = (.float.peak_rss_bytes -
                                      .compact.peak_rss_bytes)
              else . end' "$T/rounds" >> "$T/models.jsonl"
        tail -n 1 "$T/models.jsonl" | jq -r '
            def mb: . / 1048576 | . * 10 | round / 10;
            if .compact then
              "\(.weights_file) \(.threads)t: compact p50 \(.compact.p50_ms | . * 100 | round / 100) ms (min \(.compact.min_ms | . * 100 | round / 100)), RSS \(.compact.peak_rss_bytes | mb) MB, weights \(.compact.resident_weight_bytes | mb) MB | float p50 \(.float.p50_ms | . * 100 | round / 100) ms (min \(.float.min_ms | . * 100 | round / 100)), RSS \(.float.peak_rss_bytes | mb) MB, weights \(.float.resident_weight_bytes | mb) MB | float/compact p50 \(.float_over_compact_p50 | . * 1000 | round / 1000), min \(.float_over_compact_min | . * 1000 | round / 1000)"
            else
              "\(.weights_file) \(.threads)t: p50 \(.float.p50_ms | . * 100 | round / 100) ms (min \(.float.min_ms | . * 100 | round / 100)), RSS \(.float.peak_rss_bytes | mb) MB"
            end'
    done
done

echo "== per layer (1 thread, $REPS alternating calls)"
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc -I"$B/gen" \
    bench/wdecode_layer_bench.c "$B/libminnow.a" $LIBS -o "$T/layer_bench"
"$T/layer_bench" "$REPS" 1 > "$T/layers.json"
jq -r '.layers[] | .layer as $l | .encodings[] |
    "\($l) \(.weights): float \(.float_median_ms) ms, compact \(.compact_median_ms) ms, float/compact \(.speedup_median) (best \(.speedup_best)), same bits \(.same_bits)"' \
    "$T/layers.json"

load1=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$(dirname "$OUT")"
jq -n --slurpfile M "$T/models.jsonl" --slurpfile L "$T/layers.json" \
    --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
    --arg load0 "$load0" --arg load1 "$load1" --arg model "$MODEL" \
    --argjson rounds "$ROUNDS" --argjson runs "$RUNS" \
    --arg date "$(date -u +%Y-%m-%dT%H:%MZ)" '
    {what: "weights kept compressed and decoded on the fly (minnow bench --weights compact) vs folded to float32 (--weights float): ResNet-18 quantized with minnow quantize --mode float16 / int4, batch 1; per model and thread count the median over rounds of each bench p50, the best run, median CPU ms per run, the largest peak RSS (whole process) and the constants resident while running; per layer the kernels alone",
     note: "2-core machine shared with other benchmarks (load average below): compact and float alternate run by run; read the ratios, not absolute times",
     date: $date, cpu: $cpu, model: $model, rounds: $rounds,
     runs_per_bench: $runs, loadavg_start: $load0, loadavg_end: $load1,
     models: $M, layers: $L[0]}' > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "wrote $OUT"
