#!/bin/sh
# Runtime benchmark: batch-1 latency of minnow fp32, ONNX Runtime fp32,
# minnow int8 and ONNX Runtime int8 on full-size torchvision models at
# 224×224, with 1 and 2 threads, in one run, plus the machine's fp32 FMA
# and int8 VNNI peaks, the GEMM/conv kernels' share of the fp32 peak and
# each model's share of both. int8: each model is quantized by minnow
# (random calibration images: latency only) to both files it writes — QOP
# (integer operators, QLinearConv …) and QDQ (QuantizeLinear/
# DequantizeLinear pairs around float ops, which ONNX Runtime fuses) — and
# both engines run both files; each engine's int8 figure is its faster
# file (named in the JSON). Writes bench/results/runtime.json and prints
# Markdown tables.
#
# usage: sh bench/runtime_bench.sh [BUILD]          (BUILD: default build)
# environment: MODELS="resnet18 ..."  THREADS="1 2"  RUNS=50  WARMUP=5
#              ROUNDS=3 (minnow and ORT alternate per model and thread count,
#              and every model runs once per round, rounds outermost; each
#              engine's best round p50 is reported, the one least disturbed
#              by other processes, all rounds are kept)
#              OUT=bench/results/runtime.json  LABEL="free text stored in the JSON"
#              INT8=1 (0: fp32 only)  CALIB=16 (random calibration images)
# Needs: a built minnow (make), cc, node, /usr/bin/python3 with torch and
# torchvision for the export (scripts/export_torchvision.py, once), and
# onnxruntime-node (npm-installed into bench/peers when missing).
set -eu
B=${1:-build}
cd "$(dirname "$0")/.."
MODELS=${MODELS:-"resnet18 resnet50 mobilenet_v2 mobilenet_v3_small efficientnet_b0 efficientnet_v2_b0 convnext_tiny"}
INT8=${INT8:-1}
CALIB=${CALIB:-16}
THREADS=${THREADS:-"1 2"}
RUNS=${RUNS:-50}
WARMUP=${WARMUP:-5}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-bench/results/runtime.json}
LIBS="-lprotobuf-c -lz -lpng -ljpeg -lcjson -lm -lpthread"

[ -x "$B/minnow" ] && [ -f "$B/libminnow.a" ] ||
    { echo "runtime_bench: build minnow first (make)" >&2; exit 1; }
command -v node >/dev/null || { echo "runtime_bench: needs node" >&2; exit 1; }

missing=""
for m in $MODELS; do
    [ -f "bench/models/$m.onnx" ] || missing="$missing $m"
done
if [ -n "$missing" ]; then
    echo "== exporting$missing"
    /usr/bin/python3 scripts/export_torchvision.py -o bench/models $missing
fi
if [ ! -d bench/peers/node_modules/onnxruntime-node ]; then
    echo "== installing onnxruntime-node into bench/peers"
    (cd bench/peers && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund)
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
cc -O2 -march=native bench/fma_peak.c -o "$tmp/fma_peak" 2>/dev/null ||
    cc -O2 -mavx2 -mfma bench/fma_peak.c -o "$tmp/fma_peak"
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc -I"$B/gen" \
    bench/gemm_bench.c "$B/libminnow.a" $LIBS -o "$tmp/gemm_bench"

echo '{}' > "$tmp/vnni.json"
if grep -q avx512_vnni /proc/cpuinfo &&
    cc -O2 -mavx512f -mavx512vnni bench/vnni_peak.c -o "$tmp/vnni_peak" 2>/dev/null; then
    echo "== int8 VNNI peak (one core)"
    "$tmp/vnni_peak" | tee "$tmp/vnni.json"
fi
if [ "$INT8" = 1 ]; then
    echo "== int8 files (minnow quantize, $CALIB random calibration images)"
    /usr/bin/python3 -c "
import numpy as np
np.save('$tmp/calib.npy', np.random.default_rng(1).random(($CALIB, 3, 224, 224), dtype=np.float32))"
    for m in $MODELS; do
        for fmt in qop qdq; do
            "$B/minnow" quantize "bench/models/$m.onnx" --mode int8 --format $fmt \
                --calib "npy:$tmp/calib.npy" --calib-count "$CALIB" \
                -o "$tmp/${m}_$fmt.onnx" --json > /dev/null
        done
    done
fi

load0=$(cut -d' ' -f1-3 /proc/loadavg)
# what a core pays to read another core's writes (bench/xcore.c): the
# 2-thread figures depend on it, and on a VM it changes with where the
# host places the two vCPUs, so it is taken before and after the runs
echo '{}' > "$tmp/xcore0.json"; echo '{}' > "$tmp/xcore1.json"
if cc -O2 -std=c11 bench/xcore.c -o "$tmp/xcore" -lpthread 2>/dev/null; then
    echo "== cross-core read cost"
    "$tmp/xcore" | tee "$tmp/xcore0.json"
