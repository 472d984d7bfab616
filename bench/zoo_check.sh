#!/bin/sh
# Checks minnow's model zoo (models/zoo/*.onnx, made by models/train_zoo.sh):
# top-1 on the 10 000 Fashion-MNIST test images in minnow and in ONNX
# Runtime (same file, same preprocessing from the model's metadata), params,
# MACs, file size and the training time recorded by `minnow train --json`.
# Writes bench/results/zoo.json and bench/results/zoo.md (the table quoted
# in models/README.md).
# usage: bench/zoo_check.sh [BUILD]
set -e
B=${1:-build}
cd "$(dirname "$0")/.."
MINNOW="$B/minnow"
PY=/usr/bin/python3
ORT="node bench/peers/ort_run.js"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
rows="$T/rows.jsonl"
: > "$rows"
for f in models/zoo/*.onnx; do
  [ -f "$f" ] || continue
  name=$(basename "$f" .onnx)
  info=$("$MINNOW" info "$f" --json)
  ev=$("$MINNOW" eval "$f" --data fashion-mnist:test --threads 2 --json)
  $PY bench/quant_bench_util.py testdata "$f" "$T/x.npy" "$T/y.npy"
  ort=$($ORT "$f" --eval-npy "$T/x.npy" "$T/y.npy" --threads 2 2>/dev/null || echo '{}')
  tr=$(cat "models/zoo/$name.json" 2>/dev/null || echo '{}')
  # a continued second stage (models/train_zoo.sh cont) adds its epochs
  ft=$(cat "models/zoo/$name.ft.json" 2>/dev/null || echo '{}')
  $PY - "$name" "$info" "$ev" "$ort" "$tr" "$ft" >> "$rows" <<'PYEOF'
import json, sys
name, info, ev, ort, tr, ft = sys.argv[1], *[json.loads(a) for a in sys.argv[2:]]
ep, sec = tr.get("epochs"), tr.get("seconds")
ips = tr.get("images_per_s")
if ft and ep is not None and sec is not None:
    ep, sec = ep + ft["epochs"], sec + ft["seconds"]
    ips = (tr["images_per_s"] * tr["seconds"] + ft["images_per_s"] * ft["seconds"]) / sec
print(json.dumps({"model": name, "params": info["params"], "macs": info["macs"],
                  "file_bytes": info["file_bytes"],
                  "minnow_top1": ev.get("accuracy"), "ort_top1": ort.get("accuracy"),
                  "epochs": ep, "stages": 2 if ft else 1, "train_seconds": sec,
                  "train_images_per_s": ips}))
PYEOF
done
$PY - "$rows" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
json.dump({"command": "sh bench/zoo_check.sh", "data": "fashion-mnist test (10 000)",
           "models": rows}, open("bench/results/zoo.json.tmp", "w"), indent=1)
md = ["| model | params | MACs | file bytes | top-1 minnow | top-1 ONNX Runtime | epochs | training s (img/s) |",
      "|---|---:|---:|---:|---:|---:|---:|---:|"]
pct = lambda a: "—" if a is None else "%.2f %%" % (100 * a)
for r in rows:
    t = "—" if r["train_seconds"] is None else "%.0f (%.0f)" % (r["train_seconds"], r["train_images_per_s"])
    md.append("| %s | %d | %d | %d | %s | %s | %s | %s |" % (
        r["model"], r["params"], r["macs"], r["file_bytes"], pct(r["minnow_top1"]),
        pct(r["ort_top1"]), r["epochs"] or "—", t))
open("bench/results/zoo.md.tmp", "w").write("\n".join(md) + "\n")
PYEOF
mv bench/results/zoo.json.tmp bench/results/zoo.json
mv bench/results/zoo.md.tmp bench/results/zoo.md
cat bench/results/zoo.md
