#!/usr/bin/python3
"""gen_peer_models.py — builds the small reference CNNs in tests/data/peers/.

Each model is a PyTorch module with random but realistic weights (BatchNorm
running statistics and affine parameters set to non-trivial values, layer
scales well away from zero), exported with torch.onnx.export exactly as a
user would, so minnow's importer sees what PyTorch really writes: the
Shape→Gather→Unsqueeze→Concat→Reshape flatten chain, Clip for ReLU6, the
ReduceMean/Sub/Pow/Sqrt/Div LayerNorm chain at opset 13 and
LayerNormalization at opset 17, Erf-based GELU, Sigmoid+Mul SiLU,
HardSigmoid, squeeze-and-excitation, and both fused (PyTorch's default eval
export) and kept BatchNormalization nodes.

For every model it writes, into tests/data/peers/:
  <name>.onnx         the model (dynamic batch; input 'input', output 'output')
  <name>.input.npy    float32 input, batch 2, seeded normal
  <name>.torch.npy    PyTorch's output
  <name>.ort.npy      ONNX Runtime's output (bench/peers/ort_run.js, 1 thread)
and manifest.json with shapes, opsets, op counts and max |ORT - torch|.

Peers (torch, onnxruntime-node) are needed only to regenerate these files;
CI reads the committed results. Run from anywhere:
  /usr/bin/python3 scripts/gen_peer_models.py
(installs onnxruntime-node into bench/peers/node_modules if it is missing).
"""
import collections
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "peers")
PEERS = os.path.join(ROOT, "bench", "peers")
TOL = 1e-4
MAX_BYTES = 300 * 1024


# ---------------------------------------------------------------- models

def conv_bn(cin, cout, k, stride=1, groups=1):
    return [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout)]


class BasicBlock(nn.Module):
    """ResNet v1 basic block; a 1x1 projection when the shape changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1, self.b1 = conv_bn(cin, cout, 3, stride)
        self.c2, self.b2 = conv_bn(cout, cout, 3)
        self.proj = None
        if stride != 1 or cin != cout:
            self.proj = nn.Sequential(*conv_bn(cin, cout, 1, stride))

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        s = x if self.proj is None else self.proj(x)
        return F.relu(y + s)


class ResNetTiny(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(*conv_bn(3, 16, 3), nn.ReLU())
        self.layer1 = BasicBlock(16, 16, 1)
        self.layer2 = BasicBlock(16, 32, 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, classes)

    def forward(self, x):
        x = self.layer2(self.layer1(self.stem(x)))
        x = self.pool(x)
        x = x.view(x.size(0), -1)  # on purpose: Shape→Gather→Unsqueeze→Concat→Reshape
        return self.fc(x)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, depthwise 3x3, 1x1 linear project."""

    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hid = cin * expand
        self.use_res = stride == 1 and cin == cout
        self.body = nn.Sequential(
            *conv_bn(cin, hid, 1), nn.ReLU6(),
            *conv_bn(hid, hid, 3, stride, groups=hid), nn.ReLU6(),
            *conv_bn(hid, cout, 1))

    def forward(self, x):
        y = self.body(x)
        return x + y if self.use_res else y


class MobileNetV2Tiny(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            *conv_bn(3, 16, 3, 2), nn.ReLU6(),
            InvertedResidual(16, 16, 1, 1),
            InvertedResidual(16, 24, 2, 4),
            InvertedResidual(24, 24, 1, 4),
            InvertedResidual(24, 32, 2, 4),
            InvertedResidual(32, 32, 1, 4),
            *conv_bn(32, 128, 1), nn.ReLU6())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(128, classes)

    def forward(self, x):
        x = self.pool(self.features(x))
        return self.fc(torch.flatten(x, 1))


class LayerNorm2d(nn.Module):
    """LayerNorm over channels of an NCHW tensor: permute→nn.LayerNorm→permute."""

    def __init__(self, c):
        super().__init__()
        self.ln = nn.LayerNorm(c, eps=1e-6)

    def forward(self, x):
        return self.ln(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    """dw 7x7 → LN → Linear 4x → GELU → Linear → layer scale → residual."""

    def __init__(self, c):
        super().__init__()
        self.dw = nn.Conv2d(c, c, 7, padding=3, groups=c)
        self.ln = nn.LayerNorm(c, eps=1e-6)
        self.pw1 = nn.Linear(c, 4 * c)
        self.pw2 = nn.Linear(4 * c, c)
        self.gamma = nn.Parameter(torch.ones(c))

    def forward(self, x):
        y = self.dw(x).permute(0, 2, 3, 1)
        y = self.pw2(F.gelu(self.pw1(self.ln(y))))
        y = (self.gamma * y).permute(0, 3, 1, 2)
        return x + y


class ConvNeXtTinyStyle(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 24, 2, 2), LayerNorm2d(24))
        self.stage1 = ConvNeXtBlock(24)
        self.down = nn.Sequential(LayerNorm2d(24), nn.Conv2d(24, 48, 2, 2))
        self.stage2 = ConvNeXtBlock(48)
        self.head_ln = nn.LayerNorm(48, eps=1e-6)
        self.fc = nn.Linear(48, classes)

    def forward(self, x):
        x = self.stage2(self.down(self.stage1(self.stem(x))))
        x = x.mean([-2, -1])
        return self.fc(self.head_ln(x))


