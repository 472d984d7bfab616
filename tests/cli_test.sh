#!/bin/sh
# End-to-end tests of the minnow CLI: the contract in docs/cli.md, bad input
# handling (one-line error naming the file, exit 1, nothing written), export
# round trips. Ends with "N passed, M failed".
# usage: tests/cli_test.sh [BUILD]
B=${1:-build}
cd "$(dirname "$0")/.." || exit 2
M=./$B/minnow
MODEL=models/fashion_cnn.onnx
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# expect CODE DESCRIPTION -- command...   (stdout → $T/out, stderr → $T/err)
expect() {
  want=$1; what=$2; shift 3
  "$@" > "$T/out" 2> "$T/err"; got=$?
  if [ "$got" -eq "$want" ]; then ok; else
    bad "$what: exit $got, expected $want"; sed 's/^/    /' "$T/err" | head -5
  fi
}
# the last stderr line must mention a word (file name or cause), be one line
err_names() {
  if grep -q -- "$1" "$T/err" && [ "$(wc -l < "$T/err")" -le 2 ]; then ok; else
    bad "error message should name '$1' on one line: $(head -3 "$T/err")"; fi
}
json_get() { # key → value from a flat JSON object in $T/out
  python3 -c "import json,sys; d=json.load(open('$T/out')); print(d['$1'])"
}

# ---- usage ----
expect 2 "no arguments" -- $M
expect 2 "unknown command" -- $M frobnicate
expect 2 "unknown option" -- $M info $MODEL --bogus
expect 0 "help" -- $M --help

# ---- info ----
expect 0 "info json" -- $M info $MODEL --json
if [ "$(wc -l < "$T/out")" -eq 1 ] && python3 -c "import json; json.load(open('$T/out'))" 2>/dev/null; then ok; else bad "info --json must print one JSON object"; fi
for k in params nonzero_params macs file_bytes arena_bytes nodes inputs outputs layers; do
  python3 -c "import json; d=json.load(open('$T/out')); assert '$k' in d" 2>/dev/null && ok || bad "info --json lacks '$k'"
done
fb=$(json_get file_bytes); sz=$(wc -c < $MODEL); P0=$(json_get params)
[ "$fb" = "$sz" ] && ok || bad "file_bytes $fb != $sz"
python3 -c "
import json; d=json.load(open('$T/out'))
assert d['macs'] == sum(l['macs'] for l in d['layers'])
assert d['params'] == sum(l['params'] for l in d['layers'])
assert d['macs'] > 0 and d['params'] > 0 and d['arena_bytes'] > 0
" && ok || bad "info totals must equal the sum over layers"
expect 0 "info text" -- $M info $MODEL
grep -q "arena bytes" "$T/out" && ok || bad "info text shows the arena"

