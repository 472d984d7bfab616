#!/bin/sh
# bench/sparse_q8_bench.sh [BUILD_DIR] — does pruning pay off for int8?
#
# 1. Per layer (bench/sparse_layer_bench.c, its int8 rows): one QLinearConv
#    session compiled dense and one forced sparse, alternating call by
#    call, on ResNet-18's 3×3 and 1×1/2 layers and resnet8-sized ones (28×28
#    and smaller, 16-64 channels), weight sparsity 0/50/70/80/90/95 %
#    (random pattern), one thread; median and best times and their ratios.
#    The automatic rule's threshold (src/ops/conv_sparse.h) comes from here.
# 2. The whole model: models/zoo/resnet8.onnx pruned per layer by
#    magnitude (minnow prune) at the same sparsities, quantized to int8
#    (QLinearConv, calibration on fashion-mnist:train), `minnow bench`
#    batch-1 p50 with MINNOW_SPARSE=dense, =sparse (forced) and auto,
#    alternating ROUNDS times (every round kept): the median of the rounds'
#    p50s, their best, and the median of the per-round ratios (a round's
#    three runs follow each other within a fraction of a second, so they
#    share the machine's load); and a check that dense and sparse give the
#    same output bytes.
#
# The machine is shared: absolute times are noisy, the side-by-side ratios
# are what to read (the JSON records the load average). Writes
# bench/results/sparse_q8.json (OUT=...).
#   RUNS=300 ROUNDS=21 REPS=25 THREADS=1 SPARSITIES="0 0.5 0.7 0.8 0.9 0.95"
set -eu
B=${1:-build}
MINNOW=${MINNOW:-$B/minnow}
RUNS=${RUNS:-300}
ROUNDS=${ROUNDS:-21}
REPS=${REPS:-25}
THREADS=${THREADS:-1}
SPARSITIES=${SPARSITIES:-"0 0.5 0.7 0.8 0.9 0.95"}
MODEL=${MODEL:-models/zoo/resnet8.onnx}
OUT=${OUT:-bench/results/sparse_q8.json}
LIBS="-lprotobuf-c -lz -lpng -ljpeg -lcjson -lm -lpthread"
cd "$(dirname "$0")/.."
[ -x "$MINNOW" ] && [ -f "$B/libminnow.a" ] ||
    { echo "sparse_q8_bench: build minnow first (make)" >&2; exit 1; }
command -v jq >/dev/null || { echo "sparse_q8_bench: needs jq" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM
load0=$(cut -d' ' -f1-3 /proc/loadavg)

echo "== per-layer int8 kernels (threads $THREADS, $REPS alternating calls)"
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc -I"$B/gen" \
    bench/sparse_layer_bench.c "$B/libminnow.a" $LIBS -o "$T/layer_bench"
"$T/layer_bench" "$REPS" "$THREADS" q8 > "$T/layers.json"
jq -r '.q8_layers[] | "\(.layer): " + ([.points[] |
    "\(.sparsity * 100 | round)% \(.speedup_best)x"] | join(", "))' \
    "$T/layers.json"

