#!/usr/bin/python3
"""PyTorch twins of minnow's training architectures, for bench/train_bench.sh.

Each builder below follows src/train/arch_*.c layer by layer (same channel
rounding, kernel sizes, strides, paddings, bias/no-bias, BatchNorm
eps 1e-5 / momentum 0.1 = ONNX 0.9, LayerNorm eps 1e-6), so the trainable
parameter count equals the "params" that `minnow train --json` reports;
the benchmark checks that before timing anything.

usage:
  train_torch.py --arch NAME [--width F] [--depth N] --params
      prints {"arch", "params"}
  train_torch.py --arch NAME [--width F] [--depth N] --bench
                 [--steps 100] [--warmup 10] [--batch 128] [--threads 2]
      trains on Fashion-MNIST like `minnow train` does (SGD momentum 0.9
      Nesterov, weight decay 5e-4 on conv/linear weights, label smoothing
      0.1, random crop with 2 pixels of zero padding, per-batch
      augmentation included in the timing) and prints
      {"arch", "params", "images_per_s", "steps", "warmup", "batch",
       "threads", "torch"}; images/s counts the steps after the warm-up.
  train_torch.py --arch NAME --train --epochs E [--limit N]
                 [--test-limit N] [--optimizer sgd|adamw] [--lr F] [--wd F]
      a short one-cycle run for comparing how fast a model learns;
      prints {"arch", "params", "test_accuracy", "final_loss", "seconds"}

Needs /usr/bin/python3 with Debian's python3-torch (1.13) and numpy; data
from /usr/share/datasets/fashion-mnist (or $MINNOW_DATA_DIR).
"""
import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------------------------------------------------------- helpers

def make_div(c, mult):
    """ab_make_div: channels × width rounded to a multiple of 8 (>= 8)."""
    v = float(np.float32(c) * np.float32(mult))
    r = int(v + 4) // 8 * 8
    if r < 8:
        r = 8
    if r < 0.9 * v:
        r += 8
    return r


def conv(cin, cout, k, stride=1, groups=1, bias=False):
    return nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups,
                     bias=bias)


class ConvBNAct(nn.Sequential):
    def __init__(self, cin, cout, k, stride=1, groups=1, act=None):
        layers = [conv(cin, cout, k, stride, groups),
                  nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)]
        if act is not None:
            layers.append(act())
        super().__init__(*layers)


class Residual(nn.Module):
    def __init__(self, body, shortcut=None, post=None):
        super().__init__()
        self.body, self.shortcut, self.post = body, shortcut, post

    def forward(self, x):
        s = x if self.shortcut is None else self.shortcut(x)
        y = self.body(x) + s
        return self.post(y) if self.post is not None else y


class Head(nn.Module):
    """GlobalAveragePool → Flatten → [LayerNorm] → Linear."""

    def __init__(self, c, classes, ln=False):
        super().__init__()
        self.ln = nn.LayerNorm(c, eps=1e-6) if ln else None
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        if self.ln is not None:
            x = self.ln(x)
        return self.fc(x)


# ----------------------------------------------------------- architectures

def thesis_cnn(cin, hw, classes, width, depth):
    layers, c, h = [], cin, hw
    for s in range(3):
        co = make_div(32 << s, width)
        layers += [ConvBNAct(c, co, 3, act=nn.ReLU), nn.MaxPool2d(2, 2)]
        c, h = co, h // 2
    layers += [nn.Flatten(), nn.Linear(c * h * h, 64), nn.ReLU(),
               nn.Linear(64, classes)]
    return nn.Sequential(*layers)


def resnet(cin, hw, classes, width, depth, blocks=1):
    n = depth or blocks
    c = make_div(16, width)
    layers = [ConvBNAct(cin, c, 3, act=nn.ReLU)]
    for s in range(3):
        co = make_div(16 << s, width)
        for i in range(n):
            st = 2 if s > 0 and i == 0 else 1
            body = nn.Sequential(ConvBNAct(c, co, 3, st, act=nn.ReLU),
                                 ConvBNAct(co, co, 3))
            sc = ConvBNAct(c, co, 1, st) if st != 1 or c != co else None
            layers.append(Residual(body, sc, nn.ReLU()))
            c = co
    layers.append(Head(c, classes))
    return nn.Sequential(*layers)


def inverted(cin, exp, cout, k, stride, act):
    body = []
    if exp != cin:
        body.append(ConvBNAct(cin, exp, 1, act=act))
    body += [ConvBNAct(exp, exp, k, stride, exp, act=act),
             ConvBNAct(exp, cout, 1)]
    body = nn.Sequential(*body)
    return Residual(body) if stride == 1 and cin == cout else body


