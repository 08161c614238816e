#!/usr/bin/env bash
# Runs the firmware demo in QEMU on every board and checks its pixels bit-exactly against the
# host: the expected hashes are computed here, now, by firmware-core compiled for the host, so
# the check holds for whatever blob firmware-core ships.
#
# Usage: firmware-demo/run-qemu.sh [BOARD...]     (default: mps2-an386 mps2-an385 microbit riscv-virt)
# Needs: qemu-system-arm and qemu-system-riscv32 (see install-qemu.sh; this script installs
#        nothing) and the rustup targets thumbv7em-none-eabihf, thumbv7m-none-eabi,
#        thumbv6m-none-eabi and riscv32imc-unknown-none-elf.
# Env:   CARGO_TARGET_DIR       honoured (default: firmware-demo/target)
#        QEMU_TIMEOUT           seconds per QEMU run (default 120)
#        FIRMWARE_DEMO_OUT      if set, keeps host.log, BOARD.log and BOARD.elf there (bench/firmware.sh)
# Exit:  0 all hashes match; 1 mismatch or bad run; 2 missing tool or target; 3 QEMU timeout.
set -euo pipefail
cd "$(dirname "$0")"

# The instruction counters (src/icount.rs: SysTick ticks; src/riscv.rs: minstret) assume exactly
# this -icount setting.
ICOUNT=(-icount shift=6,align=off,sleep=off)
QEMU_TIMEOUT="${QEMU_TIMEOUT:-120}"

board_target() {
  case "$1" in
    mps2-an386) echo thumbv7em-none-eabihf ;;
    mps2-an385) echo thumbv7m-none-eabi ;;
    microbit) echo thumbv6m-none-eabi ;;
    riscv-virt) echo riscv32imc-unknown-none-elf ;;
    *) echo "error: unknown board '$1' (known: mps2-an386 mps2-an385 microbit riscv-virt)" >&2; exit 2 ;;
  esac
}
board_qemu() {
  case "$1" in
    riscv-virt) echo qemu-system-riscv32 ;;
    *) echo qemu-system-arm ;;
  esac
}
board_machine() {
  case "$1" in
    mps2-an386) echo "-machine mps2-an386 -cpu cortex-m4" ;;
    mps2-an385) echo "-machine mps2-an385" ;;
    microbit) echo "-machine microbit" ;;
    # No firmware: the ELF starts in M-mode at 0x8000_0000.
    riscv-virt) echo "-machine virt -bios none" ;;
  esac
}

boards=("$@")
[ ${#boards[@]} -gt 0 ] || boards=(mps2-an386 mps2-an385 microbit riscv-virt)

for board in "${boards[@]}"; do
  qemu="$(board_qemu "$board")"
  if ! command -v "$qemu" >/dev/null 2>&1; then
    echo "error: $qemu not found on PATH; install it with firmware-demo/install-qemu.sh" >&2
    exit 2
  fi
done
if command -v rustup >/dev/null 2>&1; then
  installed="$(rustup target list --installed)"
  for board in "${boards[@]}"; do
    target="$(board_target "$board")"
    if ! grep -qx "$target" <<<"$installed"; then
      echo "error: rust target $target missing; run: rustup target add $target" >&2
      exit 2
    fi
  done
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
out="${FIRMWARE_DEMO_OUT:-$work}"
mkdir -p "$out"

# Path of the demo's ELF from cargo's JSON messages, so any target-dir setting works.
build() {
  cargo build --release --bin firmware-demo --message-format=json-render-diagnostics "$@" \
    | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1
}

echo "== host reference (firmware-core on $(uname -m))"
host_bin="$(build)"
[ -n "$host_bin" ] || { echo "error: host build produced no executable" >&2; exit 1; }
"$host_bin" >"$out/host.log"
grep '^digit ' "$out/host.log" >"$work/expected"
[ -s "$work/expected" ] || { echo "error: host run printed no digit lines" >&2; exit 1; }

failed=0
for board in "${boards[@]}"; do
  target="$(board_target "$board")"
  echo "== $board ($target)"
  elf="$(build --target "$target" --features "$board")"
  [ -n "$elf" ] || { echo "error: $board build produced no executable" >&2; exit 1; }
  cp "$elf" "$out/$board.elf"

  rc=0
  # shellcheck disable=SC2046 # the machine arguments are meant to split
  timeout --kill-after=5 "$QEMU_TIMEOUT" "$(board_qemu "$board")" $(board_machine "$board") -nographic \
    -semihosting-config enable=on,target=native "${ICOUNT[@]}" -kernel "$elf" \
    </dev/null >"$work/$board.raw" 2>"$work/$board.err" || rc=$?
  tr -d '\r' <"$work/$board.raw" >"$work/$board.log"
  [ "$out" = "$work" ] || cp "$work/$board.log" "$out/$board.log"
  cat "$work/$board.log"
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "FAIL $board: QEMU did not exit within ${QEMU_TIMEOUT}s" >&2
    exit 3
  fi
  if [ "$rc" -ne 0 ]; then
    cat "$work/$board.err" >&2
    echo "FAIL $board: exit status $rc" >&2
    failed=1
    continue
  fi
  if ! grep -qx 'done' "$work/$board.log"; then
    echo "FAIL $board: report incomplete (no 'done' line)" >&2
    failed=1
    continue
  fi

  # -icount sanity: the calibration loop must measure as its known length (±0.1 %).
  expected="" measured=""
  read -r expected measured < <(sed -n 's/^calibration expected=\([0-9]*\) measured=\([0-9]*\)$/\1 \2/p' "$work/$board.log") || true
  if [ -z "${expected:-}" ] || [ $(((measured - expected) * 1000 / expected)) -ne 0 ]; then
    echo "FAIL $board: instruction counter calibration off (expected=${expected:-?} measured=${measured:-?})" >&2
    failed=1
  fi

  grep '^digit ' "$work/$board.log" | sed 's/ instructions=[0-9]*$//' >"$work/$board.digits"
  if diff -u --label host "$work/expected" --label "$board" "$work/$board.digits"; then
    echo "OK   $board: $(wc -l <"$work/expected") digits bit-exact with the host"
  else
    echo "FAIL $board: pixel hashes differ from the host" >&2
    failed=1
  fi
done

exit "$failed"
