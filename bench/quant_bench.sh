#!/bin/sh
# bench/quant_bench.sh [BUILD_DIR] — post-training quantization benchmark.
#
# For models/fashion_cnn.onnx: every int8 calibration method (min–max,
# percentile, entropy, MSE), int16x8, dynamic, float16 and int4 (weight
# only); file size and ratio to the fp32 file, top-1 accuracy on the 10 000
# Fashion-MNIST test images from `minnow eval` on the written file (int8 as
# integer operators, i.e. the integer kernels), from `minnow quantize
# --eval` in process, and from ONNX Runtime on the same file and on the QDQ
# export; seconds to quantize. Then calibration memory (peak RSS) at MEM_COUNTS images, and
# the peer models of tests/data/peers (random weights): output error vs fp32
# in minnow and agreement of ONNX Runtime with minnow.
#
# Writes bench/results/$NAME.json and .md (NAME=quant by default; MODEL=
# picks another model, e.g. MODEL=models/zoo/resnet8.onnx NAME=quant_resnet8
# PEERS=0 MEM_COUNTS=).
# Needs jq, node (bench/peers) and /usr/bin/python3 with numpy + onnx
# (peer-side data preparation only).
#   MINNOW=path/to/minnow  MEM_COUNTS="500 50000"  PEERS=1
set -eu
B=${1:-build}
MINNOW=${MINNOW:-$B/minnow}
MODEL=${MODEL:-models/fashion_cnn.onnx}; export MODEL
MEM_COUNTS=${MEM_COUNTS-"500 50000"}
NAME=${NAME:-quant}
PEERS=${PEERS:-1}
ORT="node bench/peers/ort_run.js"
PY=/usr/bin/python3
UTIL=bench/quant_bench_util.py
OUT=bench/results
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM
mkdir -p "$OUT"
ROWS=$T/rows.jsonl
: >"$ROWS"

if ! "$MINNOW" quantize --help >/dev/null 2>&1; then
    echo "quant_bench: '$MINNOW quantize' is not available" >&2
    exit 1
fi
bytes() { stat -c %s "$1"; }
ort_acc() { $ORT "$1" --eval-npy "$T/x.npy" "$T/y.npy" 2>/dev/null |
            jq -r '.accuracy // empty'; }
mn_acc() { "$MINNOW" eval "$1" --data fashion-mnist:test --json 2>"$T/eval.err" |
           jq -r '.accuracy // empty'; }

echo "== $MODEL: test data for ONNX Runtime" >&2
$PY $UTIL testdata "$MODEL" "$T/x.npy" "$T/y.npy"
FP_BYTES=$(bytes "$MODEL")
FP_ACC=$(mn_acc "$MODEL")
FP_ORT=$(ort_acc "$MODEL")
jq -nc --argjson b "$FP_BYTES" --argjson a "$FP_ACC" --argjson o "${FP_ORT:-null}" \
   '{kind:"fashion", mode:"fp32", bytes:$b, ratio:1, accuracy:$a, drop_pp:0,
     ort_accuracy:$o}' >>"$ROWS"

# one row: mode, method ("" for none), quantize JSON, minnow file, QDQ file
row() {
    acc=$(mn_acc "$4")
    # minnow's own deployable file of the same model, and its accuracy
    "$MINNOW" export "$4" --format mnw -o "$T/row.mnw"
    macc=$(mn_acc "$T/row.mnw")
    ort=$(ort_acc "$4")
    ortq=""
    [ -n "$5" ] && ortq=$(ort_acc "$5")
    err=""
    [ -z "$acc" ] && err=$(cat "$T/eval.err")
    jq -c --argjson a "${acc:-null}" --argjson fp "$FP_ACC" \
       --argjson b "$(bytes "$4")" --argjson fb "$FP_BYTES" \
       --argjson o "${ort:-null}" --argjson oq "${ortq:-null}" --arg e "$err" \
       --argjson mb "$(bytes "$T/row.mnw")" --argjson ma "${macc:-null}" \
       '{kind:"fashion", mode, calib_method, calib_samples, bytes:$b,
         ratio:($fb/$b), mnw_bytes:$mb, mnw_ratio:($fb/$mb),
         mnw_accuracy:$ma, accuracy:$a, accuracy_inproc:.accuracy,
         drop_pp:(100*($fp-(if $a == null then .accuracy else $a end))),
         ort_accuracy:$o, ort_qdq_accuracy:$oq, float_ops,
         float_op_types, integer_ops, seconds}
        + (if $e == "" then {} else {eval_error:$e} end)' "$3" >>"$ROWS"
}

