#!/usr/bin/python3
"""Independent parameter and MAC count for ONNX files, compared with
`minnow info --json`. Uses the onnx package's own shape inference, not minnow.
usage: /usr/bin/python3 scripts/count_check.py build/minnow MODEL.onnx...
Needs python3-onnx and python3-numpy (development machines only)."""
import json, subprocess, sys
import numpy as np
import onnx
from onnx import numpy_helper, shape_inference

def count(path):
    m = onnx.load(path)
    g = m.graph
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    for inp in g.input:
        if inp.name in inits:
            continue
        d = inp.type.tensor_type.shape.dim
        if d and not d[0].dim_value:
            d[0].dim_value = 1
    m = shape_inference.infer_shapes(m)
    shapes = {}
    for vi in list(m.graph.value_info) + list(m.graph.output) + list(m.graph.input):
        shapes[vi.name] = [x.dim_value for x in vi.type.tensor_type.shape.dim]
    consumers = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, set()).add(n.op_type)
    formula = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Clip"}
    params = sum(a.size for k, a in inits.items() if a.dtype != np.int64
                 and not (consumers.get(k, set()) <= formula and
                          (a.size == 1 or consumers.get(k) == {"Clip"})))
    macs = 0
    for n in g.node:
        if n.op_type == "Conv":
            out = shapes[n.output[0]]
            macs += int(np.prod(out)) * int(np.prod(inits[n.input[1]].shape[1:]))
        elif n.op_type == "Gemm":
            w = inits[n.input[1]].shape
            tb = [x.i for x in n.attribute if x.name == "transB"]
            k, nout = (w[1], w[0]) if tb and tb[0] else (w[0], w[1])
            macs += nout * k  # batch 1: M = 1
        elif n.op_type == "MatMul":
            out = shapes[n.output[0]]
            macs += int(np.prod(out)) * shapes[n.input[0]][-1]
    return params, macs

bad = 0
for path in sys.argv[2:]:
    p, m = count(path)
    info = json.loads(subprocess.check_output([sys.argv[1], "info", path, "--json"]))
    same = info["params"] == p and info["macs"] == m
    bad += not same
    print("%-50s params %9d / %9d  MACs %11d / %11d  %s" % (
        path, info["params"], p, info["macs"], m, "match" if same else "DIFFER"))
print("%d passed, %d failed" % (len(sys.argv) - 2 - bad, bad))
sys.exit(1 if bad else 0)
