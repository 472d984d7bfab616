#!/bin/sh
# Builds the libFuzzer targets with clang (-fsanitize=fuzzer,address,
# undefined) into build-fuzz/ and runs each for SECONDS (default 60) on a
# copy of its seed corpus (fuzz/corpus/<target>, never written to). Exits
# non-zero when a target finds a crash, leak, timeout or out-of-memory; the
# offending input is kept in build-fuzz/artifacts/.
# usage: fuzz/run.sh [SECONDS]
set -u
secs=${1:-60}
cd "$(dirname "$0")/.." || exit 2
B=build-fuzz
targets="fuzz_onnx fuzz_tensor fuzz_mnw"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
LIBS="-lprotobuf-c -lz -lpng -ljpeg -lcjson -lm -lpthread"
mkdir -p "$B/artifacts" "$B/corpus"

# The library through the Makefile (same rules, per-file ISA flags), with
# coverage instrumentation; protoc-c generates $B/gen/onnx.pb-c.[ch].
if ! make --no-print-directory -j"$(nproc 2>/dev/null || echo 2)" \
    BUILD="$B" CC=clang OPT=-O1 "WARN=-Wall -Wextra" \
    "SANFLAGS=-fsanitize=fuzzer-no-link $SAN" "$B/libminnow.a" \
    > "$B/build.log" 2>&1; then
  tail -30 "$B/build.log"
  echo "fuzz: building the library failed (see $B/build.log)" >&2
  exit 2
fi
for t in $targets; do
  if ! clang -std=c11 -g -O1 -Wall -Wextra -D_POSIX_C_SOURCE=200809L \
      -D_DEFAULT_SOURCE -Iinclude -Isrc -I"$B/gen" -fsanitize=fuzzer $SAN \
      "fuzz/$t.c" "$B/libminnow.a" $LIBS -o "$B/$t"; then
    echo "fuzz: building $t failed" >&2
    exit 2
  fi
done

for t in $targets; do
  mkdir -p "$B/corpus/$t"
  cp fuzz/corpus/"$t"/* "$B/corpus/$t/" 2>/dev/null
  ( "$B/$t" -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 \
      -timeout=10 -print_final_stats=1 -artifact_prefix="$B/artifacts/$t-" \
      "$B/corpus/$t" > "$B/$t.log" 2>&1
    echo $? > "$B/$t.rc" ) &
done
wait

fail=0
for t in $targets; do
  rc=$(cat "$B/$t.rc" 2>/dev/null || echo 1)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$B/$t.log")
  if [ "$rc" -eq 0 ]; then
    echo "fuzz: $t: ${runs:-?} runs in ${secs}s, no crash"
  else
    fail=1
    echo "fuzz: $t FAILED (exit $rc); log $B/$t.log:"
    grep -E 'ERROR|SUMMARY|Test unit written|^    #[0-9]' "$B/$t.log" | head -40
  fi
done
exit $fail
