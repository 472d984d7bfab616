#!/bin/sh
# Runtime benchmark: batch-1 latency of minnow fp32 vs ONNX Runtime fp32 on
# full-size torchvision models at 224×224, with 1 and 2 threads, plus the
# machine's fp32 FMA peak and the GEMM/conv kernels' share of it. Writes
# bench/results/runtime.json and prints a Markdown table.
#
# usage: sh bench/runtime_bench.sh [BUILD]          (BUILD: default build)
# environment: MODELS="resnet18 ..."  THREADS="1 2"  RUNS=50  WARMUP=5
#              ROUNDS=3 (minnow and ORT alternate ROUNDS times per model and
#              thread count; each engine's best round p50 is reported, the
#              one least disturbed by other processes, all rounds are kept)
#              OUT=bench/results/runtime.json  LABEL="free text stored in the JSON"
# Needs: a built minnow (make), cc, node, /usr/bin/python3 with torch and
# torchvision for the export (scripts/export_torchvision.py, once), and
# onnxruntime-node (npm-installed into bench/peers when missing).
set -eu
B=${1:-build}
cd "$(dirname "$0")/.."
MODELS=${MODELS:-"resnet18 resnet50 mobilenet_v2 mobilenet_v3_small efficientnet_b0 convnext_tiny"}
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

load0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== fp32 FMA peak (one core)"
"$tmp/fma_peak" | tee "$tmp/peak.json"
echo "== GEMM / conv kernels (threads: $THREADS)"
# shellcheck disable=SC2086
"$tmp/gemm_bench" $THREADS > "$tmp/gemm.json"

: > "$tmp/runs.jsonl"
for m in $MODELS; do
    f="bench/models/$m.onnx"
    "$B/minnow" info "$f" --json > "$tmp/info_$m.json"
    for t in $THREADS; do
        r=1
        while [ "$r" -le "$ROUNDS" ]; do
            j=$("$B/minnow" bench "$f" --threads "$t" --runs "$RUNS" \
                --warmup "$WARMUP" --json)
            echo "{\"model\":\"$m\",\"threads\":$t,\"engine\":\"minnow\",\"round\":$r,\"r\":$j}" >> "$tmp/runs.jsonl"
            j=$(node bench/peers/ort_run.js "$f" --bench --threads "$t" \
                --runs "$RUNS" --warmup "$WARMUP")
            echo "{\"model\":\"$m\",\"threads\":$t,\"engine\":\"ort\",\"round\":$r,\"r\":$j}" >> "$tmp/runs.jsonl"
            r=$((r + 1))
        done
        echo "   $m, $t thread(s) done"
    done
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

mkdir -p bench/results
TMP="$tmp" LOAD0="$load0" LOAD1="$load1" MODELS="$MODELS" THREADS="$THREADS" \
RUNS="$RUNS" ROUNDS="$ROUNDS" OUT="$OUT" LABEL="${LABEL:-}" node - <<'EOF'
const fs = require('fs'), os = require('os'), e = process.env;
const rd = f => JSON.parse(fs.readFileSync(e.TMP + '/' + f, 'utf8'));
const peak = rd('peak.json'), gemm = rd('gemm.json');
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
    const pick = eng => {
      const rs = runs.filter(x => x.model === m && x.threads === t && x.engine === eng).map(x => x.r);
      const best = rs.reduce((a, b) => (b.p50_ms < a.p50_ms ? b : a));
      // CPU ms per run (process, all threads): the median over rounds
      const cpu = rs.map(x => x.cpu_ms).filter(v => v !== undefined).sort((a, b) => a - b);
      return { p50_ms: r1(best.p50_ms), p95_ms: r1(best.p95_ms), peak_rss_bytes: best.peak_rss_bytes,
               rounds_p50_ms: rs.map(x => r1(x.p50_ms)),
               cpu_ms: cpu.length ? r1(cpu[(cpu.length - 1) >> 1]) : null };
    };
    const mn = pick('minnow'), ort = pick('ort');
    const gf = x => 2 * info.macs / (x.p50_ms / 1e3) / 1e9;
    entry.threads[t] = {
      minnow: mn, ort: ort,
      ratio_minnow_over_ort: r1(mn.p50_ms / ort.p50_ms),
      cpu_ratio_minnow_over_ort: mn.cpu_ms && ort.cpu_ms ? r1(mn.cpu_ms / ort.cpu_ms) : null,
      minnow_gflops: r1(gf(mn)), ort_gflops: r1(gf(ort)),
      minnow_peak_fraction: r1(gf(mn) / (peak.gflops * t)),
      ort_peak_fraction: r1(gf(ort) / (peak.gflops * t)),
    };
  }
  models.push(entry);
}
const out = {
  generated_by: 'bench/runtime_bench.sh',
  date: new Date().toISOString(),
  machine: { cpu, cores: os.cpus().length, loadavg_before: e.LOAD0, loadavg_after: e.LOAD1 },
  settings: { label: e.LABEL, runs: +e.RUNS, rounds: +e.ROUNDS, batch: 1, input: '1x3x224x224 float32',
              minnow_isa: gemm.isa, onnxruntime_node: ortVersion,
              note: 'p50 = best of the rounds\' medians; peak fraction = 2*macs/p50 / (fma peak per core * threads)' },
  fp32_fma_peak_gflops_per_core: peak.gflops,
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
console.log('\n| kernel shape | threads | GFLOP/s (best) | % of peak |');
console.log('|---|---|---|---|');
for (const k of out.kernels)
  console.log(`| ${k.shape} | ${k.threads} | ${k.gflops_best.toFixed(0)} | ${(100 * k.peak_fraction).toFixed(0)} |`);
console.log('\nwrote ' + e.OUT);
EOF
