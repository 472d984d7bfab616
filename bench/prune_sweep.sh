#!/bin/sh
# bench/prune_sweep.sh [BUILD_DIR] — pruning sweep without fine-tuning.
#
# models/fashion_cnn.onnx pruned by magnitude (per layer and global),
# random, N:M (pattern derived from the sparsity: 2:4, 3:10, 1:5, 1:10,
# 1:20) and channel pruning (L1, L2 and BatchNorm-gamma criteria) at
# sparsity 50/70/80/90/95 %: top-1 accuracy on the 10 000 Fashion-MNIST
# test images (`minnow eval` on the written file), parameters, non-zero
# parameters, MACs and file bytes. Unstructured and N:M files stay the same
# size: ONNX stores weights densely. For channel pruning (and the dense
# model) batch-1 latency in `minnow bench` and in ONNX Runtime
# (bench/peers/ort_run.js, one thread), ONNX Runtime's accuracy on the same
# file, and the speed-ups. FINETUNE_EPOCHS=N adds fine-tuned points (global
# magnitude with the mask held, BatchNorm-gamma channel pruning). Then the
# peer models (random weights) and untrained builds of the training
# engine's architectures pruned to half their MACs, exact and with
# --round-to 8, timed the same way, with ONNX Runtime's agreement.
#
# Every point's .mnw size (minnow export: sparse weights stored compactly),
# and with INT8=1 (default) the magnitude-global and fine-tuned points
# quantized to int8 (512 calibration images): .mnw bytes, top-1 and
# minnow's batch-1 p50 of the int8 file.
#
# Writes bench/results/prune.json (OUT=...). Needs jq and node; ONNX Runtime is
# installed into bench/peers on first use; /usr/bin/python3 with numpy +
# onnx prepares ONNX Runtime's test data (skipped when missing).
#   MINNOW=path/to/minnow  RUNS=200  SPARSITIES="0.5 0.7 0.8 0.9 0.95"
#   PEERS=1  ARCHS="resnet8 ..."  FINETUNE_EPOCHS=0  FT_SPARSITIES="0.5 0.9"
#   THREADS=2 (fine-tuning)
set -eu
B=${1:-build}
MINNOW=${MINNOW:-$B/minnow}
MODEL=${MODEL:-models/fashion_cnn.onnx}
RUNS=${RUNS:-200}
SPARSITIES=${SPARSITIES:-"0.5 0.7 0.8 0.9 0.95"}
PEERS=${PEERS:-1}
FT=${FINETUNE_EPOCHS:-0}
FT_SPARSITIES=${FT_SPARSITIES:-"0.5 0.9"}
THREADS=${THREADS:-2}
ARCHS=${ARCHS:-"resnet8 resnet20 mobilenetv2 mobilenetv3-small efficientnetv2-tiny convnext-tiny"}
ORT="node bench/peers/ort_run.js"
PY=/usr/bin/python3
OUT=${OUT:-bench/results/prune.json}
INT8=${INT8:-1}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM
mkdir -p bench/results
ROWS=$T/rows.jsonl
PROWS=$T/peers.jsonl
: >"$ROWS"
: >"$PROWS"

if ! "$MINNOW" prune --help >/dev/null 2>&1; then
    echo "prune_sweep: '$MINNOW prune' is not available" >&2
    exit 1
fi
if ! (cd bench/peers && node -e "require('onnxruntime-node')") >/dev/null 2>&1
then
    echo "== installing onnxruntime-node into bench/peers" >&2
    (cd bench/peers && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit \
        --no-fund >&2) || echo "prune_sweep: no ONNX Runtime; its columns" \
                               "stay null" >&2
fi
HAVE_ORT=0
(cd bench/peers && node -e "require('onnxruntime-node')") >/dev/null 2>&1 &&
    HAVE_ORT=1
HAVE_XY=0
if [ "$HAVE_ORT" = 1 ] && [ -f bench/quant_bench_util.py ] &&
   $PY bench/quant_bench_util.py testdata "$MODEL" "$T/x.npy" "$T/y.npy" \
       >/dev/null 2>&1; then
    HAVE_XY=1
fi

