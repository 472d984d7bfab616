#!/bin/sh
# End-to-end tests of `minnow quantize` (docs/quantization.md): every mode
# writes a file minnow runs, int8 as integer operators keeps the accuracy,
# bad input exits 1 with one line naming the cause and writes nothing.
# Ends with "N passed, M failed".
# usage: tests/cli_quant_test.sh [BUILD]     (MINNOW=path overrides the binary)
B=${1:-build}
cd "$(dirname "$0")/.." || exit 2
M=${MINNOW:-./$B/minnow}
MODEL=models/fashion_cnn.onnx
PEER=tests/data/peers/resnet_tiny.onnx
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# expect CODE DESCRIPTION -- command...   (stdout → $T/out, stderr → $T/err)
expect() {
  want=$1; what=$2; shift 3
  "$@" > "$T/out" 2> "$T/err"; got=$?
  if [ "$got" -eq "$want" ]; then ok; else
    bad "$what: exit $got, expected $want"; sed 's/^/    /' "$T/err" | head -5
  fi
}
err_names() {
  if grep -q -- "$1" "$T/err" && [ "$(wc -l < "$T/err")" -le 2 ]; then ok; else
    bad "error message should name '$1' on one line: $(head -3 "$T/err")"; fi
}
no_file() { [ ! -e "$1" ] && ok || bad "$1 must not be written"; rm -f "$1"; }
jget() { python3 -c "import json; print(json.load(open('$T/out'))['$1'])"; }

# ---- bad input: exit 1, one line, nothing written ----
expect 1 "unknown mode" -- $M quantize $MODEL --mode int3 -o "$T/q.onnx"
err_names "int3"; no_file "$T/q.onnx"
expect 1 "int8 without data" -- $M quantize $MODEL --mode int8 -o "$T/q.onnx"
err_names "calib"; no_file "$T/q.onnx"
expect 1 "data of the wrong shape" -- $M quantize $MODEL --mode int8 \
  --calib npy:tests/data/peers/resnet_tiny.input.npy -o "$T/q.onnx"
err_names "resnet_tiny.input.npy"; no_file "$T/q.onnx"
expect 1 "unknown method" -- $M quantize $MODEL --mode int8 \
  --calib fashion-mnist:train --calib-method kl -o "$T/q.onnx"
err_names "kl"; no_file "$T/q.onnx"
expect 1 "unknown keep-float node" -- $M quantize $MODEL --mode dynamic \
  --keep-float nosuchnode -o "$T/q.onnx"
err_names "nosuchnode"; no_file "$T/q.onnx"
expect 1 "missing model" -- $M quantize "$T/none.onnx" --mode dynamic -o "$T/q.onnx"
err_names "none.onnx"; no_file "$T/q.onnx"
CNX=tests/data/peers/convnext_tiny_style_op17
expect 1 "strict with float ops" -- $M quantize $CNX.onnx --mode int8 \
  --calib npy:$CNX.input.npy --strict -o "$T/q.onnx"
err_names "LayerNormalization"; no_file "$T/q.onnx"
expect 2 "no mode" -- $M quantize $MODEL -o "$T/q.onnx"
expect 2 "no output" -- $M quantize $MODEL --mode dynamic

# ---- int8 as integer operators: accuracy through minnow eval ----
expect 0 "fp32 eval" -- $M eval $MODEL --data fashion-mnist:test --limit 1000 --json
fp=$(jget accuracy)
expect 0 "int8 qop" -- $M quantize $MODEL --mode int8 --calib fashion-mnist:train \
  --calib-count 256 --calib-method entropy --format qop -o "$T/q8.onnx" --json
[ "$(wc -l < "$T/out")" -eq 1 ] && ok || bad "--json prints one line"
[ "$(jget float_ops)" = 0 ] && ok || bad "fashion_cnn int8 leaves float ops"
[ "$(jget calib_samples)" = 256 ] && ok || bad "calib_samples"
python3 -c "import json; d=json.load(open('$T/out')); assert d['size_ratio'] > 3.8" \
  && ok || bad "int8 file should be > 3.8x smaller"
