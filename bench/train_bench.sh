#!/bin/sh
# bench/train_bench.sh [BUILD_DIR] — training speed, minnow vs PyTorch.
#
# For each architecture: images/s of `minnow train` and of
# bench/train_torch.py --bench (the same network rebuilt layer by layer in
# PyTorch, the same batch, threads, augmentation and optimizer), both after
# 2 warm-up steps: PyTorch times the steps after its warm-up; minnow's
# figure is n / (t(n + 2 steps) − t(2 steps)), the epoch times (training
# only, without model/tape creation and test evaluation) of two runs, so
# its first steps (which fault in and zero the tape's memory) are left out
# the same way. minnow's whole-epoch figure (first steps included) is kept
# in the JSON as minnow_epoch_images_per_s. The trainable parameter counts
# of the two must match or the architecture is skipped with an error.
# The two sides run back to back, REPEAT times; the medians and their ratio
# (minnow / PyTorch) are reported. On a loaded machine only the ratio means
# anything: each pair runs under the same load.
#
# BASELINE=path/to/other/minnow adds that build to every pair (run before
# the current one): its whole-epoch images/s and the speed-up of MINNOW's
# whole-epoch figure over it.
#
# Writes bench/results/train_speed.json and bench/results/train_speed.md.
# Needs jq and /usr/bin/python3 with torch (1.13) + numpy.
#   MINNOW=path/to/minnow  REPEAT=3  BATCH=128  THREADS=2
#   ARCHS="resnet8:1.0:4096 ..."   (name:width:images per run)
#   NICE="nice -n 10"  OUT=bench/results/train_speed
set -eu
B=${1:-build}
MINNOW=${MINNOW:-$B/minnow}
BASELINE=${BASELINE:-}
REPEAT=${REPEAT:-3}
BATCH=${BATCH:-128}
THREADS=${THREADS:-2}
NICE=${NICE:-nice -n 10}
OUT=${OUT:-bench/results/train_speed}
ARCHS=${ARCHS:-"resnet8:1.0:4096 thesis-cnn:1.0:4096 mobilenetv2:0.5:1024
mobilenetv2:1.0:768 convnext-tiny:1.0:1024 efficientnetv2-tiny:1.0:768"}
PY=/usr/bin/python3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM
ROWS=$T/rows.jsonl
: >"$ROWS"

median() { tr ' ' '\n' | grep . | sort -g |
           awk '{v[NR]=$1} END {if (NR == 0) print "null";
                else if (NR % 2) print v[(NR+1)/2];
                else print (v[NR/2]+v[NR/2+1])/2}'; }

for spec in $ARCHS; do
    arch=${spec%%:*}; rest=${spec#*:}; width=${rest%%:*}; n=${rest#*:}
    steps=$((n / BATCH))
    echo "== $arch width $width: $n images, batch $BATCH, $THREADS threads" >&2
    mp=$("$MINNOW" train --arch "$arch" --width "$width" --data fashion-mnist \
         --epochs 0 --limit "$BATCH" --test-limit 1 --no-checkpoint --json \
         -o "$T/m.onnx" 2>/dev/null | jq .params)
    tp=$($PY bench/train_torch.py --arch "$arch" --width "$width" --params |
         jq .params)
    if [ "$mp" != "$tp" ]; then
        echo "train_bench: $arch: minnow has $mp parameters, the PyTorch" \
             "twin $tp; skipped" >&2
        continue
    fi
    ms=""; ts=""; bs=""; es=""
    r=0
    while [ $r -lt "$REPEAT" ]; do
        if [ -n "$BASELINE" ]; then
            bl=$($NICE "$BASELINE" train --arch "$arch" --width "$width" \
                 --data fashion-mnist --epochs 1 --limit "$n" --test-limit 1 \
                 --batch "$BATCH" --threads "$THREADS" --no-checkpoint \
                 --json -o "$T/b.onnx" 2>/dev/null | jq .images_per_s)
            echo "   run $((r + 1)): baseline $bl img/s" >&2
            bs="$bs $bl"
        fi
        warm=$((2 * BATCH)); nw=$((n + warm))
        me=$($NICE "$MINNOW" train --arch "$arch" --width "$width" \
            --data fashion-mnist --epochs 1 --limit "$nw" --test-limit 1 \
            --batch "$BATCH" --threads "$THREADS" --no-checkpoint --json \
            -o "$T/m.onnx" 2>/dev/null | jq .images_per_s)
        mw=$($NICE "$MINNOW" train --arch "$arch" --width "$width" \
            --data fashion-mnist --epochs 1 --limit "$warm" --test-limit 1 \
            --batch "$BATCH" --threads "$THREADS" --no-checkpoint --json \
            -o "$T/m.onnx" 2>/dev/null | jq .images_per_s)
        m=$(awk -v n="$n" -v nw="$nw" -v w="$warm" -v a="$me" -v b="$mw" \
            'BEGIN { d = nw / a - w / b; print (d > 0 ? n / d : "null") }')
        t=$($NICE $PY bench/train_torch.py --arch "$arch" --width "$width" \
            --bench --steps "$steps" --warmup 2 --batch "$BATCH" \
            --threads "$THREADS" | jq .images_per_s)
        echo "   run $((r + 1)): minnow $m img/s (whole epoch $me), pytorch $t img/s" >&2
        ms="$ms $m"; ts="$ts $t"; es="$es $me"
        r=$((r + 1))
    done
    mm=$(echo "$ms" | median); tm=$(echo "$ts" | median)
    em=$(echo "$es" | median)
    bm=$(echo "$bs" | median)
    jq -nc --arg a "$arch" --argjson w "$width" --argjson p "$mp" \
        --argjson n "$n" --argjson mm "$mm" --argjson tm "$tm" \
        --argjson bm "$bm" --arg ms "$ms" --arg ts "$ts" --arg bs "$bs" \
        --argjson em "$em" \
        '{arch:$a, width:$w, params:$p, images:$n,
          minnow_images_per_s:$mm, torch_images_per_s:$tm,
          minnow_epoch_images_per_s:$em,
          ratio:(if $tm > 0 then $mm / $tm else null end),
          minnow_runs:($ms | split(" ") | map(select(. != "") | tonumber)),
          torch_runs:($ts | split(" ") | map(select(. != "") | tonumber))}
         + (if $bm == null then {} else
            {baseline_images_per_s:$bm,
             speedup_vs_baseline:(if $bm > 0 then $em / $bm else null end),
             baseline_runs:($bs | split(" ") | map(select(. != "") | tonumber))}
            end)' \
        >>"$ROWS"
done

load=$(cut -d' ' -f1-3 /proc/loadavg)
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
tv=$($PY -c 'import torch; print(torch.__version__)')
jq -s --arg load "$load" --arg cpu "$cpu" --arg tv "$tv" \
    --argjson b "$BATCH" --argjson th "$THREADS" --argjson rep "$REPEAT" \
    --arg date "$(date -u +%Y-%m-%dT%H:%MZ)" \
    '{date:$date, cpu:$cpu, load_average_at_end:$load, torch:$tv, batch:$b,
      threads:$th, repeat:$rep,
      note:"medians of REPEAT back-to-back pairs; both img/s after 2 warm-up steps (minnow: n / (t(n + 2 steps) - t(2 steps)) from two runs); minnow_epoch_images_per_s includes its first steps",
      results:.}' "$ROWS" >"$T/out.json"
