#!/bin/sh
# The whole test suite (make test): build, unit + CLI + conformance tests,
# the unit tests built with clang (its FP contraction and warnings differ
# from gcc's), valgrind over the parsers and the CLI, the tests again under ASan+UBSan,
# and a bounded fuzz run. Ends with one line
# "N passed, M failed" summing every stage.
# usage: tests/ci.sh [FUZZ_SECONDS]
secs=${1:-20}
cd "$(dirname "$0")/.." || exit 2
jobs=$(nproc 2>/dev/null || echo 2)
P=0; F=0
stage() { # name, log: add the stage's closing "N passed, M failed"
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$2" | tail -1)
  if [ -z "$line" ]; then
    echo "== $1: no result line"; F=$((F + 1)); return
  fi
  p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
  P=$((P + p)); F=$((F + f))
  echo "== $1: $line"
}
L=$(mktemp -d)
trap 'rm -rf "$L"' EXIT

echo "== build (gcc, -O2)"
make -j"$jobs" all build/minnow_tests > "$L/build" 2>&1 || { tail -30 "$L/build"; echo "0 passed, 1 failed"; exit 1; }
sh tests/run_all.sh build 2>&1 | tee "$L/normal"
stage "tests" "$L/normal"

echo "== build (clang, -O2) + unit tests"
if command -v clang >/dev/null 2>&1; then
  if make -j"$jobs" CC=clang BUILD=build-clang build-clang/minnow_tests > "$L/build-clang" 2>&1; then
    ./build-clang/minnow_tests 2>&1 | tail -5 | tee "$L/clang"
    stage "unit tests (clang)" "$L/clang"
  else
    tail -30 "$L/build-clang"; echo "== build (clang): failed"; F=$((F + 1))
  fi
else
  echo "== clang not installed: stage skipped (make test installs it)"
fi

echo "== valgrind"
sh tests/valgrind.sh build 2>&1 | tee "$L/valgrind"
stage "valgrind" "$L/valgrind"

echo "== build (ASan+UBSan)"
make -j"$jobs" SAN=1 all build-asan/minnow_tests > "$L/build-asan" 2>&1 || { tail -30 "$L/build-asan"; echo "$P passed, $((F + 1)) failed"; exit 1; }
MINNOW_SAN=1 ASAN_OPTIONS=detect_leaks=1 sh tests/run_all.sh build-asan 2>&1 | tee "$L/asan"
stage "tests under ASan+UBSan" "$L/asan"

echo "== fuzz (${secs}s per target)"
if sh fuzz/run.sh "$secs" > "$L/fuzz" 2>&1; then
  cat "$L/fuzz"; P=$((P + 1))
else
  cat "$L/fuzz"; F=$((F + 1))
fi

echo "$P passed, $F failed"
[ "$F" -eq 0 ]