expect 0 "int8 info" -- $M info "$T/q8.onnx" --json
python3 -c "
import json; d=json.load(open('$T/out'))
ops=[l['op'] for l in d['layers']]
assert ops.count('QLinearConv') == 5 and 'Conv' not in ops and 'Gemm' not in ops, ops
" && ok || bad "int8 qop file should hold 5 QLinearConv and no float Conv/Gemm"
expect 0 "int8 eval" -- $M eval "$T/q8.onnx" --data fashion-mnist:test --limit 1000 --json
q8=$(jget accuracy)
python3 -c "assert abs($fp - $q8) <= 0.006, ($fp, $q8)" && ok \
  || bad "int8 accuracy $q8 vs fp32 $fp"
# sparse int8 kernels (docs/sparse.md): forced either way, every
# QLinearConv shows its kernel and the outputs are the same bytes
python3 - "$T/x.npy" <<'EOF'
import struct, sys, random
random.seed(2)
n = 3 * 1 * 28 * 28
hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 1, 28, 28), }"
hdr += " " * (63 - (10 + len(hdr)) % 64) + "\n"
with open(sys.argv[1], "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode())
    f.write(struct.pack("<%df" % n, *[random.random() for _ in range(n)]))
EOF
expect 0 "prune 90 %" -- $M prune $MODEL --sparsity 0.9 --method magnitude \
  -o "$T/p9.onnx"
expect 0 "int8 of the pruned model" -- $M quantize "$T/p9.onnx" --mode int8 \
  --calib fashion-mnist:train --calib-count 64 -o "$T/p9q.onnx"
for mode in sparse dense; do
  expect 0 "int8 info MINNOW_SPARSE=$mode" -- env MINNOW_SPARSE=$mode \
    $M info "$T/p9q.onnx" --json
  python3 -c "
import json; d=json.load(open('$T/out'))
k=[l.get('kernel') for l in d['layers'] if l['op'] == 'QLinearConv']
assert len(k) == 5 and all(x == '$mode' for x in k), k
" && ok || bad "MINNOW_SPARSE=$mode must run every QLinearConv $mode"
  expect 0 "int8 run MINNOW_SPARSE=$mode" -- env MINNOW_SPARSE=$mode \
    $M run "$T/p9q.onnx" -i "$T/x.npy" -o "$T/p9$mode"
done
cmp -s "$T/p9sparse/output.npy" "$T/p9dense/output.npy" && ok \
  || bad "sparse and dense int8 kernels must give the same bytes"

# ---- integer-only graphs: residual Add and pooling as com.microsoft ops ----
expect 0 "resnet int8 strict" -- $M quantize $PEER --mode int8 \
  --calib npy:tests/data/peers/resnet_tiny.input.npy --strict -o "$T/r8.onnx" --json
[ "$(jget float_ops)" = 0 ] && ok || bad "resnet_tiny int8 leaves float ops"
expect 0 "resnet int8 info" -- $M info "$T/r8.onnx" --json
python3 -c "
import json; d=json.load(open('$T/out'))
ops=[l['op'] for l in d['layers']]
assert ops.count('QLinearAdd') == 2 and ops.count('QLinearGlobalAveragePool') == 1, ops
assert not {'Add', 'GlobalAveragePool', 'Relu'} & set(ops), ops
# weights by dtype and each quantized layer's scales and zero points
w = d['weight_bytes_by_dtype']
assert w['int8'] > 0 and d['weight_bytes'] == sum(w.values()), w
q = [l['quant'] for l in d['layers'] if l['op'] == 'QLinearConv']
assert q and all(x['x_scale'] > 0 and x['y_scale'] > 0 and
                 x['w_scales'] >= 1 and
                 0 < x['w_scale_min'] <= x['w_scale_max'] for x in q), q
" && ok || bad "resnet_tiny int8 should hold 2 QLinearAdd, 1 QLinearGlobalAveragePool, quant params"
expect 0 "resnet int8 runs" -- $M run "$T/r8.onnx" \
  -i tests/data/peers/resnet_tiny.input.npy -o "$T/r8out"
# --keep-float on an Add between quantized tensors: it runs integer anyway,
# and the command says so instead of ignoring the request
expect 0 "keep-float on an int8 Add" -- $M quantize $PEER --mode int8 \
  --calib npy:tests/data/peers/resnet_tiny.input.npy \
  --keep-float /layer1/Add -o "$T/kf.onnx"
grep -q "warning: --keep-float /layer1/Add: .*integer operator" "$T/err" &&
  ok || bad "keep-float on a quantized Add should warn: $(head -2 "$T/err")"

# ---- the other modes write files minnow runs ----
for mode in dynamic float16 int4; do
  expect 0 "$mode" -- $M quantize $MODEL --mode $mode -o "$T/$mode.onnx" --json
  expect 0 "$mode eval" -- $M eval "$T/$mode.onnx" --data fashion-mnist:test \
    --limit 1000 --json
  a=$(jget accuracy)
  python3 -c "assert abs($fp - $a) <= 0.01, ($fp, $a)" && ok \
    || bad "$mode accuracy $a vs fp32 $fp"
done
python3 -c "
import os; r = os.path.getsize('$MODEL') / os.path.getsize('$T/float16.onnx')
assert r >= 1.95, r" && ok || bad "float16 file should be >= 1.95x smaller"
# int4: ONNX INT4 initializers behind DequantizeLinear, >= 6x smaller, and
# it loads back (eval above); per-channel and float16 scales also run
expect 0 "int4 info" -- $M info "$T/int4.onnx" --json
python3 -c "
import os, json; r = os.path.getsize('$MODEL') / os.path.getsize('$T/int4.onnx')
d = json.load(open('$T/out'))
l = [x for x in d['layers'] if x['op'] == 'DequantizeLinear']
assert r >= 6, r
assert len(l) == 5 and all(x['dtype'] == 'int4' for x in l), l
assert all(0 < x['nonzero_params'] <= x['params'] for x in l), l
" && ok || bad "int4 file should be >= 6x smaller with 5 INT4 weights"
expect 0 "int4 per channel, float16 scales" -- $M quantize $MODEL --mode int4 \
  --group 0 --scale-f16 -o "$T/int4c.onnx" --json
expect 0 "int4 per channel eval" -- $M eval "$T/int4c.onnx" \
  --data fashion-mnist:test --limit 1000 --json
expect 0 "int4 float32 scales" -- $M quantize $MODEL --mode int4 --scale-f32 \
  -o "$T/int4f32.onnx" --json
python3 -c "
import os; a = os.path.getsize('$T/int4.onnx'); b = os.path.getsize('$T/int4f32.onnx')
assert b > a, (a, b)" && ok || bad "float32 scales should make a larger file than the float16 default"
# --weights: float16/int4 weights stay compressed at run time (compact, the
# default) with the same outputs as folded to float32 (float)
for q in float16 int4 int4c int4f32; do
  for w in compact float; do
    expect 0 "$q info --weights $w" -- $M info "$T/$q.onnx" --weights $w --json
    cp "$T/out" "$T/info_$w.json"
    expect 0 "$q run --weights $w" -- $M run "$T/$q.onnx" -i "$T/x.npy" \
      -o "$T/o_$w" --weights $w --threads 2
  done
  python3 -c "
import json
c = json.load(open('$T/info_compact.json')); f = json.load(open('$T/info_float.json'))
assert c['weights'] == 'compact' and f['weights'] == 'float', (c['weights'], f['weights'])
w = c['weight_bytes']
# compact: about the file's constants; float adds float32 copies
assert c['resident_weight_bytes'] < 1.1 * w, (c['resident_weight_bytes'], w)
assert f['resident_weight_bytes'] > c['resident_weight_bytes'] + w, f
" && ok || bad "$q: --weights compact should keep the weights compressed"
  cmp -s "$T/o_compact/output.npy" "$T/o_float/output.npy" && ok \
    || bad "$q: compact and float weights give different outputs"
  rm -rf "$T/o_compact" "$T/o_float"
done
expect 0 "bench --weights" -- $M bench "$T/int4.onnx" --runs 2 --weights \
  compact --json
[ "$(jget weights)" = compact ] && [ "$(jget resident_weight_bytes)" -gt 0 ] \
  && ok || bad "bench JSON reports the weights mode and resident bytes"
expect 0 "eval --weights float" -- $M eval "$T/int4.onnx" --data \
  fashion-mnist:test --limit 200 --weights float --json
expect 2 "--weights bad value" -- $M run "$T/int4.onnx" -i "$T/x.npy" \
  -o "$T/o" --weights int4
grep -q -- "--weights" "$T/err" && ok || bad "usage error names --weights"
expect 1 "--group without int4" -- $M quantize $MODEL --mode float16 \
  --group 32 -o "$T/q.onnx"
err_names "group"; no_file "$T/q.onnx"
expect 0 "int16x8 in-process eval" -- $M quantize $MODEL --mode int16x8 \
  --calib fashion-mnist:train --calib-count 128 --eval fashion-mnist:test \
  --eval-limit 1000 -o "$T/q16.onnx" --json
a=$(jget accuracy)
python3 -c "assert abs($fp - $a) <= 0.004, ($fp, $a)" && ok \
  || bad "int16x8 accuracy $a vs fp32 $fp"

# ---- equalization, bias correction, --analyze, --max-drop ----
HELD=fashion-mnist:train@50000:
expect 1 "--max-drop negative" -- $M quantize $MODEL --mode int8 \
  --calib fashion-mnist:train --eval-data $HELD --max-drop -1 -o "$T/q.onnx"
err_names "max-drop"; no_file "$T/q.onnx"
expect 1 "--analyze without held-out data" -- $M quantize $MODEL --mode int8 \
  --calib fashion-mnist:train --analyze -o "$T/q.onnx"
err_names "eval-data"; no_file "$T/q.onnx"
expect 1 "--analyze without calibration data" -- $M quantize $MODEL \
  --mode int8 --eval-data $HELD --analyze -o "$T/q.onnx"
err_names "calib"; no_file "$T/q.onnx"
expect 1 "held-out data overlapping the calibration data" -- $M quantize \
  $MODEL --mode int8 --calib fashion-mnist:train --calib-count 128 \
  --eval-data fashion-mnist:train@100:600 --analyze -o "$T/q.onnx"
err_names "overlaps"; no_file "$T/q.onnx"
expect 1 "bias correction without calibration" -- $M quantize $MODEL \
  --mode dynamic --bias-correct -o "$T/q.onnx"
err_names "bias correction"; no_file "$T/q.onnx"
expect 1 "bad slice" -- $M quantize $MODEL --mode int8 \
  --calib fashion-mnist:train@9:3 -o "$T/q.onnx"
err_names "@9:3"; no_file "$T/q.onnx"

expect 0 "int8 --equalize --bias-correct" -- $M quantize $MODEL --mode int8 \
  --calib fashion-mnist:train --calib-count 256 --equalize --bias-correct \
  -o "$T/qe.onnx" --json
python3 -c "
import json; d=json.load(open('$T/out'))
assert d['eq_pairs'] == 3 and d['bias_corrected'] == 5, d
assert d['eq_spread_after'] < d['eq_spread_before'], d
" && ok || bad "--equalize/--bias-correct report (3 pairs, 5 layers, spread down)"
expect 0 "equalized int8 eval" -- $M eval "$T/qe.onnx" --data fashion-mnist:test \
  --limit 1000 --json
a=$(jget accuracy)
python3 -c "assert abs($fp - $a) <= 0.006, ($fp, $a)" && ok \
  || bad "equalized + bias-corrected int8 accuracy $a vs fp32 $fp"

expect 0 "--analyze --json" -- $M quantize $MODEL --mode int8 \
  --calib fashion-mnist:train --calib-count 128 --analyze \
  --eval-data $HELD --eval-count 300 --json
python3 -c "
import json; d=json.load(open('$T/out'))['analysis']
L=d['layers']
assert len(L) == 5 and d['eval_samples'] == 300 and d['calib_samples'] == 128, d
assert all(L[i]['drop'] >= L[i+1]['drop'] for i in range(4)), L
assert all(l['sqnr_db'] > 15 for l in L), L
" && ok || bad "--analyze JSON: 5 layers sorted by drop, SQNR > 15 dB"
expect 0 "--analyze table" -- $M quantize $MODEL --mode int8 \
  --calib fashion-mnist:train --calib-count 64 --analyze \
  --eval-data $HELD --eval-count 100
grep -q "SQNR dB" "$T/out" && [ "$(grep -c Conv "$T/out")" -ge 3 ] && ok \
  || bad "--analyze prints a table with the Conv layers"

expect 0 "--max-drop" -- $M quantize $MODEL --mode int8 \
  --calib fashion-mnist:train --calib-count 128 --max-drop 0.5 \
  --eval-data $HELD --eval-count 300 -o "$T/qm.onnx" --json
python3 -c "
import json; d=json.load(open('$T/out'))
m=d['mixed']
assert m['drop'] <= 0.5 and m['max_drop'] == 0.5, m
assert len(m['float_layers']) == d['kept_float'] or d['quantized_layers'] == 0, d
" && ok || bad "--max-drop: drop within budget, float layers reported"
expect 0 "mixed eval" -- $M eval "$T/qm.onnx" --data fashion-mnist:test --limit 500

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