def mobilenetv2(cin, hw, classes, width, depth):
    cfg = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2),
           (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
    c = make_div(32, width)
    layers = [ConvBNAct(cin, c, 3, act=nn.ReLU6)]
    for t, ch, n, s in cfg:
        co = make_div(ch, width)
        n = min(n, depth) if depth else n
        for r in range(n):
            layers.append(inverted(c, c * t, co, 3, s if r == 0 else 1,
                                   nn.ReLU6))
            c = co
    last = make_div(1280, max(width, 1.0))
    layers += [ConvBNAct(c, last, 1, act=nn.ReLU6), Head(last, classes)]
    return nn.Sequential(*layers)


class SE(nn.Module):
    def __init__(self, c, squeeze):
        super().__init__()
        self.fc1 = nn.Conv2d(c, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, c, 1)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        return x * torch.sigmoid(self.fc2(F.silu(self.fc1(s))))


def efficientnetv2_tiny(cin, hw, classes, width, depth):
    cfg = [(1, 1, 16, 1, 1), (1, 4, 32, 2, 2), (1, 4, 48, 2, 2),
           (0, 4, 96, 2, 2), (0, 6, 112, 2, 1), (0, 6, 160, 2, 2)]
    c = make_div(16, width)
    layers = [ConvBNAct(cin, c, 3, act=nn.SiLU)]
    for fused, e, ch, n, s in cfg:
        co = make_div(ch, width)
        n = min(n, depth) if depth else n
        for k in range(n):
            st = s if k == 0 else 1
            if fused and e == 1:
                body = ConvBNAct(c, co, 3, st, act=nn.SiLU)
            elif fused:
                body = nn.Sequential(ConvBNAct(c, c * e, 3, st, act=nn.SiLU),
                                     ConvBNAct(c * e, co, 1))
            else:
                x = c * e
                body = nn.Sequential(ConvBNAct(c, x, 1, act=nn.SiLU),
                                     ConvBNAct(x, x, 3, st, x, act=nn.SiLU),
                                     SE(x, max(c // 4, 1)),
                                     ConvBNAct(x, co, 1))
            layers.append(Residual(body) if st == 1 and c == co else body)
            c = co
    last = make_div(1280, max(width, 1.0))
    layers += [ConvBNAct(c, last, 1, act=nn.SiLU), Head(last, classes)]
    return nn.Sequential(*layers)


class LayerNorm2d(nn.LayerNorm):
    def forward(self, x):
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class CNBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dw = nn.Conv2d(c, c, 7, 1, 3, groups=c, bias=True)
        self.ln = nn.LayerNorm(c, eps=1e-6)
        self.fc1 = nn.Linear(c, 4 * c)
        self.fc2 = nn.Linear(4 * c, c)
        self.gamma = nn.Parameter(torch.full((c, 1, 1), 1e-6))

    def forward(self, x):
        y = self.dw(x).permute(0, 2, 3, 1)
        y = self.fc2(F.gelu(self.fc1(self.ln(y)))).permute(0, 3, 1, 2)
        return x + self.gamma * y


def convnext_tiny(cin, hw, classes, width, depth):
    dims, depths = (32, 64, 128), (2, 2, 4)
    c = make_div(dims[0], width)
    layers = [nn.Conv2d(cin, c, 2, 2, bias=True), LayerNorm2d(c, eps=1e-6)]
    for s in range(3):
        co = make_div(dims[s], width)
        if s > 0:
            layers += [LayerNorm2d(c, eps=1e-6),
                       nn.Conv2d(c, co, 2, 2, bias=True)]
            c = co
        n = min(depths[s], depth) if depth else depths[s]
        layers += [CNBlock(c) for _ in range(n)]
    layers.append(Head(c, classes, ln=True))
    return nn.Sequential(*layers)


ARCHS = {
    "thesis-cnn": thesis_cnn,
    "resnet8": lambda *a: resnet(*a, blocks=1),
    "resnet20": lambda *a: resnet(*a, blocks=3),
    "mobilenetv2": mobilenetv2,
    "efficientnetv2-tiny": efficientnetv2_tiny,
    "convnext-tiny": convnext_tiny,
}


def build(name, width, depth, cin=1, hw=28, classes=10):
    if name not in ARCHS:
        sys.exit("train_torch: unknown architecture '%s' (known: %s)"
                 % (name, ", ".join(ARCHS)))
    return ARCHS[name](cin, hw, classes, width, depth)


def count_params(m):
    return sum(p.numel() for p in m.parameters())


# -------------------------------------------------------------------- data

def read_idx(path):
    with gzip.open(path, "rb") as f:
        b = f.read()
    ndim = b[3]
    dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(b, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fashion(split, limit):
    d = os.environ.get("MINNOW_DATA_DIR", "/usr/share/datasets/fashion-mnist")
    pre = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(d, pre + "-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(d, pre + "-labels-idx1-ubyte.gz"))
    if limit:
        x, y = x[:limit], y[:limit]
    return (torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1),
            torch.from_numpy(y.astype(np.int64)))


def augment(x, pad, gen):
    """Random crop after zero padding (in pixel space, as minnow does)."""
    if pad == 0:
        return x
    n, c, h, w = x.shape
    xp = F.pad(x, (pad, pad, pad, pad))
    off = torch.randint(0, 2 * pad + 1, (n, 2), generator=gen)
    out = torch.empty_like(x)
    for i in range(n):
        dy, dx = int(off[i, 0]), int(off[i, 1])
        out[i] = xp[i, :, dy:dy + h, dx:dx + w]
    return out


def optimizer(model, kind, lr, wd):
    decay = [p for n, p in model.named_parameters()
             if p.ndim >= 2 and "gamma" not in n]
    rest = [p for n, p in model.named_parameters()
            if not (p.ndim >= 2 and "gamma" not in n)]
    groups = [{"params": decay, "weight_decay": wd},
              {"params": rest, "weight_decay": 0.0}]
    if kind == "adamw":
        return torch.optim.AdamW(groups, lr=lr)
    return torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True)


# ------------------------------------------------------------------- modes

def bench(a, model):
    steps, warm, bs = a.steps, a.warmup, a.batch
    x, y = fashion("train", bs * (steps + warm))
    mean, std = float(x.mean()), float(x.std(unbiased=False))
    opt = optimizer(model, "sgd", 0.01, 5e-4)
    lossf = nn.CrossEntropyLoss(label_smoothing=0.1)
    gen = torch.Generator().manual_seed(1)
    perm = torch.randperm(x.shape[0], generator=gen)
    model.train()
    t0 = None
    for s in range(steps + warm):
        if s == warm:
            t0 = time.perf_counter()
        idx = perm[s * bs:(s + 1) * bs]
        xb = (augment(x[idx], 2, gen) - mean) / std
        opt.zero_grad(set_to_none=True)
        loss = lossf(model(xb), y[idx])
        loss.backward()
        opt.step()
        if not math.isfinite(float(loss)):
            sys.exit("train_torch: non-finite loss")
    dt = time.perf_counter() - t0
    return {"images_per_s": steps * bs / dt, "steps": steps, "warmup": warm,
            "batch": bs, "threads": torch.get_num_threads()}


def train(a, model):
    x, y = fashion("train", a.limit)
    xt, yt = fashion("test", a.test_limit)
    mean, std = float(x.mean()), float(x.std(unbiased=False))
    bs = a.batch
    per_epoch = x.shape[0] // bs
    opt = optimizer(model, a.optimizer, a.lr, a.wd)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, a.lr, total_steps=per_epoch * a.epochs, pct_start=0.3)
    lossf = nn.CrossEntropyLoss(label_smoothing=0.1)
    gen = torch.Generator().manual_seed(a.seed)
    t0 = time.perf_counter()
    for ep in range(a.epochs):
        model.train()
        perm = torch.randperm(x.shape[0], generator=gen)
        tot = 0.0
        for b in range(per_epoch):
            idx = perm[b * bs:(b + 1) * bs]
            xb = (augment(x[idx], 2, gen) - mean) / std
            opt.zero_grad(set_to_none=True)
            loss = lossf(model(xb), y[idx])
            loss.backward()
            opt.step()
            sched.step()
            tot += float(loss)
        print("epoch %d loss %.4f" % (ep + 1, tot / per_epoch),
              file=sys.stderr)
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model((xt[i:i + 500] - mean) / std).argmax(1)
                          for i in range(0, xt.shape[0], 500)])
    return {"test_accuracy": float((pred == yt).float().mean()),
            "final_loss": tot / per_epoch,
            "seconds": time.perf_counter() - t0}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--arch", required=True)
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--depth", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--test-limit", type=int, default=0)
    p.add_argument("--optimizer", choices=("sgd", "adamw"), default="sgd")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--wd", type=float, default=5e-4)
    p.add_argument("--seed", type=int, default=1)
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--params", action="store_true")
    mode.add_argument("--bench", action="store_true")
    mode.add_argument("--train", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = build(a.arch, a.width, a.depth)
    out = {"arch": a.arch, "params": count_params(model)}
    if a.bench:
        out.update(bench(a, model))
        out["torch"] = torch.__version__
    elif a.train:
        out.update(train(a, model))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
