#!/bin/sh
# End-to-end tests of `minnow export --format c` (docs/c-export.md): every
# model is exported, compiled with -std=c99 -Wall -Wextra -Werror -O2
# together with a driver written here, run on several inputs and compared
# with `minnow run`: float32 models within 1e-4·max(1, max|y|) (the C
# kernels sum in another order), integer models bit for bit. Also: sparse
# storage for pruned models, the libm symbols the code needs, a 32-bit
# compile when the compiler can, and the failure path (unsupported op →
# exit 1 naming the node, nothing written). Ends with "N passed, M failed".
# usage: tests/c_export_test.sh [BUILD]   (MINNOW=path, CC=compiler override)
B=${1:-build}
cd "$(dirname "$0")/.." || exit 2
M=${MINNOW:-./$B/minnow}
CC=${CC:-cc}
CFLAGS="-std=c99 -Wall -Wextra -Werror -O2"
MODEL=models/fashion_cnn.onnx
P=tests/data/peers
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
expect() {
  want=$1; what=$2; shift 3
  "$@" > "$T/out" 2> "$T/err"; got=$?
  if [ "$got" -eq "$want" ]; then ok; else
    bad "$what: exit $got, expected $want"; sed 's/^/    /' "$T/err" | head -5
  fi
}

# helper: inputs as .npy and one raw file; comparison of outputs
cat > "$T/h.py" <<'PY'
import json, random, re, struct, sys
def shape_of(header, what):
    m = re.search(r"_%s_SHAPE \{([0-9, ]*)\}" % what, open(header).read())
    return [int(v) for v in m.group(1).split(",") if v.strip()]
def write_npy(path, shape, vals):
    hd = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % (
        "".join("%d, " % d for d in shape))
    hd += " " * (63 - (len(hd) + 10) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hd)) + hd.encode())
        f.write(struct.pack("<%df" % len(vals), *vals))
def read_npy(path):
    b = open(path, "rb").read()
    hl = struct.unpack("<H", b[8:10])[0]
    hd = b[10:10 + hl].decode()
    assert "'<f4'" in hd, hd
    n = (len(b) - 10 - hl) // 4
    return list(struct.unpack("<%df" % n, b[10 + hl:]))
cmd = sys.argv[1]
if cmd == "inputs":  # header dir count seed [peer.npy]
    header, d, count, seed = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    shape = shape_of(header, "INPUT")
    n = 1
    for v in shape: n *= v
    pool = read_npy(sys.argv[6]) if len(sys.argv) > 6 else []
    rng = random.Random(seed)
    raw = open(d + "/x.raw", "wb")
    for i in range(count):
        if (i + 1) * n <= len(pool):
            x = pool[i * n:(i + 1) * n]
        else:
            x = [rng.gauss(0.0, 1.0) for _ in range(n)]
        write_npy("%s/x%d.npy" % (d, i), shape, x)
        raw.write(struct.pack("<%df" % n, *x))