bytes() { stat -c %s "$1"; }
mn_acc() { "$MINNOW" eval "$1" --data fashion-mnist:test --json | jq '.accuracy'; }
mn_p50() { "$MINNOW" bench "$1" --threads 1 --runs "$RUNS" --json | jq '.p50_ms'; }
ort_p50() {
    if [ "$HAVE_ORT" = 1 ]; then
        $ORT "$1" --bench --threads 1 --runs "$RUNS" | jq '.p50_ms'
    else echo null; fi
}
ort_acc() {
    if [ "$HAVE_XY" = 1 ]; then
        $ORT "$1" --eval-npy "$T/x.npy" "$T/y.npy" | jq '.accuracy'
    else echo null; fi
}
stats() { "$MINNOW" info "$1" --json | jq -c '{params, nonzero_params, macs}'; }

echo "== dense $MODEL" >&2
D_ACC=$(mn_acc "$MODEL")
D_MN=$(mn_p50 "$MODEL")
D_ORT=$(ort_p50 "$MODEL")
D_ORTACC=$(ort_acc "$MODEL")
stats "$MODEL" | jq -c --arg m dense --argjson b "$(bytes "$MODEL")" \
    --argjson a "$D_ACC" --argjson mn "$D_MN" --argjson o "$D_ORT" \
    --argjson oa "$D_ORTACC" \
    '{method:$m, scope:null, criterion:null, sparsity_requested:0,
      sparsity:0} + . + {bytes:$b, accuracy:$a, drop_pp:0,
      minnow_p50_ms:$mn, ort_p50_ms:$o, ort_accuracy:$oa}' >>"$ROWS"

# one configuration: label, then `minnow prune` options
one() {
    label=$1
    shift
    f=$T/p.onnx
    rm -f "$f"
    if ! "$MINNOW" prune "$MODEL" "$@" --seed 1 -o "$f" --json >"$T/p.json" \
        2>"$T/err"; then
        echo "   $label $*: $(cat "$T/err")" >&2
        return 0
    fi
    acc=$(mn_acc "$f")
    "$MINNOW" export "$f" --format mnw -o "$T/p.mnw"
    mnw=$(bytes "$T/p.mnw")
    q8='{}'
    case "$INT8:$label" in 1:magnitude-global* | 1:*-ft)
        if "$MINNOW" quantize "$f" --mode int8 --calib fashion-mnist:train \
            -o "$T/q.onnx" > /dev/null 2>&1 &&
           "$MINNOW" export "$T/q.onnx" --format mnw -o "$T/q.mnw"; then
            q8=$(jq -nc --argjson b "$(bytes "$T/q.mnw")" \
                 --argjson a "$(mn_acc "$T/q.mnw")" \
                 --argjson p "$(mn_p50 "$T/q.onnx")" \
                 '{int8_mnw_bytes:$b, int8_accuracy:$a, int8_minnow_p50_ms:$p}')
        fi ;;
    esac
    mn=null ort=null oacc=null
    case "$label" in channel*) mn=$(mn_p50 "$f"); ort=$(ort_p50 "$f")
                               oacc=$(ort_acc "$f") ;; esac
    echo "   $label $*: accuracy $acc" >&2
    jq -c --arg l "$label" --argjson b "$(bytes "$f")" --argjson a "$acc" \
        --argjson da "$D_ACC" --argjson mn "$mn" --argjson o "$ort" \
        --argjson oa "$oacc" --argjson dmn "$D_MN" --argjson dort "$D_ORT" \
        --argjson mnw "$mnw" --argjson q8 "$q8" \
        '{method:$l, scope, criterion, sparsity_requested, sparsity,
          n:(.n // null), m:(.m // null),
          params:.params_after, nonzero_params:.nonzero_after,
          macs:.macs_after, bytes:$b, mnw_bytes:$mnw, accuracy:$a,
          drop_pp:(100 * ($da - $a)),
          channels_removed:(.channels_removed // null),
          minnow_p50_ms:$mn, ort_p50_ms:$o, ort_accuracy:$oa,
          minnow_speedup:(if $mn == null then null else $dmn / $mn end),
          ort_speedup:(if $o == null or $dort == null then null
                       else $dort / $o end)} + $q8' "$T/p.json" >>"$ROWS"
}

for s in $SPARSITIES; do
    echo "== sparsity $s" >&2
    one magnitude --method magnitude --sparsity "$s"
    one magnitude-global --method magnitude --scope global --sparsity "$s"
    one random --method random --sparsity "$s"
    one nm --method nm --sparsity "$s"
    one channel --method channel --criterion l1 --sparsity "$s"
    one channel-l2 --method channel --criterion l2 --sparsity "$s"
    one channel-bn --method channel --criterion bn --sparsity "$s"
