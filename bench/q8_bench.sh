#!/bin/sh
# int8 runtime benchmark: (a) the machine's VNNI peak (one core, vpdpbusd
# chains) and the int8 conv GEMM's GOPS per ISA level (bench/q8_gemm_bench.c);
# (b) models/fashion_cnn.onnx quantized to int8 operators (minnow quantize
# --mode int8 --format qop): batch-1 latency p50 of fp32 vs int8 (fast
# kernels) vs int8 with MINNOW_ISA=ref, and ONNX Runtime on the same int8
# file, rounds alternating so a background load hits all alike; plus the
# top-1 of fp32 and int8 on the Fashion-MNIST test set; (c) optionally the
# 224×224 models in bench/models (MODELS224="resnet18 ..."; exported by
# scripts/export_torchvision.py), quantized with random calibration data
# (latency only), minnow int8 vs ORT int8 on the same file.
# Writes bench/results/q8.json and prints a Markdown summary.
#
# usage: sh bench/q8_bench.sh [BUILD]        (BUILD: default build)
# environment: THREADS="1 2" RUNS=200 WARMUP=20 ROUNDS=3 MODELS224=""
#              RUNS224=20 OUT=bench/results/q8.json LABEL="free text"
set -eu
B=${1:-build}
cd "$(dirname "$0")/.."
THREADS=${THREADS:-"1 2"}
RUNS=${RUNS:-200}
WARMUP=${WARMUP:-20}
ROUNDS=${ROUNDS:-3}
MODELS224=${MODELS224:-}
RUNS224=${RUNS224:-20}
LRUNS=$RUNS
LWARM=$WARMUP
OUT=${OUT:-bench/results/q8.json}
LIBS="-lprotobuf-c -lz -lpng -ljpeg -lcjson -lm -lpthread"
PY=/usr/bin/python3

[ -x "$B/minnow" ] && [ -f "$B/libminnow.a" ] ||
    { echo "q8_bench: build minnow first (make)" >&2; exit 1; }
have_ort=0
if command -v node >/dev/null &&
    [ -d bench/peers/node_modules/onnxruntime-node ]; then
    have_ort=1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
echo '{}' > "$tmp/peak.json"
if grep -q avx512_vnni /proc/cpuinfo &&
    cc -O2 -mavx512f -mavx512vnni bench/vnni_peak.c -o "$tmp/vnni_peak"; then
    echo "== int8 VNNI peak (one core)"
    "$tmp/vnni_peak" | tee "$tmp/peak.json"
fi
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc -I"$B/gen" \
    bench/q8_gemm_bench.c "$B/libminnow.a" $LIBS -o "$tmp/q8_gemm_bench"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== int8 conv GEMM per ISA level (threads: $THREADS)"
# shellcheck disable=SC2086
"$tmp/q8_gemm_bench" $THREADS > "$tmp/gemm.json"

echo "== fashion_cnn: quantize, accuracy"
"$B/minnow" quantize models/fashion_cnn.onnx --mode int8 --format qop \
    --calib fashion-mnist:train --calib-count 512 -o "$tmp/fashion_q8.onnx" \
    --json > "$tmp/quant.json"
"$B/minnow" eval models/fashion_cnn.onnx --data fashion-mnist:test --json \
    > "$tmp/acc_fp32.json"
"$B/minnow" eval "$tmp/fashion_q8.onnx" --data fashion-mnist:test --json \
    > "$tmp/acc_q8.json"

# one latency measurement: engine model threads round
: > "$tmp/runs.jsonl"
lat() {
    case $1 in
    fp32 | int8) j=$("$B/minnow" bench "$2" --threads "$3" --runs "$LRUNS" --warmup "$LWARM" --json) ;;
    int8_ref) j=$(MINNOW_ISA=ref "$B/minnow" bench "$2" --threads "$3" --runs "$5" --warmup 2 --json) ;;
    ort_int8) j=$(node bench/peers/ort_run.js "$2" --bench --threads "$3" --runs "$LRUNS" --warmup "$LWARM") ;;
    esac
    echo "{\"model\":\"$6\",\"engine\":\"$1\",\"threads\":$3,\"round\":$4,\"r\":$j}" >> "$tmp/runs.jsonl"
}

