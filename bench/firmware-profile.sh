#!/usr/bin/env bash
# Benchmark helper (not a test): where the firmware demo's instructions go, per function, on one
# emulated board. Runs the demo once more under QEMU with every instruction logged
# (`-d exec,nochain` with one instruction per translation block) and counts the log lines per
# symbol QEMU names. The whole run is counted: six digits, `Generator::new` once, the
# calibration loop (`spin`, 1 M) and the report; divide the per-layer lines by six for one digit.
# Assembly kernels are their own symbols; Rust code is counted where LLVM inlined it.
#
# Usage: bench/firmware-profile.sh BOARD [TOP]   (BOARD: mps2-an386 mps2-an385 microbit riscv-virt;
#                                                 TOP: lines to print, default 25)
# Needs what firmware-demo/run-qemu.sh needs; takes about a minute (the log is streamed, not kept).
set -euo pipefail
cd "$(dirname "$0")/.."

board="${1:?usage: bench/firmware-profile.sh BOARD [TOP]}"
top="${2:-25}"
case "$board" in
  mps2-an386) qemu=(qemu-system-arm -machine mps2-an386 -cpu cortex-m4) ;;
  mps2-an385) qemu=(qemu-system-arm -machine mps2-an385) ;;
  microbit) qemu=(qemu-system-arm -machine microbit) ;;
  riscv-virt) qemu=(qemu-system-riscv32 -machine virt -bios none) ;;
  *) echo "error: unknown board '$board' (known: mps2-an386 mps2-an385 microbit riscv-virt)" >&2; exit 2 ;;
esac

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Builds the ELF and checks its hashes against the host first.
FIRMWARE_DEMO_OUT="$work" firmware-demo/run-qemu.sh "$board" >&2

mkfifo "$work/trace"
"${qemu[@]}" -nographic -semihosting-config enable=on,target=native \
  -icount shift=6,align=off,sleep=off -accel tcg,one-insn-per-tb=on \
  -d exec,nochain -D "$work/trace" -kernel "$work/$board.elf" </dev/null >"$work/run.log" 2>&1 &
qemu_pid=$!
echo "instructions  function ($board, whole run)"
# QEMU's exec log: one `Trace ...` line per executed block (here: per instruction), the
# function's symbol last.
# Rust's symbols are demangled where a c++filt is at hand (binutils).
demangle() { if command -v c++filt >/dev/null 2>&1; then c++filt; else cat; fi; }
awk '/^Trace/ { n[$NF]++ } END { for (f in n) printf "%12d  %s\n", n[f], f }' "$work/trace" \
  | sort -rn | awk -v top="$top" 'NR <= top' | demangle
wait "$qemu_pid" || { cat "$work/run.log" >&2; echo "error: QEMU failed" >&2; exit 1; }
grep -q '^done$' <(tr -d '\r' <"$work/run.log") || { echo "error: the profiled run did not finish" >&2; exit 1; }