class SqueezeExcite(nn.Module):
    def __init__(self, c, r, act, gate):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(c, r, 1)
        self.act = act
        self.expand = nn.Conv2d(r, c, 1)
        self.gate = gate

    def forward(self, x):
        s = self.gate(self.expand(self.act(self.reduce(self.pool(x)))))
        return x * s


class FusedMBConv(nn.Module):
    """EfficientNetV2 Fused-MBConv: 3x3 expand conv, 1x1 project, residual."""

    def __init__(self, c, expand):
        super().__init__()
        self.body = nn.Sequential(*conv_bn(c, c * expand, 3), nn.SiLU(),
                                  *conv_bn(c * expand, c, 1))

    def forward(self, x):
        return x + self.body(x)


class MBConv(nn.Module):
    """1x1 expand → dw 3x3 → SE → 1x1 project (+ residual when shapes match)."""

    def __init__(self, cin, cout, stride, expand, act, se_act, se_gate):
        super().__init__()
        hid = cin * expand
        self.use_res = stride == 1 and cin == cout
        self.body = nn.Sequential(
            *conv_bn(cin, hid, 1), act(),
            *conv_bn(hid, hid, 3, stride, groups=hid), act(),
            SqueezeExcite(hid, max(4, cin // 4), se_act(), se_gate()),
            *conv_bn(hid, cout, 1))

    def forward(self, x):
        y = self.body(x)
        return x + y if self.use_res else y


class EfficientNetStyle(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            *conv_bn(3, 16, 3, 2), nn.SiLU(),
            FusedMBConv(16, 2),
            MBConv(16, 24, 2, 4, nn.SiLU, nn.SiLU, nn.Sigmoid),
            MBConv(24, 24, 1, 4, nn.SiLU, nn.SiLU, nn.Sigmoid),
            # MobileNetV3-style block: HardSwish body, ReLU + Hardsigmoid SE
            MBConv(24, 32, 2, 3, nn.Hardswish, nn.ReLU, nn.Hardsigmoid),
            *conv_bn(32, 96, 1), nn.Hardswish())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(96, classes)

    def forward(self, x):
        x = self.pool(self.features(x))
        return self.fc(torch.flatten(x, 1))


class ThesisCnnGray(nn.Module):
    """3 × (conv-bn-relu-maxpool) + dense 64 + dense 10 on 1×28×28.
    Also the shape of the bundled model (models/train_bundled.py)."""

    def __init__(self, widths=(16, 32, 64), hidden=64, classes=10):
        super().__init__()
        layers, cin = [], 1
        for w in widths:
            layers += [nn.Conv2d(cin, w, 3, padding=1, bias=False),
                       nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2)]
            cin = w
        self.features = nn.Sequential(*layers)
        self.fc1 = nn.Linear(cin * 3 * 3, hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x):
        x = torch.flatten(self.features(x), 1)
        return self.fc2(F.relu(self.fc1(x)))


# ------------------------------------------------------------ weights

def realistic_(model, gen):
    """Non-trivial BatchNorm statistics/affine params, LayerNorm affine params,
    biases and layer scales, drawn from gen; conv/linear weights keep
    PyTorch's (seeded) init but are rescaled to keep activations O(1)."""
    def u(shape, lo, hi):
        return torch.rand(shape, generator=gen) * (hi - lo) + lo

    def n(shape, std):
        return torch.randn(shape, generator=gen) * std
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(n(c, 0.2))
                m.running_var.copy_(u(c, 0.3, 1.5))
                m.weight.copy_(u(c, 0.6, 1.4))
                m.bias.copy_(n(c, 0.2))
            elif isinstance(m, nn.LayerNorm):
                c = m.normalized_shape
                m.weight.copy_(u(c, 0.6, 1.4))
                m.bias.copy_(n(c, 0.2))
            elif isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(n(m.weight.shape, (2.0 / fan_in) ** 0.5))
                if m.bias is not None:
                    m.bias.copy_(n(m.bias.shape, 0.1))
            elif isinstance(m, ConvNeXtBlock):
                m.gamma.copy_(u(m.gamma.shape, 0.2, 0.8))
        # keep squeeze-and-excitation gates off their flat ends (pre-gate std
        # would otherwise be ~8 and every gate 0 or 1)
        for m in model.modules():
            if isinstance(m, SqueezeExcite):
                m.expand.weight.mul_(0.2)


# ------------------------------------------------------------ export/peers

def ensure_ort():
    mod = os.path.join(PEERS, "node_modules", "onnxruntime-node")
    if not os.path.isdir(mod):
        env = dict(os.environ, ONNXRUNTIME_NODE_INSTALL="skip")
        subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=PEERS,
                       env=env, check=True)


