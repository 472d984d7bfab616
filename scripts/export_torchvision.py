#!/usr/bin/python3
"""Exports full-size torchvision classifiers with random weights to ONNX for
the runtime benchmark (bench/runtime_bench.sh).

usage: /usr/bin/python3 scripts/export_torchvision.py [-o bench/models]
                                                      [--opset 13] [NAME ...]

Default models: resnet18 resnet50 mobilenet_v2 mobilenet_v3_small
efficientnet_b0 efficientnet_v2_b0 convnext_tiny. efficientnet_v2_b0 is not
in torchvision 0.14: it is built here from torchvision's own Fused-MBConv /
MBConv blocks with the published B0 configuration (the "v2-base" blocks of
the EfficientNetV2 reference implementation at width and depth 1.0: stem 32,
stages r1_k3_s1_e1_o16 fused, r2_k3_s2_e4_o32 fused, r2_k3_s2_e4_o48 fused,
r3_k3_s2_e4_o96 SE, r5_k3_s1_e6_o112 SE, r8_k3_s2_e6_o192 SE, head 1280).
Input 1x3x224x224 float32 named "input", output "logits"; eval mode, so
BatchNorm is a constant affine op that minnow folds. Weights are random
(seeded): latency does not depend on their values. Existing files are kept
unless --force. Needs python3-torch and python3-torchvision (torch 1.13)."""
import argparse
import os
import sys

DEFAULT = ["resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small",
           "efficientnet_b0", "efficientnet_v2_b0", "convnext_tiny"]


def efficientnet_v2_b0():
    """EfficientNetV2-B0 from torchvision's blocks (see the docstring)."""
    from torchvision.models.efficientnet import (EfficientNet,
                                                 FusedMBConvConfig,
                                                 MBConvConfig)
    setting = [
        FusedMBConvConfig(1, 3, 1, 32, 16, 1),
        FusedMBConvConfig(4, 3, 2, 16, 32, 2),
        FusedMBConvConfig(4, 3, 2, 32, 48, 2),
        MBConvConfig(4, 3, 2, 48, 96, 3),
        MBConvConfig(6, 3, 1, 96, 112, 5),
        MBConvConfig(6, 3, 2, 112, 192, 8),
    ]
    return EfficientNet(setting, dropout=0.2, last_channel=1280)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="*", default=DEFAULT)
    ap.add_argument("-o", "--out", default="bench/models")
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    try:
        import torch
        import torchvision
    except ImportError as e:
        sys.exit("export_torchvision: needs python3-torch and "
                 "python3-torchvision (%s)" % e)
    os.makedirs(a.out, exist_ok=True)
    torch.manual_seed(0)
    for name in a.models:
        path = os.path.join(a.out, name + ".onnx")
        if os.path.exists(path) and not a.force:
            print("keep  ", path)
            continue
        ctor = getattr(torchvision.models, name, None)
        if name == "efficientnet_v2_b0":
            ctor = lambda weights=None: efficientnet_v2_b0()
        if ctor is None:
            sys.exit("export_torchvision: torchvision %s has no model %s"
                     % (torchvision.__version__, name))
        model = ctor(weights=None).eval()
        x = torch.randn(1, 3, 224, 224)
        tmp = path + ".tmp"
        with torch.no_grad():
            torch.onnx.export(model, x, tmp, opset_version=a.opset,
                              input_names=["input"], output_names=["logits"],
                              do_constant_folding=True)
        os.replace(tmp, path)
        print("wrote ", path, "(%.1f MB)" % (os.path.getsize(path) / 1e6))


if __name__ == "__main__":
    main()
