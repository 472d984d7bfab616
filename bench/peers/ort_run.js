#!/usr/bin/env node
// ort_run.js — ONNX Runtime as a peer for minnow's tests and benchmarks.
// Never a dependency of minnow itself: generator scripts use it to produce
// reference outputs (tests/data/peers/*.ort.npy) and bench/ uses it to time
// the same models minnow runs. Install once with
//   cd bench/peers && ONNXRUNTIME_NODE_INSTALL=skip npm install
//
// usage:
//   node ort_run.js MODEL.onnx --in X.npy [--in [NAME=]Y.npy ...] --out DIR [--threads N]
//       runs once, writes DIR/<output_name>.npy for every model output
//   node ort_run.js MODEL.onnx --bench [--threads N] [--runs R] [--warmup W] [--shape 1,3,224,224]
//       batch-1 latency; prints {"p50_ms","p95_ms","mean_ms","cpu_ms","runs","threads","peak_rss_bytes"}
//       (--profile PREFIX: also ORT's per-node trace, PREFIX_<date>.json)
//   node ort_run.js MODEL.onnx --eval-npy X.npy Y.npy [--batch B] [--threads N]
//       top-1 accuracy of argmax(output) against integer labels;
//       prints {"accuracy","samples"}
'use strict';

const fs = require('fs');
const path = require('path');

function loadOrt() {
  const tries = [path.join(__dirname, 'node_modules', 'onnxruntime-node'), 'onnxruntime-node'];
  for (const t of tries) {
    try { return require(t); } catch (e) { /* try the next */ }
  }
  die('onnxruntime-node not found; run: cd bench/peers && ONNXRUNTIME_NODE_INSTALL=skip npm install', 1);
}

function die(msg, code) {
  process.stderr.write('ort_run: ' + msg + '\n');
  process.exit(code);
}

// ---- minimal .npy reader/writer (v1/v2/v3, little-endian, C order) ----

const NPY_TYPES = {
  '<f4': { ort: 'float32', arr: Float32Array, size: 4 },
  '<f8': { ort: 'float64', arr: Float64Array, size: 8 },
  '<i8': { ort: 'int64', arr: BigInt64Array, size: 8 },
  '<i4': { ort: 'int32', arr: Int32Array, size: 4 },
  '|u1': { ort: 'uint8', arr: Uint8Array, size: 1 },
  '|i1': { ort: 'int8', arr: Int8Array, size: 1 },
  '|b1': { ort: 'bool', arr: Uint8Array, size: 1 },
};

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY')
    die(file + ': not a .npy file', 1);
  const major = buf[6];
  let hlen, hstart;
  if (major === 1) { hlen = buf.readUInt16LE(8); hstart = 10; }
  else if (major === 2 || major === 3) { hlen = buf.readUInt32LE(8); hstart = 12; }
  else die(file + ': unsupported npy version ' + major, 1);
  if (hstart + hlen > buf.length) die(file + ': truncated header', 1);
  const header = buf.toString('latin1', hstart, hstart + hlen);
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeM = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shapeM) die(file + ': bad npy header', 1);
  if (fortran[1] === 'True') die(file + ': fortran order not supported', 1);
  let d = descr[1];
  if (d === '<u1' || d === '|u1' || d === 'u1') d = '|u1';
  if (d === '<i1' || d === 'i1') d = '|i1';
  const t = NPY_TYPES[d];
  if (!t) die(file + ': unsupported dtype ' + descr[1], 1);
  const dims = shapeM[1].split(',').map(s => s.trim()).filter(s => s.length).map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const off = hstart + hlen;
  if (buf.length - off < count * t.size) die(file + ': truncated data', 1);
  // copy into an aligned buffer
  const raw = new ArrayBuffer(count * t.size);
  new Uint8Array(raw).set(buf.subarray(off, off + count * t.size));
  let data = new t.arr(raw);
  if (d === '|b1') data = Uint8Array.from(data, v => v !== 0);
  return { type: t.ort, dims, data };
}

