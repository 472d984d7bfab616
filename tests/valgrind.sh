#!/bin/sh
# valgrind (memcheck, leak check) over the parsers, the IR and the CLI on the
# bundled model: the code that handles untrusted bytes and owns memory.
# The full suite runs under ASan+UBSan already; this catches what they miss
# (uninitialised reads). Ends with "N passed, M failed".
B=${1:-build}
cd "$(dirname "$0")/.." || exit 2
command -v valgrind > /dev/null || { echo "valgrind missing"; echo "0 passed, 1 failed"; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
VG="valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite"
pass=0; fail=0
check() { # description, command...
  what=$1; shift
  if "$@" > "$T/out" 2> "$T/err"; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAIL (valgrind): $what"; head -20 "$T/err"; fi
}
for f in onnx npy graph planner session passes_conv stats; do
  check "unit tests '$f'" $VG "$B/minnow_tests" "$f"
done
M=models/fashion_cnn.onnx
check "info" $VG "$B/minnow" info $M --json
check "run" $VG "$B/minnow" run $M -i tests/data/peers/thesis_cnn_gray.input.npy -o "$T/o"
check "eval" $VG "$B/minnow" eval $M --data fashion-mnist:test --limit 200
check "export" $VG "$B/minnow" export $M --format onnx --optimize -o "$T/m.onnx"
head -c 5000 $M > "$T/trunc.onnx"
check "truncated model is refused cleanly" sh -c "$VG --error-exitcode=9 '$B/minnow' info '$T/trunc.onnx'; test \$? -eq 1"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
