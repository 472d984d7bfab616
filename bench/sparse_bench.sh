#!/bin/sh
# bench/sparse_bench.sh [BUILD_DIR] — does pruning pay off in latency?
#
# 1. Per layer (bench/sparse_layer_bench.c): dense vs sparse float32
#    kernels on ResNet-18's convolution shapes at 224×224, fashion_cnn's,
#    and two fully connected layers at batch 1, at weight sparsity
#    0/50/70/80/90/95 %, one thread. Dense and sparse alternate call by
#    call; median and best times and their ratios. This is where the
#    automatic choice's break-even density (src/ops/conv_sparse.h) comes
#    from.
# 2. Whole models: models/fashion_cnn.onnx and ResNet-18 (random weights,
#    bench/models/resnet18.onnx from scripts/export_torchvision.py, made when
#    missing and python3 with torch is there; skipped otherwise) pruned by
#    `minnow prune --method magnitude` (per layer) at the same sparsities,
#    then `minnow bench` batch-1 p50 with MINNOW_SPARSE=dense, =sparse
#    (forced) and auto, alternating ROUNDS times; the median of the rounds'
#    p50s is reported, with every round kept.
#
# The machine is shared with a long training job: absolute times are
# noisy, the side-by-side ratios are what to read (the JSON records the
# load average). Writes bench/results/sparse.json (OUT=...).
#   RUNS=100 (fashion) RUNS_BIG=15 (resnet18) ROUNDS=3 REPS=25 THREADS=1
#   SPARSITIES="0 0.5 0.7 0.8 0.9 0.95"
set -eu
B=${1:-build}
MINNOW=${MINNOW:-$B/minnow}
RUNS=${RUNS:-100}
RUNS_BIG=${RUNS_BIG:-15}
ROUNDS=${ROUNDS:-3}
REPS=${REPS:-25}
THREADS=${THREADS:-1}
SPARSITIES=${SPARSITIES:-"0 0.5 0.7 0.8 0.9 0.95"}
OUT=${OUT:-bench/results/sparse.json}
LIBS="-lprotobuf-c -lz -lpng -ljpeg -lcjson -lm -lpthread"
cd "$(dirname "$0")/.."
[ -x "$MINNOW" ] && [ -f "$B/libminnow.a" ] ||
    { echo "sparse_bench: build minnow first (make)" >&2; exit 1; }
command -v jq >/dev/null || { echo "sparse_bench: needs jq" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM
load0=$(cut -d' ' -f1-3 /proc/loadavg)

echo "== per-layer kernels (threads $THREADS, $REPS alternating calls)"
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc -I"$B/gen" \
    bench/sparse_layer_bench.c "$B/libminnow.a" $LIBS -o "$T/layer_bench"
"$T/layer_bench" "$REPS" "$THREADS" f32 > "$T/layers.json"
jq -r '.layers[] | "\(.layer): " + ([.points[] |
    "\(.sparsity * 100 | round)% \(.speedup_best)x"] | join(", "))' \
    "$T/layers.json"

models="fashion_cnn=models/fashion_cnn.onnx"
if [ ! -f bench/models/resnet18.onnx ] && [ -x /usr/bin/python3 ]; then
    /usr/bin/python3 scripts/export_torchvision.py -o bench/models resnet18 \
        >/dev/null 2>&1 || true
fi
[ -f bench/models/resnet18.onnx ] &&
    models="$models resnet18=bench/models/resnet18.onnx"

bench_p50() { # MODE FILE RUNS -> p50 ms
    MINNOW_SPARSE=$1 "$MINNOW" bench "$2" --runs "$3" --warmup 3 \
        --threads "$THREADS" --json | jq .p50_ms
}

: > "$T/models.jsonl"
for spec in $models; do
    name=${spec%%=*}
    file=${spec#*=}
    runs=$RUNS
    [ "$name" = fashion_cnn ] || runs=$RUNS_BIG
    for sp in $SPARSITIES; do
        f="$T/$name-$sp.onnx"
        if [ "$sp" = 0 ]; then
            cp "$file" "$f"
        else
            "$MINNOW" prune "$file" --sparsity "$sp" --method magnitude \
                -o "$f" >/dev/null
        fi
        kinds=$("$MINNOW" info "$f" --json |
            jq -c '[.layers[] | select(.kernel) | .kernel] | group_by(.) |
                   map({(.[0]): length}) | add // {}')
        : > "$T/rounds"
        r=0
        while [ $r -lt "$ROUNDS" ]; do
            d=$(bench_p50 dense "$f" "$runs")
            s=$(bench_p50 sparse "$f" "$runs")
            a=$(bench_p50 auto "$f" "$runs")
            echo "{\"dense\": $d, \"sparse\": $s, \"auto\": $a}" >> "$T/rounds"
            r=$((r + 1))
        done
        jq -c -s --arg m "$name" --argjson sp "$sp" --argjson k "$kinds" '
            def med: sort | .[(length - 1) / 2 | floor];
            {model: $m, sparsity: $sp, auto_kernels: $k,
             dense_p50_ms: (map(.dense) | med),
             sparse_p50_ms: (map(.sparse) | med),
             auto_p50_ms: (map(.auto) | med), rounds: .}
            | .speedup_sparse = (.dense_p50_ms / .sparse_p50_ms)
            | .speedup_auto = (.dense_p50_ms / .auto_p50_ms)' \
            "$T/rounds" >> "$T/models.jsonl"
        tail -n 1 "$T/models.jsonl" | jq -r '"\(.model) \(.sparsity * 100 | round)%: dense \(.dense_p50_ms) ms, sparse \(.sparse_p50_ms) ms (\(.speedup_sparse)x), auto \(.auto_p50_ms) ms (\(.speedup_auto)x), kernels \(.auto_kernels)"'
    done
done

load1=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$(dirname "$OUT")"
jq -n --slurpfile L "$T/layers.json" --slurpfile M "$T/models.jsonl" \
    --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
    --arg load0 "$load0" --arg load1 "$load1" --argjson threads "$THREADS" \
    --arg date "$(date -u +%Y-%m-%dT%H:%MZ)" '
    {what: "sparse vs dense float32 kernels: per layer (random pattern, alternating calls, median and best of REPS) and whole models pruned by magnitude per layer (minnow bench batch-1 p50, median over rounds; MINNOW_SPARSE=dense|sparse|auto)",
     note: "machine shared with a training job (load average below): compare the side-by-side ratios, not absolute times",
     date: $date, cpu: $cpu, threads: $threads,
     loadavg_start: $load0, loadavg_end: $load1,
     isa: $L[0].isa,
     layers: $L[0].layers,
     layer_speedup_at_90: [$L[0].layers[] | {layer, speedup_best: (.points[] | select(.sparsity == 0.9) | .speedup_best), speedup_median: (.points[] | select(.sparsity == 0.9) | .speedup)}],
     models: $M}' > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "wrote $OUT"