function npyDescr(ortType) {
  for (const k of Object.keys(NPY_TYPES))
    if (NPY_TYPES[k].ort === ortType) return k;
  die('cannot write tensor type ' + ortType + ' as npy', 1);
}

function writeNpy(file, type, dims, data) {
  const descr = npyDescr(type);
  const shape = dims.length === 0 ? '()' : dims.length === 1 ? '(' + dims[0] + ',)' : '(' + dims.join(', ') + ')';
  let header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ', }';
  // pad so that the data starts on a 64-byte boundary, header ends with \n
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1; pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  let bytes;
  if (type === 'bool') bytes = Buffer.from(Uint8Array.from(data, v => (v ? 1 : 0)));
  else bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), bytes]));
}

// ---- arguments ----

function parseArgs(argv) {
  const a = { model: null, ins: [], out: null, threads: 1, bench: false, runs: 100,
              warmup: 10, shape: null, evalX: null, evalY: null, batch: 100 };
  const need = (i, what) => { if (i + 1 >= argv.length) die(what + ' needs a value', 2); return argv[i + 1]; };
  const posInt = (v, what) => { const n = Number(v); if (!Number.isInteger(n) || n < 1) die(what + ': expected a positive integer, got ' + v, 2); return n; };
  for (let i = 0; i < argv.length; i++) {
    const s = argv[i];
    if (s === '--in') { a.ins.push(need(i, s)); i++; }
    else if (s === '--out') { a.out = need(i, s); i++; }
    else if (s === '--threads') { a.threads = posInt(need(i, s), s); i++; }
    else if (s === '--runs') { a.runs = posInt(need(i, s), s); i++; }
    else if (s === '--warmup') { a.warmup = Number(need(i, s)); i++; if (!(a.warmup >= 0)) die('--warmup: bad value', 2); }
    else if (s === '--batch') { a.batch = posInt(need(i, s), s); i++; }
    else if (s === '--shape') { a.shape = need(i, s).split(',').map(v => posInt(v, s)); i++; }
    else if (s === '--bench') a.bench = true;
    else if (s === '--profile') { a.profile = need(i, s); i++; }
    else if (s === '--eval-npy') {
      if (i + 2 >= argv.length) die('--eval-npy needs X.npy Y.npy', 2);
      a.evalX = argv[i + 1]; a.evalY = argv[i + 2]; i += 2;
    } else if (s === '-h' || s === '--help') {
      process.stdout.write(fs.readFileSync(__filename, 'utf8').split("\n").slice(7, 16).map(l => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
      process.exit(0);
    } else if (s.startsWith('--')) die('unknown option ' + s, 2);
    else if (a.model === null) a.model = s;
    else die('unexpected argument ' + s, 2);
  }
  if (!a.model) die('usage: node ort_run.js MODEL.onnx (--in X.npy --out DIR | --bench | --eval-npy X.npy Y.npy)', 2);
  const modes = (a.bench ? 1 : 0) + (a.evalX ? 1 : 0) + (a.ins.length || a.out ? 1 : 0);
  if (modes !== 1) die('choose exactly one of --in/--out, --bench, --eval-npy', 2);
  if (!a.bench && !a.evalX && (!a.out || a.ins.length === 0)) die('run mode needs --in and --out', 2);
  return a;
}

async function makeSession(ort, a) {
  const opts = {
    intraOpNumThreads: a.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    executionProviders: ['cpu'],
  };
  if (a.profile) { opts.enableProfiling = true; opts.profileFilePrefix = a.profile; }
  try {
    return await ort.InferenceSession.create(a.model, opts);
  } catch (e) {
    die(a.model + ': ' + e.message, 1);
  }
}

// ---- modes ----

async function runMode(ort, a) {
  const sess = await makeSession(ort, a);
  const feeds = {};
  a.ins.forEach((spec, k) => {
    let name, file;
    const eq = spec.indexOf('=');
    if (eq > 0 && !fs.existsSync(spec)) { name = spec.slice(0, eq); file = spec.slice(eq + 1); }
    else { file = spec; name = sess.inputNames[k]; }
    if (name === undefined) die('more inputs given than the model has', 2);
    const t = readNpy(file);
    feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
  });
  const res = await sess.run(feeds);
  fs.mkdirSync(a.out, { recursive: true });
  for (const name of sess.outputNames) {
    const t = res[name];
    const safe = name.replace(/[^A-Za-z0-9_.-]/g, '_');
    writeNpy(path.join(a.out, safe + '.npy'), t.type, t.dims, t.data);
  }
}

function benchShape(sess, a) {
  if (a.shape) return a.shape;
  const meta = sess.inputMetadata && sess.inputMetadata[0];
  if (!meta || !meta.shape) die('cannot read the input shape from the model; pass --shape', 2);
  return meta.shape.map((d, i) => (typeof d === 'number' && d > 0 ? d : (i === 0 ? 1 : die('input dim ' + i + ' is symbolic; pass --shape', 2))));
}

function percentile(sorted, p) {
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1));
  return sorted[idx];
}

