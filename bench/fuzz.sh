#!/usr/bin/env bash
# Fuzzes firmware-core (the cargo-fuzz targets in fuzz/) and prints a Markdown table per target:
# executions, time, corpus, libFuzzer's edge coverage, crashes and, unless FUZZ_COVERAGE=0, the
# line coverage of the firmware-core code the target is about (the coverage build's report stays
# in fuzz/bench-out/<target>/coverage.txt).
#
# Usage: bench/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default: 600 s, all three targets)
#   blob_bytes   any bytes as a blob, and the same bytes with their CRC appended
#   blob_mutate  structure-aware mutants of DEFAULT_BLOB, CRC recomputed
#   draw_api     digits, grids and handwriting at any position, scale, class, seed, display size
# FUZZ_RUNS=N stops each target after N executions (SECONDS_PER_TARGET still caps the time), e.g.
#   FUZZ_RUNS=10000000 nice -n 15 bench/fuzz.sh 7200 blob_bytes
# Every run starts from a fresh corpus (blob_bytes: the shipped blob, with and without its CRC),
# so figures of different runs compare. Crashes are saved under fuzz/bench-out/<target>/
# and make the script exit 1.
#
# Builds keep overflow checks and debug assertions on (cargo-fuzz's default without -O) but no
# AddressSanitizer (`-s none`): firmware-core has no unsafe code on the host, so a bad index or an
# overflow already panics, and the fuzzer runs about 3.5x as many inputs.
# Needs: rustup's nightly, `cargo install --locked cargo-fuzz`, a C++ compiler (libFuzzer), and
# for line coverage `rustup +nightly component add llvm-tools-preview`.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${1:-600}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(blob_bytes blob_mutate draw_api)
out=bench-out
failed=0

for target in "${targets[@]}"; do
  dir="$out/$target"
  rm -rf "$dir"
  mkdir -p "$dir/corpus" "$dir/crashes"
  if [ "$target" = blob_bytes ]; then
    cp ../firmware-core/blobs/default.postcard "$dir/corpus/default"
    head -c -4 ../firmware-core/blobs/default.postcard >"$dir/corpus/default-without-crc"
  fi
  cargo +nightly fuzz build -s none "$target" >&2
  echo "fuzzing $target for $seconds s${FUZZ_RUNS:+ or $FUZZ_RUNS executions}" >&2
  status=0
  start=$(date +%s)
  cargo +nightly fuzz run -s none "$target" "$dir/corpus" -- \
    -max_total_time="$seconds" ${FUZZ_RUNS:+-runs="$FUZZ_RUNS"} \
    -print_final_stats=1 -artifact_prefix="$dir/crashes/" \
    >"$dir/log" 2>&1 || status=$?
  elapsed=$(($(date +%s) - start))
  stat() { sed -n "s/^stat::$1: *//p" "$dir/log" | tail -n 1; }
  last=$(grep -E '^#[0-9]+' "$dir/log" | tail -n 1 || true)
  field() { sed -n "s/.* $1: \([0-9]*\).*/\1/p" <<<"$last"; }
  crashes=$(find "$dir/crashes" -type f | wc -l)
  if [ "$status" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    failed=1
    grep -E 'panicked|ERROR|SUMMARY' "$dir/log" >&2 || true
  fi

  coverage="(skipped)"
  if [ "${FUZZ_COVERAGE:-1}" != 0 ]; then
    echo "line coverage of $target over its corpus" >&2
    cargo +nightly fuzz coverage "$target" "$dir/corpus" >"$dir/coverage.log" 2>&1
    llvm_cov="$(rustc +nightly --print sysroot)/lib/rustlib/$(rustc +nightly -vV | sed -n 's/^host: //p')/bin/llvm-cov"
    binary=$(find target -path "*/coverage/*/release/$target" -type f | head -n 1)
    # The blob targets: firmware-core's loader and inference, not the std-only exporter, the test
    # helpers, or the drawing and text layers on top, which no blob reaches. draw_api: those
    # layers (draw, text, digit), not the inference they call.
    outside='/\.cargo/|/\.rustup/|/rustc/|/fuzz/|/export/|test_blob'
    if [ "$target" = draw_api ]; then
      ignore="($outside|/layers/|/arch\.rs|/blob\.rs|/error\.rs|/generator\.rs|/latent\.rs|/requant\.rs)"
    else
      ignore="($outside|/draw\.rs|/text\.rs)"
    fi
    "$llvm_cov" report "$binary" -instr-profile="coverage/$target/coverage.profdata" \
      -ignore-filename-regex="$ignore" >"$dir/coverage.txt"
    coverage=$(awk '/^TOTAL/ { print $10 " of lines, " $4 " of regions, " $7 " of functions" }' "$dir/coverage.txt")
  fi

  cat <<EOF
| $target | |
|---|---|
| executions | $(stat number_of_executed_units) in ${elapsed} s ($(stat average_exec_per_sec) per second) |
| corpus | $(field corp) inputs |
| libFuzzer coverage | $(field cov) edges, $(field ft) features |
| firmware-core line coverage | $coverage |
| crashes | $crashes (exit status $status) |

EOF
done
exit "$failed"