# ---- run + export round trip ----
python3 - "$T/x.npy" <<'EOF'
import struct, sys, random
random.seed(1)
n = 2 * 1 * 28 * 28
hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 28, 28), }"
hdr += " " * (63 - (10 + len(hdr)) % 64) + "\n"
with open(sys.argv[1], "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode())
    f.write(struct.pack("<%df" % n, *[random.gauss(0, 1) for _ in range(n)]))
EOF
expect 0 "run" -- $M run $MODEL -i "$T/x.npy" -o "$T/o1"
ls "$T/o1"/*.npy > /dev/null 2>&1 && ok || bad "run wrote no .npy"
expect 0 "export onnx" -- $M export $MODEL --format onnx -o "$T/re.onnx"
expect 0 "run re-exported" -- $M run "$T/re.onnx" -i "$T/x.npy" -o "$T/o2"
for f in "$T/o1"/*.npy; do
  cmp -s "$f" "$T/o2/$(basename "$f")" && ok || bad "re-exported model gives different output ($(basename "$f"))"
done
expect 0 "export optimized" -- $M export $MODEL --format onnx --optimize -o "$T/opt.onnx"
expect 0 "run optimized" -- $M run "$T/opt.onnx" -i "$T/x.npy" -o "$T/o3"
python3 - "$T/o1" "$T/o3" <<'EOF' && ok || bad "optimized model output differs by more than 1e-4"
import os, struct, sys
def load(p):
    b = open(p, "rb").read(); hl = struct.unpack("<H", b[8:10])[0]
    d = b[10 + hl:]; return struct.unpack("<%df" % (len(d) // 4), d)
for f in os.listdir(sys.argv[1]):
    a, c = load(os.path.join(sys.argv[1], f)), load(os.path.join(sys.argv[2], f))
    assert len(a) == len(c) and max(abs(x - y) for x, y in zip(a, c)) < 1e-4
EOF
expect 0 "info optimized" -- $M info "$T/opt.onnx" --json
python3 -c "import json; d=json.load(open('$T/out')); assert not any(l['op']=='BatchNormalization' for l in d['layers'])" && ok || bad "optimized model still has BatchNormalization"

# ---- eval ----
expect 0 "eval fashion-mnist" -- $M eval $MODEL --data fashion-mnist:test --limit 1000 --json
python3 -c "import json; d=json.load(open('$T/out')); assert d['samples']==1000 and d['accuracy']>0.8, d" && ok || bad "eval accuracy on 1000 test images should exceed 80%: $(cat "$T/out")"

# ---- bench ----
expect 0 "bench json" -- $M bench $MODEL --runs 5 --warmup 1 --json
python3 -c "import json; d=json.load(open('$T/out')); assert d['p50_ms']>0 and d['cpu_ms']>0 and 0<d['min_ms']<=d['p50_ms'] and d['runs']==5 and d['arena_bytes']>0" && ok || bad "bench json"
# --profile: time per op type and the slowest nodes; the op types are the
# model's, the shares add up to one
expect 0 "bench profile json" -- $M bench $MODEL --runs 5 --warmup 1 --profile --json
python3 -c "
import json; d=json.load(open('$T/out'))['profile']
ops = {r['op'] for r in d['by_op']}
assert 'Conv' in ops and 'Gemm' in ops, ops
assert abs(sum(r['share'] for r in d['by_op']) - 1) < 1e-6 and d['steps_ms'] > 0
assert d['nodes'] and all(r['ms'] >= 0 for r in d['nodes'])
assert [r['ms'] for r in d['nodes']] == sorted((r['ms'] for r in d['nodes']), reverse=True)" \
  && ok || bad "bench profile json"
expect 0 "bench profile text" -- $M bench $MODEL --runs 3 --warmup 0 --profile
grep -q "^slowest nodes" "$T/out" && grep -q "^Conv " "$T/out" && ok || bad "bench profile text"

# ---- bad input: every case exit 1, message names the file/cause ----
expect 1 "missing model" -- $M info "$T/nope.onnx"
err_names nope.onnx
head -c 300 $MODEL > "$T/trunc.onnx"
expect 1 "truncated model" -- $M info "$T/trunc.onnx"
err_names trunc.onnx
head -c 4096 /dev/urandom > "$T/garbage.onnx" 2>/dev/null || dd if=/dev/urandom of="$T/garbage.onnx" bs=4096 count=1 2>/dev/null
expect 1 "garbage model" -- $M info "$T/garbage.onnx"
err_names garbage.onnx
printf 'NOTNUMPY' > "$T/bad.npy"
expect 1 "bad npy" -- $M run $MODEL -i "$T/bad.npy" -o "$T/o4"
err_names bad.npy
python3 - "$T/wrong.npy" <<'EOF'
import struct, sys
hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 28, 28), }"
hdr += " " * (63 - (10 + len(hdr)) % 64) + "\n"
with open(sys.argv[1], "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode())
    f.write(b"\0" * (4 * 3 * 28 * 28))
EOF
expect 1 "input shape mismatch" -- $M run $MODEL -i "$T/wrong.npy" -o "$T/o5"
grep -q "shape\|dim\|channel\|given" "$T/err" && ok || bad "shape mismatch message: $(cat "$T/err")"
[ ! -e "$T/o5" ] || [ -z "$(ls "$T/o5")" ] && ok || bad "failed run left outputs"
printf 'XXXXXXXXXXXXXXXX' > "$T/bad-idx"
expect 1 "bad IDX magic" -- $M eval $MODEL --data "idx:$T/bad-idx,$T/bad-idx"
err_names bad-idx
expect 1 "unknown data spec" -- $M eval $MODEL --data "nonsense:foo"
err_names nonsense
expect 1 "export into a missing directory" -- $M export $MODEL --format onnx -o "$T/no/such/dir/m.onnx"
[ ! -e "$T/no" ] && ok || bad "failed export left files behind"
mkdir -p "$T/exp"
expect 1 "export onto a directory" -- $M export $MODEL --format onnx -o "$T/exp"
[ -z "$(ls -A "$T/exp")" ] && ok || bad "failed export left a temp file: $(ls -A "$T/exp")"

# ---- minnow's own file (.mnw): every command takes it, outputs identical ----
expect 0 "export mnw" -- $M export $MODEL --format mnw -o "$T/m.mnw"
expect 0 "run mnw" -- $M run "$T/m.mnw" -i "$T/x.npy" -o "$T/o6"
for f in "$T/o1"/*.npy; do
  cmp -s "$f" "$T/o6/$(basename "$f")" && ok || bad ".mnw model gives different output ($(basename "$f"))"
done
expect 0 "info mnw" -- $M info "$T/m.mnw" --json
[ "$(json_get params)" = "$P0" ] && ok || bad "info on .mnw: params $(json_get params) != $P0"
cp "$T/m.mnw" "$T/bad.mnw"
printf 'X' | dd of="$T/bad.mnw" bs=1 seek=200 conv=notrunc 2>/dev/null
expect 1 "corrupted mnw" -- $M info "$T/bad.mnw"
err_names bad.mnw

# ---- prune ----
expect 1 "sparsity out of range" -- $M prune $MODEL --sparsity 1.0 -o "$T/p.onnx"
[ ! -e "$T/p.onnx" ] && ok || bad "failed prune wrote a file"
expect 0 "prune magnitude" -- $M prune $MODEL --sparsity 0.5 --method magnitude --scope global -o "$T/p1.onnx"
expect 0 "info pruned" -- $M info "$T/p1.onnx" --json
python3 -c "import json; d=json.load(open('$T/out')); r=d['nonzero_params']/d['params']; assert 0.45<r<0.6, r" && ok || bad "50 % magnitude pruning should leave about half the weights"
expect 0 "prune channel" -- $M prune $MODEL --sparsity 0.5 --method channel --criterion bn -o "$T/p2.onnx"
expect 0 "info channel-pruned" -- $M info "$T/p2.onnx" --json
python3 -c "import json; d=json.load(open('$T/out')); assert d['macs'] < 0.5*7525504 and d['params'] < 167786" && ok || bad "channel pruning must remove MACs and params"
expect 0 "run channel-pruned" -- $M run "$T/p2.onnx" -i "$T/x.npy" -o "$T/o7"
expect 0 "prune random seed 3" -- $M prune $MODEL --sparsity 0.7 --method random --seed 3 -o "$T/r1.onnx"
expect 0 "prune random seed 3 again" -- $M prune $MODEL --sparsity 0.7 --method random --seed 3 -o "$T/r2.onnx"
cmp -s "$T/r1.onnx" "$T/r2.onnx" && ok || bad "same seed must give the same bytes"
# sparse kernels: the choice per layer shows in info, forced both ways
expect 0 "prune magnitude 90 %" -- $M prune $MODEL --sparsity 0.9 --method magnitude -o "$T/p9.onnx"
for mode in sparse dense; do
  expect 0 "info MINNOW_SPARSE=$mode" -- env MINNOW_SPARSE=$mode $M info "$T/p9.onnx" --json
  python3 -c "import json; d=json.load(open('$T/out')); k=[l.get('kernel') for l in d['layers'] if l['op'] in ('Conv','Gemm')]; assert len(k)==5 and all(x=='$mode' for x in k), k" && ok || bad "MINNOW_SPARSE=$mode must run every Conv/Gemm $mode"
  expect 0 "run MINNOW_SPARSE=$mode" -- env MINNOW_SPARSE=$mode $M run "$T/p9.onnx" -i "$T/x.npy" -o "$T/o9$mode"
done
expect 0 "info kernel column" -- $M info "$T/p9.onnx"
grep -q "kernel" "$T/out" && ok || bad "info text must show the kernel column"

# ---- export --format c (compile-and-compare checks: tests/c_export_test.sh) ----
expect 0 "export c" -- $M export $MODEL --format c -o "$T/cexp" --json
[ -f "$T/cexp/fashion_cnn.c" ] && [ -f "$T/cexp/fashion_cnn.h" ] && ok || bad "export c should write fashion_cnn.c/.h"
[ "$(wc -l < "$T/out")" -eq 1 ] && python3 -c "
import json; d=json.load(open('$T/out')); assert d['arena_bytes'] > 0 and d['steps'] == 8, d" \
  && ok || bad "export c --json: $(cat "$T/out")"
expect 0 "quantize dynamic for export c" -- $M quantize $MODEL --mode dynamic -o "$T/dyn.onnx"
expect 1 "export c of an unsupported op" -- $M export "$T/dyn.onnx" --format c -o "$T/cbad"
err_names "C export"
[ ! -e "$T/cbad" ] && ok || bad "failed C export left $T/cbad behind"
expect 2 "export unknown format" -- $M export $MODEL --format cpp -o "$T/x.cpp"

# ---- train: bad input and divergence (exit 1, message names the cause, ----
# ---- no model written, the last good checkpoint kept) ----
TRB="$M train --batch 8 --threads 1"
TR="$TRB --arch thesis-cnn --epochs 1"
TR2="$TRB --arch thesis-cnn --epochs 2"
expect 1 "train unknown data spec" -- $TR --data nosuchset -o "$T/t0.onnx"
err_names nosuchset
[ ! -e "$T/t0.onnx" ] && [ ! -e "$T/t0.onnx.ckpt" ] && ok || bad "train with a bad data spec wrote files"
# a tiny IDX data set (gzip'd): 32 images, labels i % 10; bad.lbl has a 12
python3 - "$T" <<'PYEOF'
import gzip, os, random, struct, sys
d = sys.argv[1]; os.makedirs(d + "/fm", exist_ok=True); random.seed(2)
n = 32
img = struct.pack(">IIII", 0x803, n, 28, 28) + bytes(random.randrange(256) for _ in range(n * 784))
lab = [i % 10 for i in range(n)]
badl = list(lab); badl[5] = 12
def w(p, b): open(p, "wb").write(gzip.compress(b))
w(d + "/img.gz", img)
w(d + "/lbl.gz", struct.pack(">II", 0x801, n) + bytes(lab))
w(d + "/bad.lbl.gz", struct.pack(">II", 0x801, n) + bytes(badl))
for split in ("train", "t10k"):
    w("%s/fm/%s-images-idx3-ubyte.gz" % (d, split), img)
    w("%s/fm/%s-labels-idx1-ubyte.gz" % (d, split), struct.pack(">II", 0x801, n) + bytes(badl))
PYEOF
GOOD="idx:$T/img.gz,$T/lbl.gz"
expect 1 "train on fashion-mnist files with a label >= 10" -- env MINNOW_DATA_DIR="$T/fm" $TR --data fashion-mnist -o "$T/t1.onnx"
err_names train-labels-idx1-ubyte
grep -q "label 12 of sample 5" "$T/err" && ok || bad "label error must name the label and sample: $(cat "$T/err")"
[ ! -e "$T/t1.onnx" ] && [ ! -e "$T/t1.onnx.ckpt" ] && ok || bad "train with bad labels wrote files"
expect 1 "train --init (10 classes) on a label 12" -- $M train --init $MODEL --data "idx:$T/img.gz,$T/bad.lbl.gz" --epochs 1 --batch 8 -o "$T/t2.onnx"
err_names bad.lbl.gz
grep -q "label 12 of sample 5 is out of range" "$T/err" && ok || bad "label error must name the label and sample: $(cat "$T/err")"
[ ! -e "$T/t2.onnx" ] && [ ! -e "$T/t2.onnx.ckpt" ] && ok || bad "train with bad labels wrote files"
expect 1 "train with test labels beyond the training classes" -- $TR --data "$GOOD" --test-data "idx:$T/img.gz,$T/bad.lbl.gz" -o "$T/t3.onnx"
err_names bad.lbl.gz
[ ! -e "$T/t3.onnx" ] && ok || bad "train with bad test labels wrote a model"
# one good epoch with a checkpoint, then a second epoch at lr 100 diverges
CK="$T/good.ckpt"
expect 0 "train one good epoch" -- $TR --data "$GOOD" --checkpoint "$CK" -o "$T/good.onnx"
cp "$CK" "$T/good.ckpt.bak"
expect 1 "train diverging at lr 100" -- $TR2 --data "$GOOD" --lr 100 --schedule constant --resume --checkpoint "$CK" -o "$T/nan.onnx"
err_names "epoch 2, batch"
grep -q "not finite" "$T/err" && ok || bad "divergence message: $(cat "$T/err")"
[ ! -e "$T/nan.onnx" ] && ok || bad "a diverged run wrote a model"
cmp -s "$CK" "$T/good.ckpt.bak" && ok || bad "a diverged run overwrote the last good checkpoint"
# --resume without a checkpoint yet: says so and trains from the start
expect 0 "resume with no checkpoint yet" -- $TR --data "$GOOD" --resume --checkpoint "$T/none.ckpt" -o "$T/fresh.onnx"
grep -q "no checkpoint at .*none.ckpt yet" "$T/err" && ok || bad "resume without a checkpoint must say so: $(cat "$T/err")"
[ -e "$T/fresh.onnx" ] && [ -e "$T/none.ckpt" ] && ok || bad "a fresh --resume run must write the model and its checkpoint"
expect 2 "resume with --no-checkpoint" -- $TR --data "$GOOD" --resume --no-checkpoint -o "$T/nock.onnx"
[ ! -e "$T/nock.onnx" ] && ok || bad "--resume --no-checkpoint wrote a model"
# --resume from a checkpoint that does not fit or is damaged
expect 1 "resume another architecture's checkpoint" -- $TRB --arch resnet8 --epochs 2 --data "$GOOD" --resume --checkpoint "$CK" -o "$T/r8.onnx"
err_names "different model"
[ ! -e "$T/r8.onnx" ] && ok || bad "a failed resume wrote a model"
head -c 2000 "$CK" > "$T/trunc.ckpt"
head -c 4096 /dev/urandom > "$T/junk.ckpt"
python3 - "$CK" "$T/nanw.ckpt" "$T/tail.ckpt" <<'PYEOF'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
open(sys.argv[3], "wb").write(bytes(b) + b"x")
b[64:68] = b"\xff\xff\xff\x7f"  # the first weight after the 64-byte header: NaN
open(sys.argv[2], "wb").write(b)
PYEOF
for c in "trunc.ckpt:truncated" "junk.ckpt:not a minnow checkpoint" "nanw.ckpt:not finite" "tail.ckpt:trailing"; do
  f=${c%%:*}; why=${c#*:}
  expect 1 "resume from $f" -- $TR2 --data "$GOOD" --resume --checkpoint "$T/$f" -o "$T/rs.onnx"
  err_names "$f"
  grep -q "$why" "$T/err" && ok || bad "resume from $f: expected '$why': $(cat "$T/err")"
  [ ! -e "$T/rs.onnx" ] && ok || bad "a failed resume from $f wrote a model"
done

# ---- knowledge distillation (train --teacher, prune --distill) ----
expect 0 "train with a teacher" -- $TR --data "$GOOD" --teacher $MODEL --no-checkpoint --json -o "$T/kd.onnx"
grep -q '"distill":{"teacher":"models/fashion_cnn.onnx","alpha":0.7' "$T/out" && ok || bad "train --json distill block: $(cat "$T/out")"
expect 1 "train with a missing teacher" -- $TR --data "$GOOD" --teacher "$T/nosuch.onnx" --no-checkpoint -o "$T/kd2.onnx"
err_names nosuch.onnx
[ ! -e "$T/kd2.onnx" ] && ok || bad "train with a missing teacher wrote a model"
expect 2 "prune --distill without fine-tuning" -- $M prune $MODEL --sparsity 0.5 --distill -o "$T/pkd0.onnx"
[ ! -e "$T/pkd0.onnx" ] && ok || bad "prune --distill without fine-tuning wrote a file"
expect 0 "prune with distillation from the unpruned model" -- $M prune $MODEL --sparsity 0.5 --finetune-epochs 1 --data "$GOOD" --batch 8 --distill --distill-alpha 0.5 --json -o "$T/pkd.onnx"
grep -q '"distill":{"teacher":"models/fashion_cnn.onnx","alpha":0.5,"temperature":4}' "$T/out" && ok || bad "prune --json distill block: $(cat "$T/out")"
grep -q '"sparsity":0.5' "$T/out" && ok || bad "prune --distill lost the sparsity: $(cat "$T/out")"

# ---- prune --method oto: group-sparse training, then removal of the zero groups ----
OTO="$M prune $MODEL --method oto --data $GOOD --batch 8 --oto-epochs 2"
expect 0 "prune oto" -- $OTO --sparsity 0.5 --seed 4 --json -o "$T/oto1.onnx"
python3 -c "
import json; d=json.load(open('$T/out')); o=d['oto']
assert d['method'] == 'oto' and d['criterion'] == 'l1' and d['finetune'] is None, d
assert o['epochs'] == 2 and o['groups'] == d['channels'] == 288, o
assert o['groups_selected'] == 144 and o['groups_zero'] >= 144, o
assert o['groups_zeroed_by_step'] + o['groups_zeroed_by_bound'] == 144, o
assert d['channels_removed'] == o['groups_zero'], d
assert d['macs_after'] < 0.5 * d['macs_before'] and d['params_after'] < d['params_before'], d
assert d['output_bytes'] < d['input_bytes'], d
" && ok || bad "prune oto --json: $(head -c 600 "$T/out")"
expect 0 "info oto-pruned" -- $M info "$T/oto1.onnx" --json
python3 -c "import json; d=json.load(open('$T/out')); assert d['macs'] < 0.5*7525504 and d['params'] < 167786" && ok || bad "oto must remove MACs and params"
expect 0 "run oto-pruned" -- $M run "$T/oto1.onnx" -i "$T/x.npy" -o "$T/o_oto"
expect 0 "prune oto again, same seed" -- $OTO --sparsity 0.5 --seed 4 -o "$T/oto2.onnx"
cmp -s "$T/oto1.onnx" "$T/oto2.onnx" && ok || bad "oto: the same seed must give the same bytes"
expect 0 "prune oto, MAC target, fine-tuned" -- $OTO --target-macs 0.6 --criterion bn --oto-lambda 0 --finetune-epochs 1 --json -o "$T/oto3.onnx"
python3 -c "
import json; d=json.load(open('$T/out'))
assert d['target_reached'] and d['macs_after'] <= 0.6 * d['macs_before'], d
assert d['oto']['lambda'] == 0 and d['finetune']['epochs'] == 1, d
" && ok || bad "prune oto --target-macs: $(head -c 600 "$T/out")"
expect 1 "oto sparsity out of range" -- $OTO --sparsity 1.5 -o "$T/oto_bad1.onnx"
err_names "outside"
[ ! -e "$T/oto_bad1.onnx" ] && ok || bad "oto with a bad sparsity wrote a file"
expect 2 "oto without data" -- $M prune $MODEL --method oto --sparsity 0.5 --oto-epochs 1 -o "$T/oto_bad2.onnx"
grep -q -- "--data" "$T/err" && ok || bad "oto without data should say --data: $(cat "$T/err")"
[ ! -e "$T/oto_bad2.onnx" ] && ok || bad "oto without data wrote a file"
expect 2 "oto without --oto-epochs" -- $M prune $MODEL --method oto --sparsity 0.5 --data "$GOOD" -o "$T/oto_bad3.onnx"
grep -q -- "--oto-epochs" "$T/err" && ok || bad "oto without epochs should name --oto-epochs: $(cat "$T/err")"
[ ! -e "$T/oto_bad3.onnx" ] && ok || bad "oto without epochs wrote a file"
expect 2 "oto without a target" -- $OTO -o "$T/oto_bad4.onnx"
[ ! -e "$T/oto_bad4.onnx" ] && ok || bad "oto without a target wrote a file"
expect 2 "--oto-lambda without oto" -- $M prune $MODEL --sparsity 0.5 --oto-lambda 1 -o "$T/oto_bad5.onnx"
[ ! -e "$T/oto_bad5.onnx" ] && ok || bad "--oto-lambda without oto wrote a file"
expect 1 "oto on an unknown data spec" -- $M prune $MODEL --method oto --sparsity 0.5 --oto-epochs 1 --data nosuchset -o "$T/oto_bad6.onnx"
err_names nosuchset
[ ! -e "$T/oto_bad6.onnx" ] && ok || bad "oto on a bad data spec wrote a file"

# ---- conformance runner itself ----
D=/usr/share/libonnx-testdata/data/node
expect 0 "conformance relu" -- $M conformance $D/test_relu
grep -q "^1 passed, 0 failed" "$T/out" && ok || bad "conformance summary line"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