def ort_run(model_path, input_path, threads=1):
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["node", os.path.join(PEERS, "ort_run.js"), model_path,
                        "--in", input_path, "--out", d, "--threads", str(threads)],
                       check=True)
        return np.load(os.path.join(d, "output.npy"))


def export(model, x, path, opset, keep_bn):
    # PyTorch's default eval export folds BatchNorm into the preceding Conv;
    # TrainingMode.PRESERVE on an eval-mode model keeps BatchNormalization
    # nodes (inference form) so minnow's own BN folding gets exercised.
    mode = torch.onnx.TrainingMode.PRESERVE if keep_bn else torch.onnx.TrainingMode.EVAL
    with warnings.catch_warnings():
        # PRESERVE on an eval-mode model exports inference form; the
        # constant-folding warning is about training-mode models only
        warnings.filterwarnings("ignore", message=".*constant folding.*")
        torch.onnx.export(model, x, path, opset_version=opset, training=mode,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                          do_constant_folding=True)
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    return m


def dims_of(value_info):
    return [d.dim_param if d.dim_param else d.dim_value
            for d in value_info.type.tensor_type.shape.dim]


SPECS = [
    # name, constructor, input shape (C,H,W), opset, keep BatchNorm nodes
    ("resnet_tiny", ResNetTiny, (3, 32, 32), 13, True),
    ("mobilenetv2_tiny", MobileNetV2Tiny, (3, 32, 32), 13, False),
    ("convnext_tiny_style_op13", ConvNeXtTinyStyle, (3, 32, 32), 13, False),
    ("convnext_tiny_style_op17", ConvNeXtTinyStyle, (3, 32, 32), 17, False),
    ("efficientnet_style", EfficientNetStyle, (3, 32, 32), 13, False),
    ("thesis_cnn_gray", ThesisCnnGray, (1, 28, 28), 13, True),
]


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    ensure_ort()
    manifest = {"generator": "scripts/gen_peer_models.py",
                "torch": torch.__version__, "onnx": onnx.__version__,
                "onnxruntime_node": json.load(open(os.path.join(
                    PEERS, "node_modules", "onnxruntime-node", "package.json")))["version"],
                "tolerance": TOL, "models": []}
    worst = 0.0
    for name, ctor, chw, opset, keep_bn in SPECS:
        # the two convnext variants share weights: seed by constructor
        seed = 1000 + [s[1] for s in SPECS].index(ctor)
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        model = ctor()
        realistic_(model, gen)
        model.eval()
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((2,) + chw).astype(np.float32)
        with torch.no_grad():
            y_torch = model(torch.from_numpy(x)).numpy()

        onnx_path = os.path.join(OUT, name + ".onnx")
        in_path = os.path.join(OUT, name + ".input.npy")
        m = export(model, torch.from_numpy(x[:1]), onnx_path, opset, keep_bn)
        np.save(in_path, x)
        np.save(os.path.join(OUT, name + ".torch.npy"), y_torch)
        y_ort = ort_run(onnx_path, in_path, threads=1)
        np.save(os.path.join(OUT, name + ".ort.npy"), y_ort)

        diff = float(np.max(np.abs(y_ort - y_torch)))
        size = os.path.getsize(onnx_path)
        ops = collections.Counter(n.op_type for n in m.graph.node)
        nparams = sum(p.numel() for p in model.parameters())
        print("%-26s opset %d  %6d B  %6d params  out |max| %.3f  max|ORT-torch| %.2e"
              % (name, opset, size, nparams, float(np.max(np.abs(y_torch))), diff))
        if y_ort.shape != y_torch.shape or not diff <= TOL:
            sys.exit("%s: ORT and torch disagree (max diff %g > %g)" % (name, diff, TOL))
        if size > MAX_BYTES:
            sys.exit("%s: %d bytes, over the %d byte budget" % (name, size, MAX_BYTES))
        worst = max(worst, diff)
        manifest["models"].append({
            "name": name,
            "model": name + ".onnx",
            "input_file": name + ".input.npy",
            "torch_output_file": name + ".torch.npy",
            "ort_output_file": name + ".ort.npy",
            "opset": opset,
            "batchnorm": "kept" if keep_bn else "fused by exporter",
            "inputs": [{"name": v.name, "shape": dims_of(v), "file_shape": list(x.shape),
                        "dtype": "float32"} for v in m.graph.input],
            "outputs": [{"name": v.name, "shape": dims_of(v), "file_shape": list(y_torch.shape),
                         "dtype": "float32"} for v in m.graph.output],
            "params": nparams,
            "bytes": size,
            "sha256": hashlib.sha256(open(onnx_path, "rb").read()).hexdigest(),
            "ops": dict(sorted(ops.items())),
            "max_abs_output": float(np.max(np.abs(y_torch))),
            "max_abs_diff_ort_torch": diff,
        })
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print("wrote %s: %d files, %d bytes, worst max|ORT-torch| %.2e"
          % (os.path.relpath(OUT, ROOT), len(os.listdir(OUT)), total, worst))


if __name__ == "__main__":
    main()