done

# fine-tuned points (FINETUNE_EPOCHS > 0): masked for magnitude, dense for
# channel pruning
if [ "$FT" -gt 0 ]; then
    for s in $FT_SPARSITIES; do
        echo "== fine-tuned, sparsity $s" >&2
        one magnitude-global-ft --method magnitude --scope global \
            --sparsity "$s" --finetune-epochs "$FT" --data fashion-mnist \
            --threads "$THREADS"
        one channel-bn-ft --method channel --criterion bn --sparsity "$s" \
            --finetune-epochs "$FT" --data fashion-mnist:train \
            --threads "$THREADS"
    done
fi

# Speed of channel pruning to half the MACs on the peer models and on
# untrained builds of the training engine's architectures (1x28x28 input),
# with exact channel counts and with --round-to 8. Also checks that ONNX
# Runtime runs each pruned file and agrees with minnow on a random input.
speed() {
    name=$1 src=$2 rt=$3
    f=$T/s.onnx
    "$MINNOW" prune "$src" --method channel --target-macs 0.5 --round-to "$rt" \
        -o "$f" --json >"$T/p.json"
    agree=null
    if [ "$HAVE_XY" = 1 ]; then
        shape=$("$MINNOW" info "$src" --json | jq -r '.inputs[0].shape[1:] | join(",")')
        $PY bench/quant_bench_util.py randn "$shape" 1 7 "$T/r.npy" >/dev/null
        rm -rf "$T/oo" "$T/om"
        mkdir -p "$T/oo"
        $ORT "$f" --in "$T/r.npy" --out "$T/oo" >/dev/null
        "$MINNOW" run "$f" -i "$T/r.npy" -o "$T/om" >/dev/null
        agree=$($PY bench/quant_bench_util.py compare "$T/oo"/*.npy \
                "$T/om"/*.npy | jq '.max_abs')
    fi
    echo "   $name round-to $rt: |ORT - minnow| = $agree" >&2
    jq -c --arg m "$name" --argjson rt "$rt" --argjson b0 "$(bytes "$src")" \
        --argjson b1 "$(bytes "$f")" --argjson mn0 "$(mn_p50 "$src")" \
        --argjson mn1 "$(mn_p50 "$f")" --argjson o0 "$(ort_p50 "$src")" \
        --argjson o1 "$(ort_p50 "$f")" --argjson ag "$agree" \
        '{model:$m, round_to:$rt, target_macs_ratio, target_reached,
          macs_before, macs_after, params_before, params_after,
          bytes_before:$b0, bytes_after:$b1, channels, channels_removed,
          channels_pinned, minnow_p50_ms_before:$mn0,
          minnow_p50_ms_after:$mn1, ort_p50_ms_before:$o0,
          ort_p50_ms_after:$o1, minnow_speedup:($mn0 / $mn1),
          ort_speedup:(if $o0 == null then null else $o0 / $o1 end),
          ort_vs_minnow_max_abs:$ag}' "$T/p.json" >>"$PROWS"
}

if [ "$PEERS" = 1 ]; then
    for m in resnet_tiny mobilenetv2_tiny efficientnet_style \
             convnext_tiny_style_op17; do
        echo "== $m" >&2
        for rt in 1 8; do speed "$m" "tests/data/peers/$m.onnx" "$rt"; done
    done
    for a in $ARCHS; do
        echo "== $a (untrained)" >&2
        if ! "$MINNOW" train --arch "$a" --data fashion-mnist --epochs 0 \
            --limit 256 -o "$T/$a.onnx" >/dev/null 2>"$T/err"; then
            echo "   $a: $(cat "$T/err")" >&2
            continue
        fi
        for rt in 1 8; do speed "$a" "$T/$a.onnx" "$rt"; done
    done
fi

jq -n --slurpfile r "$ROWS" --slurpfile p "$PROWS" \
    --arg model "$MODEL" --argjson ft "$FT" --arg host "$(uname -m) $(nproc) cpus" \
    '{generator:"bench/prune_sweep.sh", model:$model, host:$host,
      finetune_epochs:$ft,
      note:"rows without -ft are not fine-tuned; unstructured/N:M files keep the dense ONNX size",
      fashion_cnn:$r, speed_half_macs:$p}' >"$OUT"
echo "wrote $OUT" >&2