echo "== fashion_cnn latency (rounds: $ROUNDS)"
for t in $THREADS; do
    r=1
    while [ "$r" -le "$ROUNDS" ]; do
        lat fp32 models/fashion_cnn.onnx "$t" "$r" 0 fashion_cnn
        lat int8 "$tmp/fashion_q8.onnx" "$t" "$r" 0 fashion_cnn
        lat int8_ref "$tmp/fashion_q8.onnx" "$t" "$r" 30 fashion_cnn
        if [ $have_ort = 1 ]; then
            lat ort_int8 "$tmp/fashion_q8.onnx" "$t" "$r" 0 fashion_cnn
        fi
        r=$((r + 1))
    done
done

LRUNS=$RUNS224
LWARM=3
for m in $MODELS224; do
    f="bench/models/$m.onnx"
    [ -f "$f" ] || { echo "q8_bench: $f missing (scripts/export_torchvision.py)" >&2; continue; }
    echo "== $m: quantize (random calibration), latency"
    $PY -c "
import numpy as np
np.save('$tmp/calib224.npy', np.random.default_rng(1).random((16, 3, 224, 224), dtype=np.float32))"
    "$B/minnow" quantize "$f" --mode int8 --format qop --calib "npy:$tmp/calib224.npy" \
        --calib-count 16 -o "$tmp/${m}_q8.onnx" --json > "$tmp/quant_$m.json"
    for t in $THREADS; do
        r=1
        while [ "$r" -le "$ROUNDS" ]; do
            lat fp32 "$f" "$t" "$r" 0 "$m"
            lat int8 "$tmp/${m}_q8.onnx" "$t" "$r" 0 "$m"
            if [ $have_ort = 1 ]; then
                lat ort_int8 "$tmp/${m}_q8.onnx" "$t" "$r" 0 "$m"
            fi
            r=$((r + 1))
        done
    done
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

mkdir -p bench/results
TMP="$tmp" LOAD0="$load0" LOAD1="$load1" THREADS="$THREADS" RUNS="$RUNS" \
ROUNDS="$ROUNDS" RUNS224="$RUNS224" OUT="$OUT" LABEL="${LABEL:-}" $PY - <<'EOF'
import json, os, re, datetime
e = os.environ
T = e['TMP']
rd = lambda f: json.load(open(os.path.join(T, f)))
peak = rd('peak.json')
gemm = rd('gemm.json')
runs = [json.loads(l) for l in open(os.path.join(T, 'runs.jsonl')) if l.strip()]
cpu = (re.search(r'model name\s*:\s*(.*)', open('/proc/cpuinfo').read()) or [None, '?'])[1]
r3 = lambda v: round(v, 3)
lat, cpums = {}, {}
for x in runs:
    k = (x['model'], x['threads'], x['engine'])
    lat.setdefault(k, []).append(x['r']['p50_ms'])
    if 'cpu_ms' in x['r']:
        cpums.setdefault(k, []).append(x['r']['cpu_ms'])