async function benchMode(ort, a) {
  const sess = await makeSession(ort, a);
  const shape = benchShape(sess, a);
  const n = shape.reduce((x, y) => x * y, 1);
  // fixed pseudo-random input (LCG) so runs are repeatable
  const data = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) { s = (s * 1103515245 + 12345) >>> 0; data[i] = (s / 4294967296) * 2 - 1; }
  const feeds = { [sess.inputNames[0]]: new ort.Tensor('float32', data, shape) };
  for (let i = 0; i < a.warmup; i++) await sess.run(feeds);
  const times = [];
  let peak = process.memoryUsage().rss;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < a.runs; i++) {
    const t0 = process.hrtime.bigint();
    await sess.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const rss = process.memoryUsage().rss;
    if (rss > peak) peak = rss;
  }
  // CPU time of the process (all threads) per run, user + system
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000 / a.runs;
  if (a.profile) sess.endProfiling();
  // the kernel's high-water mark covers allocations between samples too
  if (process.resourceUsage) peak = Math.max(peak, process.resourceUsage().maxRSS * 1024);
  const sorted = times.slice().sort((x, y) => x - y);
  const mean = times.reduce((x, y) => x + y, 0) / times.length;
  const r = v => Math.round(v * 1000) / 1000;
  process.stdout.write(JSON.stringify({
    p50_ms: r(percentile(sorted, 50)), p95_ms: r(percentile(sorted, 95)), mean_ms: r(mean),
    cpu_ms: r(cpuMs), runs: a.runs, threads: a.threads, peak_rss_bytes: peak,
  }) + '\n');
}

async function evalMode(ort, a) {
  const sess = await makeSession(ort, a);
  const X = readNpy(a.evalX), Y = readNpy(a.evalY);
  if (X.type !== 'float32') die(a.evalX + ': expected float32 images', 1);
  const N = X.dims[0];
  const ylen = Y.data.length;
  if (ylen !== N) die(a.evalY + ': ' + ylen + ' labels for ' + N + ' samples', 1);
  const per = X.data.length / N;
  let correct = 0;
  for (let b = 0; b < N; b += a.batch) {
    const m = Math.min(a.batch, N - b);
    const x = X.data.subarray(b * per, (b + m) * per);
    const feeds = { [sess.inputNames[0]]: new ort.Tensor('float32', x, [m].concat(X.dims.slice(1))) };
    const out = (await sess.run(feeds))[sess.outputNames[0]];
    const C = out.data.length / m;
    for (let i = 0; i < m; i++) {
      let best = 0;
      for (let c = 1; c < C; c++) if (out.data[i * C + c] > out.data[i * C + best]) best = c;
      if (best === Number(Y.data[b + i])) correct++;
    }
  }
  process.stdout.write(JSON.stringify({ accuracy: correct / N, samples: N }) + '\n');
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const ort = loadOrt();
  if (a.bench) await benchMode(ort, a);
  else if (a.evalX) await evalMode(ort, a);
  else await runMode(ort, a);
}

main().catch(e => die(e && e.message ? e.message : String(e), 1));
