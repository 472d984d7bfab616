#!/usr/bin/python3
"""Compare minnow's com.microsoft quantized ops with ONNX Runtime's on
random cases: builds one-node models (QLinearAdd, QLinearMul,
QLinearGlobalAveragePool, QLinearConcat, QLinearSigmoid, QLinearLeakyRelu),
runs both (node bench/peers/ort_run.js, MINNOW run) and prints the maximum
difference in quantized units per op and type.
usage: scripts/check_qops_ort.py [MINNOW] [WORKDIR] [CASES]"""
import json, os, subprocess, sys
import numpy as np
import onnx
from onnx import helper as h, TensorProto as TP

MINNOW = sys.argv[1] if len(sys.argv) > 1 else "build/minnow"
W = sys.argv[2] if len(sys.argv) > 2 else "/tmp/qops_check"
CASES = int(sys.argv[3]) if len(sys.argv) > 3 else 6
os.makedirs(W, exist_ok=True)
rng = np.random.default_rng(7)

def const(name, arr):
    return h.make_tensor(name, {np.dtype('float32'): TP.FLOAT, np.dtype('uint8'): TP.UINT8,
                                np.dtype('int8'): TP.INT8}[arr.dtype], arr.shape,
                         arr.flatten().tolist())

def qp(dt):
    s = np.array(np.exp(rng.uniform(-5, 0)), np.float32)
    lo, hi = (0, 255) if dt == np.uint8 else (-128, 127)
    z = np.array(rng.integers(lo + 40, hi - 40), dt)
    return s, z

def model(op, inputs, inits, out_dt, out_shape, attrs=None):
    tdt = TP.UINT8 if out_dt == np.uint8 else TP.INT8
    node = h.make_node(op, [n for n in inputs], ["y"], domain="com.microsoft", **(attrs or {}))
    g = h.make_graph([node], "g",
                     [h.make_tensor_value_info(n, tdt, a.shape) for n, a in feeds.items()],
                     [h.make_tensor_value_info("y", tdt, None)],
                     [const(k, v) for k, v in inits.items()])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 13), h.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    return m

def rand8(dt, shape):
    lo, hi = (0, 256) if dt == np.uint8 else (-128, 128)
    return rng.integers(lo, hi, size=shape).astype(dt)

def run(m, tag):
    p = f"{W}/{tag}.onnx"
    onnx.save(m, p)
    ins = []
    for n, a in feeds.items():
        np.save(f"{W}/{tag}.{n}.npy", a)
        ins += ["--in", f"{n}={W}/{tag}.{n}.npy"]
    subprocess.run(["node", "bench/peers/ort_run.js", p] + ins + ["--out", f"{W}/{tag}.ort"],
                   check=True, stdout=subprocess.DEVNULL)
    mi = []
    for n in feeds:
        mi += ["-i", f"{n}={W}/{tag}.{n}.npy"]
    subprocess.run([MINNOW, "run", p] + mi + ["-o", f"{W}/{tag}.mn"], check=True,
                   stdout=subprocess.DEVNULL)
    a = np.load(f"{W}/{tag}.ort/y.npy").astype(np.int32)
    b = np.load(f"{W}/{tag}.mn/y.npy").astype(np.int32)
    assert a.shape == b.shape, (a.shape, b.shape)
    return int(np.abs(a - b).max()), int((a != b).sum()), a.size

res = {}
for dt in (np.uint8, np.int8):
    dn = "u8" if dt == np.uint8 else "i8"
    for c in range(CASES):
        shapes = [((2, 5, 7, 3), (2, 5, 7, 3)), ((2, 6, 4, 5), (1, 6, 1, 1)), ((3, 17), (17,))][c % 3]
        for op in ("QLinearAdd", "QLinearMul"):
            a, b = rand8(dt, shapes[0]), rand8(dt, shapes[1])
            (sa, za), (sb, zb), (sc, zc) = qp(dt), qp(dt), qp(dt)
            if op == "QLinearAdd":  # keep ORT's scale-ratio precondition
                sc = np.array(max(sc, sa / 200, sb / 200), np.float32)
            feeds = {"a": a, "b": b}
            inits = {"sa": sa, "za": za, "sb": sb, "zb": zb, "sc": sc, "zc": zc}
            m = model(op, ["a", "sa", "za", "b", "sb", "zb", "sc", "zc"], inits, dt, None)
            res.setdefault(f"{op} {dn}", []).append(run(m, f"{op}_{dn}_{c}"))
        for op in ("QLinearSigmoid", "QLinearLeakyRelu"):
            x = rand8(dt, (2, 3, 5, 7))
            (sx, zx), (sy, zy) = qp(dt), qp(dt)
            if op == "QLinearSigmoid":
                sy = np.array(1.0 / 255, np.float32)
            feeds = {"x": x}
            m = model(op, ["x", "sx", "zx", "sy", "zy"], {"sx": sx, "zx": zx, "sy": sy, "zy": zy},
                      dt, None, {"alpha": 0.1} if op == "QLinearLeakyRelu" else None)
            res.setdefault(f"{op} {dn}", []).append(run(m, f"{op}_{dn}_{c}"))
        x = rand8(dt, (2, 9, 5, 6 + c))
        (sx, zx), (sy, zy) = qp(dt), qp(dt)
        sy = np.array(max(sy, sx / 100), np.float32)
        feeds = {"x": x}
        m = model("QLinearGlobalAveragePool", ["x", "sx", "zx", "sy", "zy"],
                  {"sx": sx, "zx": zx, "sy": sy, "zy": zy}, dt, None, {"channels_last": 0})
        res.setdefault(f"QLinearGlobalAveragePool {dn}", []).append(run(m, f"gap_{dn}_{c}"))
        x0, x1 = rand8(dt, (2, 3, 4, 5)), rand8(dt, (2, 2 + c, 4, 5))
        (s0, z0), (s1, z1), (sy, zy) = qp(dt), qp(dt), qp(dt)
        if c % 2:
            s0, z0 = sy, zy
        feeds = {"x0": x0, "x1": x1}
        m = model("QLinearConcat", ["sy", "zy", "x0", "s0", "z0", "x1", "s1", "z1"],
                  {"sy": sy, "zy": zy, "s0": s0, "z0": z0, "s1": s1, "z1": z1}, dt, None,
                  {"axis": 1})
        res.setdefault(f"QLinearConcat {dn}", []).append(run(m, f"concat_{dn}_{c}"))
out = {k: {"max_diff": max(r[0] for r in v), "elements_differing": sum(r[1] for r in v),
           "elements": sum(r[2] for r in v)} for k, v in res.items()}
print(json.dumps(out, indent=1))