models = {}
for (m, t, eng), v in sorted(lat.items()):
    d = models.setdefault(m, {}).setdefault(str(t), {})[eng] = {
        'p50_ms': r3(min(v)), 'rounds_p50_ms': [r3(a) for a in v]}
    c = sorted(cpums.get((m, t, eng), []))
    if c:  # CPU time per run (all threads): robust to a shared machine
        d['cpu_ms'] = r3(c[(len(c) - 1) // 2])
for m, ts in models.items():
    for t, d in ts.items():
        if 'fp32' in d and 'int8' in d:
            d['speedup_int8_over_fp32'] = r3(d['fp32']['p50_ms'] / d['int8']['p50_ms'])
        if 'int8_ref' in d and 'int8' in d:
            d['speedup_int8_over_int8_ref'] = r3(d['int8_ref']['p50_ms'] / d['int8']['p50_ms'])
        if 'ort_int8' in d and 'int8' in d:
            d['ratio_minnow_int8_over_ort_int8'] = r3(d['int8']['p50_ms'] / d['ort_int8']['p50_ms'])
            if 'cpu_ms' in d['int8'] and 'cpu_ms' in d['ort_int8']:
                d['cpu_ratio_minnow_int8_over_ort_int8'] = r3(
                    d['int8']['cpu_ms'] / d['ort_int8']['cpu_ms'])
pg = peak.get('gops')
for r in gemm['results']:
    if pg:
        r['peak_fraction_best'] = r3(r['gops_best'] / (pg * r['threads']))
q = rd('quant.json')
out = {
    'generated_by': 'bench/q8_bench.sh',
    'date': datetime.datetime.utcnow().isoformat() + 'Z',
    'machine': {'cpu': cpu, 'cores': os.cpu_count(), 'loadavg_before': e['LOAD0'],
                'loadavg_after': e['LOAD1'],
                'note': 'wall-clock p50 moves with other jobs on the cores; compare '
                        'columns of one run, and prefer cpu_ms (process CPU time per '
                        'run, all threads) on a shared machine'},
    'settings': {'label': e['LABEL'], 'runs': int(e['RUNS']), 'runs_224': int(e['RUNS224']),
                 'rounds': int(e['ROUNDS']),
                 'models_224': 'random weights (scripts/export_torchvision.py), quantized with '
                               '16 random calibration images: latency only',
                 'batch': 1, 'p50': "best of the rounds' medians"},
    'vnni_peak_one_core': peak,
    'int8_conv_gemm': gemm['results'],
    'fashion_cnn': {'quantize': {k: q.get(k) for k in ('mode', 'format', 'calib_samples', 'size_ratio')},
                    'top1_fp32': rd('acc_fp32.json')['accuracy'],
                    'top1_int8': rd('acc_q8.json')['accuracy']},
    'latency': models,
}
tmpf = e['OUT'] + '.tmp'
with open(tmpf, 'w') as f:
    json.dump(out, f, indent=1)
    f.write('\n')
os.replace(tmpf, e['OUT'])
print('\n| shape | kernel | threads | GOPS (best) | GOPS (median) | % of VNNI peak |')
print('|---|---|---|---|---|---|')
for r in gemm['results']:
    pf = r.get('peak_fraction_best')
    print('| %s | %s | %d | %.0f | %.0f | %s |' % (r['shape'], r['kernel'], r['threads'],
          r['gops_best'], r['gops_median'], '%.0f' % (100 * pf) if pf is not None else '-'))
print('\n| model | threads | fp32 p50 ms | int8 p50 ms | int8 (MINNOW_ISA=ref) p50 ms | ORT int8 p50 ms | int8 vs fp32 | int8 CPU ms/run | ORT int8 CPU ms/run | CPU minnow/ORT |')
print('|---|---|---|---|---|---|---|---|---|---|')
g = lambda d, k: '%.3f' % d[k]['p50_ms'] if k in d else '-'
gc = lambda d, k: '%.3f' % d[k]['cpu_ms'] if k in d and 'cpu_ms' in d[k] else '-'
for m, ts in models.items():
    for t, d in ts.items():
        cr = d.get('cpu_ratio_minnow_int8_over_ort_int8')
        print('| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |' % (m, t, g(d, 'fp32'), g(d, 'int8'), g(d, 'int8_ref'),
              g(d, 'ort_int8'), '%.2fx' % d['speedup_int8_over_fp32'] if 'speedup_int8_over_fp32' in d else '-',
              gc(d, 'int8'), gc(d, 'ort_int8'), '%.2f' % cr if cr else '-'))
fc = out['fashion_cnn']
print('\nfashion_cnn top-1: fp32 %.4f, int8 %.4f' % (fc['top1_fp32'], fc['top1_int8']))
print('VNNI peak (one core): %s GOPS' % pg)
print('wrote ' + e['OUT'])
EOF
