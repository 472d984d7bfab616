#!/bin/sh
# Runs every test suite against the binaries in BUILD (default build/) and
# ends with one aggregated line "N passed, M failed".
# usage: tests/run_all.sh [BUILD]
B=${1:-build}
cd "$(dirname "$0")/.." || exit 2
total_p=0; total_f=0
tally() { # name, log file
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$2" | tail -1)
  p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
  f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
  [ -z "$line" ] && { p=0; f=1; echo "== $1: no result line (crashed?)"; }
  echo "== $1: $line"
  total_p=$((total_p + p)); total_f=$((total_f + f))
}
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

echo "== unit tests ($B)"
"$B/minnow_tests" > "$log/unit" 2>&1; rc=$?
cat "$log/unit"
[ $rc -ne 0 ] && ! grep -q ' failed' "$log/unit" && echo "0 passed, 1 failed" >> "$log/unit"
tally unit "$log/unit"

echo "== CLI tests ($B)"
sh tests/cli_test.sh "$B" > "$log/cli" 2>&1
cat "$log/cli"
tally cli "$log/cli"

for t in cli_quant c_export; do
  [ -f "tests/${t}_test.sh" ] || continue
  echo "== ${t} tests ($B)"
  MINNOW="$B/minnow" sh "tests/${t}_test.sh" "$B" > "$log/$t" 2>&1
  cat "$log/$t"
  tally "$t" "$log/$t"
done

echo "== ONNX conformance ($B)"
sh tests/conformance.sh "$B" > "$log/conf" 2>&1
grep -v '^PASS' "$log/conf"
tally conformance "$log/conf"

echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