# a fixed input batch of 1 (fashion-mnist's shape) for the output check
python3 - "$T/x.npy" <<'EOF'
import struct, sys, random
random.seed(3)
n = 28 * 28
hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 28, 28), }"
hdr += " " * (63 - (10 + len(hdr)) % 64) + "\n"
with open(sys.argv[1], "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode())
    f.write(struct.pack("<%df" % n, *[random.random() for _ in range(n)]))
EOF

bench_p50() { # MODE FILE -> p50 ms
    MINNOW_SPARSE=$1 "$MINNOW" bench "$2" --runs "$RUNS" --warmup 10 \
        --threads "$THREADS" --json | jq .p50_ms
}

echo "== $MODEL int8, pruned by magnitude ($ROUNDS rounds of $RUNS runs)"
: > "$T/models.jsonl"
for sp in $SPARSITIES; do
    f="$T/p$sp.onnx"
    if [ "$sp" = 0 ]; then
        cp "$MODEL" "$f"
    else
        "$MINNOW" prune "$MODEL" --sparsity "$sp" --method magnitude \
            -o "$f" >/dev/null
    fi
    "$MINNOW" quantize "$f" --mode int8 --calib fashion-mnist:train \
        -o "$T/q$sp.onnx" >/dev/null
    q="$T/q$sp.onnx"
    kinds=$("$MINNOW" info "$q" --json |
        jq -c '[.layers[] | select(.op == "QLinearConv") | .kernel] |
               group_by(.) | map({(.[0]): length}) | add // {}')
    same=true
    for mode in dense sparse; do
        MINNOW_SPARSE=$mode "$MINNOW" run "$q" -i "$T/x.npy" \
            -o "$T/o$mode" >/dev/null
    done
    cmp -s "$T/odense/logits.npy" "$T/osparse/logits.npy" || same=false
    : > "$T/rounds"
    r=0
    while [ $r -lt "$ROUNDS" ]; do
        d=$(bench_p50 dense "$q")
        s=$(bench_p50 sparse "$q")
        a=$(bench_p50 auto "$q")
        echo "{\"dense\": $d, \"sparse\": $s, \"auto\": $a}" >> "$T/rounds"
        r=$((r + 1))
    done
    jq -c -s --argjson sp "$sp" --argjson k "$kinds" --argjson same "$same" '
        def med: sort | .[(length - 1) / 2 | floor];
        {model: "resnet8 int8", sparsity: $sp, auto_kernels: $k,
         outputs_identical: $same,
         dense_p50_ms: (map(.dense) | med),
         sparse_p50_ms: (map(.sparse) | med),
         auto_p50_ms: (map(.auto) | med),
         dense_best_p50_ms: (map(.dense) | min),
         sparse_best_p50_ms: (map(.sparse) | min),
         auto_best_p50_ms: (map(.auto) | min),
         speedup_sparse: (map(.dense / .sparse) | med),
         speedup_auto: (map(.dense / .auto) | med), rounds: .}
        | .speedup_sparse_best = (.dense_best_p50_ms / .sparse_best_p50_ms)
        | .speedup_auto_best = (.dense_best_p50_ms / .auto_best_p50_ms)' \
        "$T/rounds" >> "$T/models.jsonl"
    tail -n 1 "$T/models.jsonl" | jq -r '"\(.sparsity * 100 | round)%: dense \(.dense_p50_ms) ms, sparse \(.sparse_p50_ms) ms, auto \(.auto_p50_ms) ms; per-round ratio sparse \(.speedup_sparse)x, auto \(.speedup_auto)x; best-of-rounds ratio sparse \(.speedup_sparse_best)x, auto \(.speedup_auto_best)x; kernels \(.auto_kernels), identical \(.outputs_identical)"'
done

load1=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$(dirname "$OUT")"
jq -n --slurpfile L "$T/layers.json" --slurpfile M "$T/models.jsonl" \
    --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
    --arg load0 "$load0" --arg load1 "$load1" --argjson threads "$THREADS" \
    --arg date "$(date -u +%Y-%m-%dT%H:%MZ)" '
    {what: "sparse vs dense int8 QLinearConv: per layer (one-node sessions, random pattern, alternating calls, median and best of REPS) and resnet8 pruned by magnitude per layer then quantized to int8 (minnow bench batch-1 p50, median over rounds; MINNOW_SPARSE=dense|sparse|auto)",
     note: "machine shared with other jobs (load average below): compare the side-by-side ratios, not absolute times",
     date: $date, cpu: $cpu, threads: $threads,
     loadavg_start: $load0, loadavg_end: $load1,
     isa: $L[0].isa,
     layers: $L[0].q8_layers,
     layer_speedup_at_90: [$L[0].q8_layers[] | {layer, speedup_best: (.points[] | select(.sparsity == 0.9) | .speedup_best), speedup_median: (.points[] | select(.sparsity == 0.9) | .speedup)}],
     models: $M}' > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "wrote $OUT"