elif cmd == "compare":  # dir count outname exact
    d, count, name, exact = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5] == "1"
    raw = open(d + "/y.raw", "rb").read()
    got = list(struct.unpack("<%df" % (len(raw) // 4), raw))
    ref = []
    for i in range(count):
        ref += read_npy("%s/r%d/%s.npy" % (d, i, name))
    assert len(ref) == len(got), (len(ref), len(got))
    top = max(1.0, max(abs(v) for v in ref))
    err = max(abs(a - b) for a, b in zip(got, ref))
    same = sum(struct.pack("<f", a) == struct.pack("<f", b) for a, b in zip(got, ref))
    print("max_abs_err %.3g (scale %.3g), %d/%d bitwise equal" % (err, top, same, len(ref)))
    sys.exit(0 if (same == len(ref) if exact else err <= 1e-4 * top) else 1)
PY

GCCINC=$($CC -print-file-name=include)
mkdir -p "$T/stub"
printf '#include <stddef.h>\nvoid *memcpy(void *, const void *, size_t);\nvoid *memset(void *, int, size_t);\n' > "$T/stub/string.h"
printf 'float expf(float);\nfloat tanhf(float);\nfloat powf(float, float);\nfloat sqrtf(float);\nfloat erff(float);\n#define HUGE_VALF __builtin_huge_valf()\n#define NAN __builtin_nanf("")\n' > "$T/stub/math.h"

# check_model LABEL MODEL.onnx EXACT(0|1) COUNT [PEER_INPUT.npy] [export flags]
check_model() {
  label=$1; model=$2; exact=$3; count=$4; peer=$5; shift 5
  d="$T/$label"
  expect 0 "$label: export" -- $M export "$model" --format c -o "$d" --name "$label" --json "$@"
  cp "$T/out" "$T/$label.json"
  [ -f "$d/$label.c" ] && [ -f "$d/$label.h" ] || { bad "$label: files missing"; return; }
  up=$(echo "$label" | tr a-z A-Z)
  sed -e "s/@L@/$label/g" -e "s/@U@/$up/g" > "$d/drv.c" <<'DRV'
#include <stdio.h>
#include "@L@.h"
int main(int argc, char **argv)
{
    static @U@_INPUT_TYPE x[@U@_INPUT_SIZE];
    static @U@_OUTPUT_TYPE y[@U@_OUTPUT_SIZE];
    FILE *fi = argc > 2 ? fopen(argv[1], "rb") : NULL;
    FILE *fo = argc > 2 ? fopen(argv[2], "wb") : NULL;
    if (!fi || !fo)
        return 2;
    while (fread(x, sizeof x[0], @U@_INPUT_SIZE, fi) == @U@_INPUT_SIZE) {
        if (@L@_run(x, y) != 0)
            return 3;
        fwrite(y, sizeof y[0], @U@_OUTPUT_SIZE, fo);
    }
    fclose(fi);
    return fclose(fo) != 0;
}
DRV
  expect 0 "$label: compile" -- $CC $CFLAGS -I"$d" -o "$d/drv" "$d/drv.c" "$d/$label.c" -lm
  expect 0 "$label: compile object" -- $CC $CFLAGS -c -o "$d/m.o" "$d/$label.c"
  # the only external symbols: memcpy/memset and single-precision libm calls
  und=$(nm -u "$d/m.o" | awk '{print $2}' | grep -v -E '^(memcpy|memset|expf|tanhf|powf|sqrtf|erff)$' | tr '\n' ' ')
  [ -z "$und" ] && ok || bad "$label: unexpected external symbols: $und"
  echo "$label libm: $(nm -u "$d/m.o" | awk '{print $2}' | grep -v -E '^mem' | tr '\n' ' ')" >> "$T/report"
  echo "$label size: $(size -A "$d/m.o" | awk '$1 ~ /^\.(text|rodata|data|bss)$/ {printf "%s %s ", $1, $2}')" >> "$T/report"
  # 32-bit (long is 32 bits): freestanding, the two libc headers it needs
  # stubbed, since this machine has no 32-bit libc; compile only
  if $CC -m32 -ffreestanding -nostdinc -isystem "$GCCINC" -I"$T/stub" -fsyntax-only \
       -x c /dev/null 2>/dev/null; then
    expect 0 "$label: -m32 compile" -- $CC $CFLAGS -m32 -ffreestanding -nostdinc \
      -isystem "$GCCINC" -I"$T/stub" -I"$d" -c -o "$d/m32.o" "$d/$label.c"
    echo "$label size -m32: $(size -A "$d/m32.o" | awk '$1 ~ /^\.(text|rodata|data|bss)$/ {printf "%s %s ", $1, $2}')" >> "$T/report"
  else
    echo "$label: -m32 not available with $CC (skipped)" >> "$T/report"
  fi
  /usr/bin/python3 "$T/h.py" inputs "$d/$label.h" "$d" "$count" 7 $peer || { bad "$label: inputs"; return; }
  i=0
  while [ $i -lt "$count" ]; do
    $M run "$model" -i "$d/x$i.npy" -o "$d/r$i" > /dev/null 2> "$T/err" || bad "$label: minnow run $i: $(head -1 "$T/err")"
    i=$((i + 1))
  done
  expect 0 "$label: run generated code" -- "$d/drv" "$d/x.raw" "$d/y.raw"
  oname=$(sed -n 's/.*_OUTPUT_NAME "\(.*\)"/\1/p' "$d/$label.h")
  if /usr/bin/python3 "$T/h.py" compare "$d" "$count" "$oname" "$exact" > "$T/cmp"; then ok; else
    bad "$label: generated code disagrees with minnow run: $(cat "$T/cmp")"; fi
  echo "$label agreement: $(cat "$T/cmp"); $(cat "$T/$label.json")" >> "$T/report"
}

# ---- float32: the bundled model and the peer models ----
check_model fashion $MODEL 0 4 ""
for f in resnet_tiny mobilenetv2_tiny efficientnet_style thesis_cnn_gray \
         convnext_tiny_style_op13 convnext_tiny_style_op17; do
  check_model "$f" "$P/$f.onnx" 0 3 "$P/$f.input.npy"
done

# ---- int8 (integer operators): bit for bit ----
expect 0 "quantize int8" -- $M quantize $MODEL --mode int8 --calib fashion-mnist:train \
  --calib-count 128 -o "$T/q8.onnx"
check_model fashion_q8 "$T/q8.onnx" 1 12 ""
expect 0 "quantize int8 resnet" -- $M quantize "$P/resnet_tiny.onnx" --mode int8 \
  --calib "npy:$P/resnet_tiny.input.npy" -o "$T/rq8.onnx"
# The int8 ResNet and MobileNetV2 are integer-only: their residual Adds and
# pooling are ONNX Runtime's QLinearAdd / QLinearGlobalAveragePool, which
# the C backend generates in the same fixed point: bit for bit.
check_model resnet_q8 "$T/rq8.onnx" 1 3 "$P/resnet_tiny.input.npy"
grep -q "qadd(" "$T/resnet_q8/resnet_q8.c" && grep -q "qgap(" "$T/resnet_q8/resnet_q8.c" \
  && ok || bad "the int8 ResNet's C should call qadd and qgap"
expect 0 "quantize int8 mobilenetv2" -- $M quantize "$P/mobilenetv2_tiny.onnx" --mode int8 \
  --calib "npy:$P/mobilenetv2_tiny.input.npy" -o "$T/mq8.onnx"
check_model mobilenetv2_q8 "$T/mq8.onnx" 1 3 "$P/mobilenetv2_tiny.input.npy"
# The int8 EfficientNet's SiLU tables (Cast + Gather) run fused into their
# QLinearConv as an in-place table pass, its squeeze-excite gate is
# QLinearSigmoid (a table) and QLinearMul with one value per channel: the
# C backend generates all of them, bit for bit.
expect 0 "quantize int8 efficientnet" -- $M quantize "$P/efficientnet_style.onnx" --mode int8 \
  --calib "npy:$P/efficientnet_style.input.npy" -o "$T/eq8.onnx"
check_model efficientnet_q8 "$T/eq8.onnx" 1 3 "$P/efficientnet_style.input.npy"
grep -q "lut8(" "$T/efficientnet_q8/efficientnet_q8.c" && grep -q "qmul(" "$T/efficientnet_q8/efficientnet_q8.c" \
  && ok || bad "the int8 EfficientNet's C should call lut8 and qmul"
# An op the C backend does not have (Exp, from the ONNX backend tests) is
# refused, naming the node; nothing written.
EXPM=${ONNX_TESTDATA:-/usr/share/libonnx-testdata/data}/node/test_exp/model.onnx
expect 1 "C export of Exp refused" -- $M export "$EXPM" --format c -o "$T/exp_c"
grep -q "node .* (Exp): C export" "$T/err" && ok || bad "refusal should name the Exp node"
[ ! -e "$T/exp_c" ] && ok || bad "refused C export left $T/exp_c behind"

# ---- pruned models: weights stored as bitmask + non-zeros ----
expect 0 "prune 80%" -- $M prune $MODEL --sparsity 0.8 --method magnitude -o "$T/p80.onnx"
check_model fashion_p80 "$T/p80.onnx" 0 3 ""
python3 -c "import json; d=json.load(open('$T/fashion_p80.json')); assert d['sparse_tensors'] >= 3, d" \
  && ok || bad "80 % pruned model should store its weights sparse"
python3 -c "
import json; a=json.load(open('$T/fashion.json')); b=json.load(open('$T/fashion_p80.json'))
assert b['weight_bytes'] < 0.45 * a['weight_bytes'], (a, b)" && ok || bad "sparse constants should be < 45 % of dense"
expect 0 "prune 2:4" -- $M prune $MODEL --sparsity 0.5 --method nm -o "$T/nm.onnx"
check_model fashion_nm "$T/nm.onnx" 0 2 ""
expect 0 "quantize pruned int8" -- $M quantize "$T/p80.onnx" --mode int8 --calib fashion-mnist:train \
  --calib-count 128 -o "$T/p80q8.onnx"
check_model fashion_p80q8 "$T/p80q8.onnx" 1 8 ""
python3 -c "import json; d=json.load(open('$T/fashion_p80q8.json')); assert d['sparse_tensors'] >= 3, d" \
  && ok || bad "pruned int8 model should store its weights sparse"
check_model fashion_dense "$T/p80.onnx" 0 1 "" --dense
python3 -c "import json; d=json.load(open('$T/fashion_dense.json')); assert d['sparse_tensors'] == 0, d" \
  && ok || bad "--dense must turn sparse storage off"

# ---- the arena is minnow's plan without GEMM scratch: never larger ----
expect 0 "info" -- $M info $MODEL --json
python3 -c "
import json; a=json.load(open('$T/out'))['arena_bytes']; b=json.load(open('$T/fashion.json'))['arena_bytes']
assert 0 < b <= a, (a, b)" && ok || bad "C arena larger than minnow's"

# ---- failure: unsupported op → exit 1 naming the node, nothing written ----
# (dynamic quantization: DynamicQuantizeLinear, ConvInteger, MatMulInteger)
expect 0 "quantize dynamic" -- $M quantize $MODEL --mode dynamic -o "$T/dyn.onnx"
expect 1 "unsupported op" -- $M export "$T/dyn.onnx" --format c -o "$T/neg"
grep -q "node '.*'.*DynamicQuantizeLinear.*C export" "$T/err" && [ "$(wc -l < "$T/err")" -le 2 ] && ok \
  || bad "message should name the node on one line: $(head -2 "$T/err")"
[ ! -e "$T/neg" ] && ok || bad "failed export left $T/neg behind"
mkdir "$T/neg2"
expect 1 "unsupported op into a directory" -- $M export "$T/dyn.onnx" --format c -o "$T/neg2/m.c"
[ -z "$(ls -A "$T/neg2")" ] && ok || bad "failed export left files: $(ls -A "$T/neg2")"
expect 1 "missing output directory parent" -- $M export $MODEL --format c -o "$T/no/such/m.c"
[ ! -e "$T/no" ] && ok || bad "failed export created $T/no"
expect 0 "export to NAME.c" -- $M export $MODEL --format c -o "$T/net.c"
[ -f "$T/net.c" ] && [ -f "$T/net.h" ] && grep -q "int net_run(const float \*input, float \*output);" "$T/net.h" \
  && ok || bad "-o NAME.c should write NAME.c and NAME.h with NAME_run"

cat "$T/report"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