mv "$T/out.json" "$OUT.json.tmp" && mv "$OUT.json.tmp" "$OUT.json"
{
    echo "# Training speed: minnow vs PyTorch $tv"
    echo
    echo "batch $BATCH, $THREADS threads, Fashion-MNIST 28×28, median of" \
         "$REPEAT back-to-back runs; $cpu; load average at the end: $load."
    echo
    if [ -n "$BASELINE" ]; then
        echo "| architecture | width | params | baseline img/s | minnow img/s | speed-up | PyTorch img/s | minnow/PyTorch |"
        echo "|---|---|---|---|---|---|---|---|"
        jq -r '"| \(.arch) | \(.width) | \(.params) | \(.baseline_images_per_s*10|round/10) | \(.minnow_images_per_s*10|round/10) | \(.speedup_vs_baseline*100|round/100) | \(.torch_images_per_s*10|round/10) | \(.ratio*100|round/100) |"' "$ROWS"
    else
        echo "| architecture | width | params | minnow img/s | PyTorch img/s | minnow/PyTorch |"
        echo "|---|---|---|---|---|---|"
        jq -r '"| \(.arch) | \(.width) | \(.params) | \(.minnow_images_per_s*10|round/10) | \(.torch_images_per_s*10|round/10) | \(.ratio*100|round/100) |"' "$ROWS"
    fi
} >"$T/out.md"
mv "$T/out.md" "$OUT.md.tmp" && mv "$OUT.md.tmp" "$OUT.md"
cat "$OUT.md"