EV="--eval fashion-mnist:test"
for m in minmax percentile entropy mse; do
    echo "== int8 $m" >&2
    # shellcheck disable=SC2086
    "$MINNOW" quantize "$MODEL" --mode int8 --calib fashion-mnist:train \
        --calib-method "$m" --format qop $EV -o "$T/int8_$m.onnx" --json >"$T/q.json"
    "$MINNOW" quantize "$MODEL" --mode int8 --calib fashion-mnist:train \
        --calib-method "$m" --format qdq -o "$T/int8_${m}_qdq.onnx" \
        --json >/dev/null
    row int8 "$m" "$T/q.json" "$T/int8_$m.onnx" "$T/int8_${m}_qdq.onnx"
done
echo "== int16x8" >&2
# shellcheck disable=SC2086
"$MINNOW" quantize "$MODEL" --mode int16x8 --calib fashion-mnist:train $EV \
    -o "$T/int16x8.onnx" --json >"$T/q.json"
row int16x8 minmax "$T/q.json" "$T/int16x8.onnx" ""
for mode in dynamic float16 int4; do
    echo "== $mode" >&2
    # shellcheck disable=SC2086
    "$MINNOW" quantize "$MODEL" --mode $mode $EV -o "$T/$mode.onnx" --json >"$T/q.json"
    row $mode "" "$T/q.json" "$T/$mode.onnx" ""
done

for n in $MEM_COUNTS; do
    echo "== calibration memory, $n images" >&2
    "$MINNOW" quantize "$MODEL" --mode int8 --calib fashion-mnist:train \
        --calib-count "$n" --calib-method entropy -o "$T/mem.onnx" --json |
        jq -c '{kind:"memory", calib_samples, peak_rss_bytes, observer_bytes,
                seconds}' >>"$ROWS"
done

if [ "$PEERS" = 1 ]; then
    for f in tests/data/peers/*.onnx; do
        name=$(basename "$f" .onnx)
        shape=$($PY -c "import numpy as n,sys; print(','.join(map(str,n.load(sys.argv[1]).shape[1:])))" \
                tests/data/peers/$name.input.npy)
        echo "== peer $name ($shape)" >&2
        $PY $UTIL randn "$shape" 64 1 "$T/calib.npy"
        $PY $UTIL randn "$shape" 128 2 "$T/in.npy"
        rm -rf "$T/ref" && "$MINNOW" run "$f" -i "$T/in.npy" -o "$T/ref" >/dev/null
        for mode in int8 dynamic float16; do
            extra=""
            [ $mode = int8 ] && extra="--calib npy:$T/calib.npy --format qop"
            # shellcheck disable=SC2086
            if ! "$MINNOW" quantize "$f" --mode $mode $extra -o "$T/p.onnx" \
                    --json >"$T/q.json" 2>"$T/err"; then
                jq -nc --arg m "$name" --arg mode $mode --arg e "$(cat "$T/err")" \
                   '{kind:"peer", model:$m, mode:$mode, error:$e, rel:-1,
                     top1_agree:0}' >>"$ROWS"
                continue
            fi
            rm -rf "$T/got" "$T/ort"
            "$MINNOW" run "$T/p.onnx" -i "$T/in.npy" -o "$T/got" >/dev/null
            out=$(ls "$T/ref" | head -1)
            cmp=$($PY $UTIL compare "$T/ref/$out" "$T/got/$out")
            ortrel=null
            if $ORT "$T/p.onnx" --in "$T/in.npy" --out "$T/ort" >/dev/null 2>&1; then
                ortrel=$($PY $UTIL compare "$T/got/$out" "$T/ort/$out" | jq .rel)
            fi
            jq -c --arg m "$name" --argjson c "$cmp" --argjson o "$ortrel" \
               --argjson fb "$(bytes "$f")" --argjson b "$(bytes "$T/p.onnx")" \
               '{kind:"peer", model:$m, mode, ratio:($fb/$b), rel:$c.rel,
                 top1_agree:$c.top1_agree, ort_rel:$o, float_ops,
                 float_op_types}' "$T/q.json" >>"$ROWS"
        done
    done
fi

$PY $UTIL report "$ROWS" "$OUT/$NAME.json" "$OUT/$NAME.md"
cat "$OUT/$NAME.md"
