#!/usr/bin/python3
"""train_bundled.py — trains minnow's bundled model, models/fashion_cnn.onnx.

A small CNN (3 × conv-bn-relu-maxpool, dense 64, dense 10; ~167k params) on
Fashion-MNIST read straight from Debian's dataset-fashion-mnist
(/usr/share/datasets/fashion-mnist/*.gz, IDX format), 4 epochs of Adam
(batch 128, one-cycle schedule peaking at 2e-3), fixed seeds, 2 threads
(~1.5 minutes on an idle 2-core machine).
Pixels are fed as (p/255 - 0.2860) / 0.3530; the exported ONNX file carries
that in metadata_props (minnow.mean, minnow.std, minnow.input_size) so
`minnow eval` needs no flags. BatchNormalization nodes are kept in the
export (minnow's optimizer folds them).

Prints the test accuracy on the 10 000 test images measured by PyTorch and,
through bench/peers/ort_run.js, by ONNX Runtime; models/README.md records
both. Peers only: minnow itself never runs Python.
  /usr/bin/python3 models/train_bundled.py [--out models/fashion_cnn.onnx]
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = "/usr/share/datasets/fashion-mnist"
PEERS = os.path.join(ROOT, "bench", "peers")
MEAN, STD = 0.2860, 0.3530
SEED = 20240601
EPOCHS = 4
BATCH = 128
LR = 2e-3


def read_idx(path):
    """IDX file (big-endian header: magic 0x0000 TT NN, NN dims) → ndarray."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        sys.exit(path + ": not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    off = 4 + 4 * ndim
    count = int(np.prod(dims))
    if len(raw) - off != count:
        sys.exit("%s: %d data bytes, header says %d" % (path, len(raw) - off, count))
    return np.frombuffer(raw, dtype=np.uint8, offset=off).reshape(dims)


def load_split(split):
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(DATA, prefix + "-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(DATA, prefix + "-labels-idx1-ubyte.gz"))
    x = ((x.astype(np.float32) / 255.0 - MEAN) / STD)[:, None, :, :]
    return np.ascontiguousarray(x, dtype=np.float32), y.astype(np.int64)


class FashionCnn(nn.Module):
    """Same shape as tests/data/peers/thesis_cnn_gray, wider."""

    def __init__(self, widths=(32, 64, 128), hidden=64, classes=10):
        super().__init__()
        layers, cin = [], 1
        for w in widths:
            layers += [nn.Conv2d(cin, w, 3, padding=1, bias=False),
                       nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2)]
            cin = w
        self.features = nn.Sequential(*layers)
        self.fc1 = nn.Linear(cin * 3 * 3, hidden)
        self.drop = nn.Dropout(0.2)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x):
        x = torch.flatten(self.features(x), 1)
        return self.fc2(self.drop(F.relu(self.fc1(x))))


def accuracy(model, x, y, batch=500):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out = model(torch.from_numpy(x[i:i + batch]))
            correct += int((out.argmax(1).numpy() == y[i:i + batch]).sum())
    return correct / len(x)


def export(model, path):
    model.eval()
    with warnings.catch_warnings():
        # PRESERVE on an eval-mode model keeps BatchNormalization nodes in
        # inference form; the constant-folding warning concerns training mode
        warnings.filterwarnings("ignore", message=".*constant folding.*")
        torch.onnx.export(model, torch.zeros(1, 1, 28, 28), path, opset_version=13,
                          training=torch.onnx.TrainingMode.PRESERVE,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                          do_constant_folding=True)
    m = onnx.load(path)
    m.doc_string = "minnow bundled model: Fashion-MNIST CNN (models/train_bundled.py)"
    for k, v in (("minnow.mean", "%.4f" % MEAN), ("minnow.std", "%.4f" % STD),
                 ("minnow.input_size", "1,28,28")):
        p = m.metadata_props.add()
        p.key, p.value = k, v
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, path)


def ort_check(path, model, x, y, nlogits=1000):
    """ORT's accuracy over (x, y), and max |ORT - torch| over the logits of
    the first nlogits images."""
    if not os.path.isdir(os.path.join(PEERS, "node_modules", "onnxruntime-node")):
        env = dict(os.environ, ONNXRUNTIME_NODE_INSTALL="skip")
        subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=PEERS,
                       env=env, check=True)
    with tempfile.TemporaryDirectory() as d:
        np.save(os.path.join(d, "x.npy"), x)
        np.save(os.path.join(d, "y.npy"), y)
        r = subprocess.run(["node", os.path.join(PEERS, "ort_run.js"), path, "--eval-npy",
                            os.path.join(d, "x.npy"), os.path.join(d, "y.npy"),
                            "--batch", "500", "--threads", "2"],
                           check=True, capture_output=True, text=True)
        np.save(os.path.join(d, "x1k.npy"), x[:nlogits])
        subprocess.run(["node", os.path.join(PEERS, "ort_run.js"), path, "--in",
                        os.path.join(d, "x1k.npy"), "--out", d, "--threads", "1"], check=True)
        y_ort = np.load(os.path.join(d, "output.npy"))
    model.eval()
    with torch.no_grad():
        y_torch = model(torch.from_numpy(x[:nlogits])).numpy()
    res = json.loads(r.stdout)
    res["max_abs_logit_diff"] = float(np.max(np.abs(y_ort - y_torch)))
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "fashion_cnn.onnx"))
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    args = ap.parse_args()

    torch.set_num_threads(2)
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    xtr, ytr = load_split("train")
    xte, yte = load_split("test")
    model = FashionCnn()
    nparams = sum(p.numel() for p in model.parameters())
    print("params %d, train %d, test %d" % (nparams, len(xtr), len(xte)))

    steps = args.epochs * ((len(xtr) + BATCH - 1) // BATCH)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=steps,
                                                pct_start=0.15)
    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        order = rng.permutation(len(xtr))
        total = 0.0
        for i in range(0, len(order), BATCH):
            idx = order[i:i + BATCH]
            xb, yb = torch.from_numpy(xtr[idx]), torch.from_numpy(ytr[idx])
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
        print("epoch %d  loss %.4f  test acc %.4f  (%.0f s)"
              % (epoch + 1, total / len(xtr), accuracy(model, xte, yte), time.time() - t0))

    acc_torch = accuracy(model, xte, yte)
    export(model, args.out)
    ort = ort_check(args.out, model, xte, yte)
    print(json.dumps({"params": nparams, "bytes": os.path.getsize(args.out),
                      "torch_test_accuracy": acc_torch,
                      "ort_test_accuracy": ort["accuracy"], "samples": ort["samples"],
                      "max_abs_logit_diff_ort_torch_first1000": ort["max_abs_logit_diff"],
                      "train_seconds": round(time.time() - t0, 1)}))


if __name__ == "__main__":
    main()