fi
echo "== fp32 FMA peak (one core)"
"$tmp/fma_peak" | tee "$tmp/peak.json"
echo "== GEMM / conv kernels (threads: $THREADS)"
# shellcheck disable=SC2086
"$tmp/gemm_bench" $THREADS > "$tmp/gemm.json"

: > "$tmp/runs.jsonl"
# one measurement: engine file threads round model kind
one() {
    if [ "$1" = minnow ]; then
        j=$("$B/minnow" bench "$2" --threads "$3" --runs "$RUNS" --warmup "$WARMUP" --json)
    else
        j=$(node bench/peers/ort_run.js "$2" --bench --threads "$3" --runs "$RUNS" --warmup "$WARMUP")
    fi
    echo "{\"model\":\"$5\",\"threads\":$3,\"engine\":\"$1\",\"kind\":\"$6\",\"round\":$4,\"r\":$j}" >> "$tmp/runs.jsonl"
}
for m in $MODELS; do
    "$B/minnow" info "bench/models/$m.onnx" --json > "$tmp/info_$m.json"
done
# rounds outermost: the host's noisy minutes then hit one round of many
# models, not every round of one (each figure is its best round)
r=1
while [ "$r" -le "$ROUNDS" ]; do
    for m in $MODELS; do
        f="bench/models/$m.onnx"
        for t in $THREADS; do
            one minnow "$f" "$t" "$r" "$m" fp32
            one ort "$f" "$t" "$r" "$m" fp32
            if [ "$INT8" = 1 ]; then
                for fmt in qop qdq; do
                    one minnow "$tmp/${m}_$fmt.onnx" "$t" "$r" "$m" "int8_$fmt"
                    one ort "$tmp/${m}_$fmt.onnx" "$t" "$r" "$m" "int8_$fmt"
                done
            fi
        done
    done
    echo "   round $r of $ROUNDS done"
    r=$((r + 1))
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)
[ -x "$tmp/xcore" ] && "$tmp/xcore" > "$tmp/xcore1.json"

