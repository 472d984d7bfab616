#!/usr/bin/python3
"""quant_bench_util.py — peer-side helpers for bench/quant_bench.sh.

minnow itself never runs Python; this only prepares data for ONNX Runtime
(bench/peers/ort_run.js) and turns the benchmark's JSON lines into tables.

  testdata MODEL.onnx X.npy Y.npy      Fashion-MNIST test set, normalised
                                       with the model's minnow.mean/std
  randn C,H,W N SEED OUT.npy           N×C×H×W standard-normal float32
  compare REF.npy GOT.npy              {"max_abs", "rel", "top1_agree"}
  report ROWS.jsonl OUT.json OUT.md    collects rows into JSON + Markdown
"""
import gzip
import json
import os
import sys

import numpy as np

DATA = "/usr/share/datasets/fashion-mnist/"


def read_idx(path):
    raw = gzip.open(path).read()
    nd = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(raw[4 + 4 * nd:], dtype=np.uint8).reshape(dims)


def meta(model, key, default):
    import onnx
    m = onnx.load(model, load_external_data=False)
    for p in m.metadata_props:
        if p.key == key:
            return float(p.value.split(",")[0])
    return default


def testdata(model, xout, yout):
    mean, std = meta(model, "minnow.mean", 0.0), meta(model, "minnow.std", 1.0)
    x = read_idx(DATA + "t10k-images-idx3-ubyte.gz").astype(np.float32) / 255
    x = ((x - mean) / std).astype(np.float32).reshape(-1, 1, 28, 28)
    y = read_idx(DATA + "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    np.save(xout, x)
    np.save(yout, y)


def randn(shape, n, seed, out):
    dims = [int(v) for v in shape.split(",")]
    rng = np.random.default_rng(int(seed))
    np.save(out, rng.standard_normal([int(n)] + dims).astype(np.float32))


def compare(ref, got):
    a, b = np.load(ref).astype(np.float64), np.load(got).astype(np.float64)
    d = float(np.abs(a - b).max())
    print(json.dumps({"max_abs": d, "rel": d / max(1e-12, float(np.abs(a).max())),
                      "top1_agree": float((a.argmax(-1) == b.argmax(-1)).mean())}))


def fmt(v, pct=False):
    if v is None:
        return "–"
    return "%.2f" % (100 * v) if pct else ("%.2f" % v if isinstance(v, float) else str(v))


def report(rows_path, out_json, out_md):
    rows = [json.loads(l) for l in open(rows_path) if l.strip()]
    model = os.environ.get("MODEL", "models/fashion_cnn.onnx")
    res = {"generator": "bench/quant_bench.sh", "model": model,
           "fashion_cnn": [r for r in rows if r.get("kind") == "fashion"],
           "memory": [r for r in rows if r.get("kind") == "memory"],
           "peers": [r for r in rows if r.get("kind") == "peer"]}
    with open(out_json, "w") as f:
        json.dump(res, f, indent=1)
    L = ["# Post-training quantization — minnow", "",
         "Fashion-MNIST test (10 000 images), " + model + ", "
         "calibration on 512 training images. `minnow eval` = accuracy of "
         "the written file in minnow's runtime (int8 written as integer "
         "operators, so the integer kernels compute it); `in-process` = "
         "`minnow quantize --eval` on the graph before it is written; "
         "`ORT` = ONNX Runtime on the same file; `ORT qdq` = ONNX Runtime "
         "on the QDQ export of the same quantization. `float ops` = ops "
         "left computing in float between DequantizeLinear and "
         "QuantizeLinear (int8: after lowering). Drop is in percentage "
         "points vs fp32 (negative: better). `.mnw` = the same model "
         "exported with `minnow export --format mnw` (minnow's deployable "
         "file; ratio to the fp32 ONNX file; its top-1 in minnow).", "",
         "| mode | calibration | bytes | ratio | .mnw bytes | .mnw ratio | .mnw top-1 % | minnow eval top-1 % | in-process top-1 % | drop pp | ORT top-1 % | ORT qdq top-1 % | float ops | quantize s |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    notes = []
    for r in res["fashion_cnn"]:
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["mode"], r.get("calib_method") or "–", r["bytes"],
            fmt(r.get("ratio")), r.get("mnw_bytes", "–"),
            fmt(r.get("mnw_ratio")), fmt(r.get("mnw_accuracy"), True),
            fmt(r.get("accuracy"), True),
            fmt(r.get("accuracy_inproc"), True),
            fmt(r.get("drop_pp")), fmt(r.get("ort_accuracy"), True),
            fmt(r.get("ort_qdq_accuracy"), True), fmt(r.get("float_ops")),
            fmt(r.get("seconds"))))
        if r.get("eval_error"):
            notes.append("- %s: `minnow eval` on the file: %s" % (r["mode"], r["eval_error"].strip()))
    if notes:
        L += [""] + notes
    if res["memory"]:
        L += ["", "Calibration memory (peak RSS of `minnow quantize`, entropy):", "",
              "| images | peak RSS MiB | histogram bytes | seconds |", "|---|---|---|---|"]
        for r in res["memory"]:
            L.append("| %d | %.1f | %d | %.1f |" % (r["calib_samples"],
                     r["peak_rss_bytes"] / 2**20, r["observer_bytes"], r["seconds"]))
    if res["peers"]:
        L += ["", "Peer models (random weights, tests/data/peers; calibrated on 64 "
              "standard-normal inputs, compared on 128 others): relative max "
              "error of the logits vs fp32 and top-1 agreement with fp32.", "",
              "| model | mode | ratio | rel err minnow | top-1 agree minnow | rel err ORT vs minnow | float ops |",
              "|---|---|---|---|---|---|---|"]
        for r in res["peers"]:
            L.append("| %s | %s | %s | %.4f | %.3f | %s | %s |" % (
                r["model"], r["mode"], fmt(r.get("ratio")), r["rel"],
                r["top1_agree"], "%.2g" % r["ort_rel"] if r.get("ort_rel") is not None else "–",
                fmt(r.get("float_ops"))))
    open(out_md, "w").write("\n".join(L) + "\n")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"testdata": testdata, "randn": randn, "compare": compare,
     "report": report}[cmd](*args)
