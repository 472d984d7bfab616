#!/bin/sh
# Runs the ONNX backend tests from Debian's libonnx-testdata. Every test in
# tests/conformance/expected_pass.txt must pass (a skip counts as a failure);
# the others run too and report PASS/SKIP with the reason.
B=${1:-build}
D=${ONNX_TESTDATA:-/usr/share/libonnx-testdata/data}
cd "$(dirname "$0")/.." || exit 2
if [ ! -d "$D/node" ]; then
  echo "libonnx-testdata not found at $D (scripts/deps.sh test installs it)"
  echo "0 passed, 1 failed"
  exit 1
fi
exec "$B/minnow" conformance --expect tests/conformance/expected_pass.txt \
  "$D"/node/test_* "$D"/pytorch-converted/test_* "$D"/pytorch-operator/test_* \
  "$D"/simple/test_*