mkdir -p bench/results
TMP="$tmp" LOAD0="$load0" LOAD1="$load1" MODELS="$MODELS" THREADS="$THREADS" \
RUNS="$RUNS" ROUNDS="$ROUNDS" OUT="$OUT" LABEL="${LABEL:-}" node - <<'EOF'
const fs = require('fs'), os = require('os'), e = process.env;
const rd = f => JSON.parse(fs.readFileSync(e.TMP + '/' + f, 'utf8'));
const peak = rd('peak.json'), gemm = rd('gemm.json'), vnni = rd('vnni.json');
const runs = fs.readFileSync(e.TMP + '/runs.jsonl', 'utf8').trim().split('\n').map(l => JSON.parse(l));
const cpu = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) || [, '?'])[1];
let ortVersion = '?';
try { ortVersion = require(process.cwd() + '/bench/peers/node_modules/onnxruntime-node/package.json').version; } catch (x) {}
const r1 = v => Math.round(v * 1000) / 1000;
const models = [];
for (const m of e.MODELS.split(/\s+/).filter(Boolean)) {
  const info = rd('info_' + m + '.json');
  const entry = { name: m, macs: info.macs, params: info.params, arena_bytes: info.arena_bytes, threads: {} };
  for (const t of e.THREADS.split(/\s+/).filter(Boolean).map(Number)) {
    const pick = (eng, kind) => {
      const rs = runs.filter(x => x.model === m && x.threads === t && x.engine === eng && x.kind === kind).map(x => x.r);
      if (!rs.length) return null;
      const best = rs.reduce((a, b) => (b.p50_ms < a.p50_ms ? b : a));
      // CPU ms per run (process, all threads): the median over rounds
      const cpu = rs.map(x => x.cpu_ms).filter(v => v !== undefined).sort((a, b) => a - b);
      return { p50_ms: r1(best.p50_ms), p95_ms: r1(best.p95_ms), peak_rss_bytes: best.peak_rss_bytes,
               rounds_p50_ms: rs.map(x => r1(x.p50_ms)),
               cpu_ms: cpu.length ? r1(cpu[(cpu.length - 1) >> 1]) : null };
    };
    // an engine's int8 figure: its faster file
    const int8 = eng => {
      const a = pick(eng, 'int8_qop'), b = pick(eng, 'int8_qdq');
      if (!a && !b) return null;
      const w = !b || (a && a.p50_ms <= b.p50_ms) ? Object.assign(a, { file: 'qop' }) : Object.assign(b, { file: 'qdq' });
      w.other_file_p50_ms = w.file === 'qop' ? (b && b.p50_ms) : (a && a.p50_ms);
      return w;
    };
    const mn = pick('minnow', 'fp32'), ort = pick('ort', 'fp32');
    const mq = int8('minnow'), oq = int8('ort');
    const gf = x => 2 * info.macs / (x.p50_ms / 1e3) / 1e9;
    const gm = x => info.macs / (x.p50_ms / 1e3) / 1e9;
    const v = entry.threads[t] = {
      minnow: mn, ort: ort,
      ratio_minnow_over_ort: r1(mn.p50_ms / ort.p50_ms),
      cpu_ratio_minnow_over_ort: mn.cpu_ms && ort.cpu_ms ? r1(mn.cpu_ms / ort.cpu_ms) : null,
      minnow_gflops: r1(gf(mn)), ort_gflops: r1(gf(ort)),
      minnow_peak_fraction: r1(gf(mn) / (peak.gflops * t)),
      ort_peak_fraction: r1(gf(ort) / (peak.gflops * t)),
    };
    if (mq && oq) {
      Object.assign(v, {
        minnow_int8: mq, ort_int8: oq,
        ratio_int8_minnow_over_ort: r1(mq.p50_ms / oq.p50_ms),
        ratio_minnow_int8_over_fp32: r1(mq.p50_ms / mn.p50_ms),
        minnow_int8_gmacs: r1(gm(mq)), ort_int8_gmacs: r1(gm(oq)),
        minnow_int8_vnni_peak_fraction: vnni.gmacs ? r1(gm(mq) / (vnni.gmacs * t)) : null,
        ort_int8_vnni_peak_fraction: vnni.gmacs ? r1(gm(oq) / (vnni.gmacs * t)) : null,
      });
    }
  }
  models.push(entry);
}
const out = {
  generated_by: 'bench/runtime_bench.sh',
  date: new Date().toISOString(),
  machine: { cpu, cores: os.cpus().length, loadavg_before: e.LOAD0, loadavg_after: e.LOAD1,
             cross_core_before: rd('xcore0.json'), cross_core_after: rd('xcore1.json'),
             cross_core_note: 'bench/xcore.c: ping-pong round trip, and GB/s reading 64 KiB another core just wrote vs one it wrote itself' },
  settings: { label: e.LABEL, runs: +e.RUNS, rounds: +e.ROUNDS, batch: 1, input: '1x3x224x224 float32',
              minnow_isa: gemm.isa, onnxruntime_node: ortVersion,
              note: 'p50 = best of the rounds\' medians; peak fraction = 2*macs/p50 / (fma peak per core * threads)' },
  fp32_fma_peak_gflops_per_core: peak.gflops,
  int8_vnni_peak_gmacs_per_core: vnni.gmacs || null,
  kernels: gemm.results.map(x => Object.assign(x, { peak_fraction: r1(x.gflops_best / (peak.gflops * x.threads)) })),
  models,
};
fs.writeFileSync(e.OUT, JSON.stringify(out, null, 1) + '\n');
console.log('\n| model (224x224) | threads | minnow fp32 p50 ms | ORT fp32 p50 ms | minnow/ORT | minnow GFLOP/s | % of peak | CPU ms/run minnow / ORT | CPU minnow/ORT |');
console.log('|---|---|---|---|---|---|---|---|---|');
const f2 = v => (v === null || v === undefined ? '-' : v.toFixed(2));
for (const m of models)
  for (const [t, v] of Object.entries(m.threads))
    console.log(`| ${m.name} | ${t} | ${v.minnow.p50_ms.toFixed(2)} | ${v.ort.p50_ms.toFixed(2)} | ${v.ratio_minnow_over_ort.toFixed(2)} | ${v.minnow_gflops.toFixed(0)} | ${(100 * v.minnow_peak_fraction).toFixed(0)} | ${f2(v.minnow.cpu_ms)} / ${f2(v.ort.cpu_ms)} | ${f2(v.cpu_ratio_minnow_over_ort)} |`);
if (models.some(m => Object.values(m.threads).some(v => v.minnow_int8))) {
  console.log('\n| model (224x224) | threads | minnow int8 p50 ms (file) | ORT int8 p50 ms (file) | minnow/ORT int8 | minnow int8/fp32 | minnow GMAC/s | % of VNNI peak minnow / ORT |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const m of models)
    for (const [t, v] of Object.entries(m.threads))
      if (v.minnow_int8)
        console.log(`| ${m.name} | ${t} | ${v.minnow_int8.p50_ms.toFixed(2)} (${v.minnow_int8.file}) | ${v.ort_int8.p50_ms.toFixed(2)} (${v.ort_int8.file}) | ${v.ratio_int8_minnow_over_ort.toFixed(2)} | ${v.ratio_minnow_int8_over_fp32.toFixed(2)} | ${v.minnow_int8_gmacs.toFixed(0)} | ${v.minnow_int8_vnni_peak_fraction === null ? '-' : (100 * v.minnow_int8_vnni_peak_fraction).toFixed(0)} / ${v.ort_int8_vnni_peak_fraction === null ? '-' : (100 * v.ort_int8_vnni_peak_fraction).toFixed(0)} |`);
}
console.log('\n| kernel shape | threads | GFLOP/s (best) | % of peak |');
console.log('|---|---|---|---|');
for (const k of out.kernels)
  console.log(`| ${k.shape} | ${k.threads} | ${k.gflops_best.toFixed(0)} | ${(100 * k.peak_fraction).toFixed(0)} |`);
console.log('\nwrote ' + e.OUT);
EOF
