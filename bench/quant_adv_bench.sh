#!/bin/sh
# bench/quant_adv_bench.sh [BUILD_DIR] — cross-layer equalization, bias
# correction and sensitivity analysis (docs/quantization.md).
#
# models/fashion_cnn.onnx: int8 (per channel and per tensor weights) with
# and without --equalize / --bias-correct, calibrated on the first
# CALIB images of fashion-mnist:train; top-1 on the 10 000 test images from
# `minnow eval` on the written file (integer kernels). Then `--analyze` with
# held-out images fashion-mnist:train@50000: (never the test split).
# Peer models (tests/data/peers, random weights, no labels): output SQNR
# (dB) of the int8 model against fp32 on 128 random inputs, calibrated on 64
# others, for the same variants.
#
# Writes bench/results/quant_adv.json and bench/results/quant_adv.md.
#   MINNOW=path/to/minnow  CALIB=512  HELD_COUNT=5000  PEERS=1  FASHION=1
#   NAME=quant_adv (output file stem)
#   ROWS_IN="a.jsonl b.jsonl" (rows measured earlier, e.g. in parallel
#   pieces on a loaded machine, merged into the report)
set -eu
B=${1:-build}
MINNOW=${MINNOW:-$B/minnow}
MODEL=${MODEL:-models/fashion_cnn.onnx}
CALIB=${CALIB:-512}
HELD_COUNT=${HELD_COUNT:-5000}
PEERS=${PEERS:-1}
FASHION=${FASHION:-1}
NAME=${NAME:-quant_adv}
PY=/usr/bin/python3
UTIL=bench/quant_bench_util.py
OUT=bench/results
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM
mkdir -p "$OUT"
ROWS=$T/rows.jsonl
: >"$ROWS"
for f in ${ROWS_IN:-}; do cat "$f" >>"$ROWS"; done

VARIANTS="plain equalize bias-correct equalize,bias-correct"
flags() { [ "$1" = plain ] && return 0; echo "--$1" | sed 's/,/ --/'; }

if [ "$FASHION" = 1 ]; then
fp=$("$MINNOW" eval "$MODEL" --data fashion-mnist:test --json | jq .accuracy)
jq -nc --argjson a "$fp" '{kind:"fashion", weights:"fp32", variant:"fp32",
                          accuracy:$a}' >>"$ROWS"
for w in per-channel per-tensor; do
    wf=""; [ $w = per-tensor ] && wf=--per-tensor
    for v in $VARIANTS; do
        echo "== fashion_cnn int8 $w $v" >&2
        # shellcheck disable=SC2046
        "$MINNOW" quantize "$MODEL" --mode int8 --calib fashion-mnist:train \
            --calib-count "$CALIB" $wf $(flags $v) -o "$T/q.onnx" --json \
            >"$T/q.json"
        acc=$("$MINNOW" eval "$T/q.onnx" --data fashion-mnist:test --json |
              jq .accuracy)
        jq -c --arg w $w --arg v "$v" --argjson a "$acc" \
           '{kind:"fashion", weights:$w, variant:$v, accuracy:$a,
             eq_pairs, eq_spread_before, eq_spread_after, bias_corrected,
             seconds}' "$T/q.json" >>"$ROWS"
    done
done

echo "== fashion_cnn --analyze" >&2
"$MINNOW" quantize "$MODEL" --mode int8 --calib fashion-mnist:train \
    --calib-count "$CALIB" --analyze --eval-data fashion-mnist:train@50000: \
    --eval-count "$HELD_COUNT" --json |
    jq -c '{kind:"analysis", analysis}' >>"$ROWS"
fi

if [ "$PEERS" = 1 ]; then
    for f in tests/data/peers/*.onnx; do
        name=$(basename "$f" .onnx)
        shape=$($PY -c "import numpy as n,sys; print(','.join(map(str,n.load(sys.argv[1]).shape[1:])))" \
                tests/data/peers/$name.input.npy)
        $PY $UTIL randn "$shape" 64 1 "$T/calib.npy"
        $PY $UTIL randn "$shape" 128 2 "$T/in.npy"
        rm -rf "$T/ref" && "$MINNOW" run "$f" -i "$T/in.npy" -o "$T/ref" >/dev/null
        out=$(ls "$T/ref" | head -1)
        for w in per-channel per-tensor; do
            wf=""; [ $w = per-tensor ] && wf=--per-tensor
            for v in $VARIANTS; do
                echo "== peer $name $w $v" >&2
                # shellcheck disable=SC2046
                if ! "$MINNOW" quantize "$f" --mode int8 \
                        --calib "npy:$T/calib.npy" $wf $(flags $v) \
                        -o "$T/p.onnx" --json >"$T/q.json" 2>"$T/err"; then
                    jq -nc --arg m "$name" --arg w $w --arg v "$v" \
                       --arg e "$(cat "$T/err")" '{kind:"peer", model:$m,
                       weights:$w, variant:$v, error:$e}' >>"$ROWS"
                    continue
                fi
                rm -rf "$T/got"
                "$MINNOW" run "$T/p.onnx" -i "$T/in.npy" -o "$T/got" >/dev/null
                s=$($PY -c "
import numpy as np, sys, json
a = np.load(sys.argv[1]).astype(np.float64); b = np.load(sys.argv[2]).astype(np.float64)
print(json.dumps({'sqnr_db': float(10 * np.log10((a * a).sum() / max(1e-30, ((a - b) ** 2).sum()))),
                  'top1_agree': float((a.argmax(-1) == b.argmax(-1)).mean())}))" \
                    "$T/ref/$out" "$T/got/$out")
                jq -c --arg m "$name" --arg w $w --arg v "$v" --argjson s "$s" \
                   '{kind:"peer", model:$m, weights:$w, variant:$v,
                     sqnr_db:$s.sqnr_db, top1_agree:$s.top1_agree, eq_pairs,
                     eq_skipped_clip, bias_corrected}' "$T/q.json" >>"$ROWS"
            done
        done
    done
fi

$PY - "$ROWS" "$OUT/$NAME.json" "$OUT/$NAME.md" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
json.dump({"rows": rows}, open(sys.argv[2], "w"), indent=1)
md = ["# Equalization, bias correction, sensitivity (bench/quant_adv_bench.sh)", "",
      "## fashion_cnn, int8, top-1 on the 10 000 Fashion-MNIST test images", "",
      "| weights | variant | top-1 % | CLE pairs | spread before → after | BC layers |",
      "|---|---|---|---|---|---|"]
for r in rows:
    if r["kind"] != "fashion":
        continue
    sp = ("%.2f → %.2f" % (r["eq_spread_before"], r["eq_spread_after"])
          if r.get("eq_spread_before") is not None else "")
    md.append("| %s | %s | %.2f | %s | %s | %s |" % (
        r["weights"], r["variant"], 100 * r["accuracy"],
        r.get("eq_pairs", "") if r.get("eq_spread_before") is not None else "",
        sp, r.get("bias_corrected", "")))
for r in rows:
    if r["kind"] != "analysis":
        continue
    a = r["analysis"]
    md += ["", "## fashion_cnn --analyze (held-out fashion-mnist:train@50000:, %d images)" % a["eval_samples"], "",
           "fp32 %.2f %%, all int8 %.2f %%" % (100 * a["fp32_accuracy"], 100 * a["quant_accuracy"]), "",
           "| rank | layer (only it int8) | SQNR dB | top-1 % | drop pp |", "|---|---|---|---|---|"]
    for i, l in enumerate(a["layers"]):
        md.append("| %d | %s | %.2f | %.2f | %.2f |" % (i + 1, l["name"], l["sqnr_db"] or 0,
                                                        100 * l["accuracy"], l["drop"]))
peers = [r for r in rows if r["kind"] == "peer"]
if peers:
    md += ["", "## Peer models: int8 output SQNR vs fp32 (dB; 128 random inputs)", "",
           "| model | weights | plain | equalize | bias-correct | both | CLE pairs (ReLU6-skipped) |",
           "|---|---|---|---|---|---|---|"]
    keys = sorted({(r["model"], r["weights"]) for r in peers})
    for m, w in keys:
        cells, pairs = [], ""
        for v in ["plain", "equalize", "bias-correct", "equalize,bias-correct"]:
            r = next((r for r in peers if (r["model"], r["weights"], r["variant"]) == (m, w, v)), None)
            if r is None or "error" in r:
                cells.append("error")
                continue
            cells.append("%.2f" % r["sqnr_db"])
            if v == "equalize":
                pairs = "%d (%d)" % (r["eq_pairs"], r["eq_skipped_clip"])
        md.append("| %s | %s | %s | %s |" % (m, w, " | ".join(cells), pairs))
open(sys.argv[3], "w").write("\n".join(md) + "\n")
PYEOF
cat "$OUT/$NAME.md"
