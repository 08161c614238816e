#!/usr/bin/env bash
# Benchmark (not a test): resources of the default model in the firmware demo on every emulated
# core, as a Markdown table on stdout (progress goes to stderr), one column per core.
#
# Runs firmware-demo/run-qemu.sh (which also checks the pixels against the host, so a failed
# check fails this script too), then reads `arm-none-eabi-size -A` of the ELFs (it reads the
# RISC-V ELF too) and the QEMU reports. Instruction counts are QEMU `-icount` instructions, not
# cycles (SysTick under -icount on Arm, the minstret CSR on RISC-V).
#   flash = code and constants: .vector_table/.init/.text/.rodata/.eh_frame + .data initialisers
#   RAM   = .data + .bss + .uninit + peak stack (paint-and-scan, includes the report's printing)
# Needs what run-qemu.sh needs plus arm-none-eabi-size (firmware-demo/install-qemu.sh installs both).
# Usage: bench/firmware.sh [BOARD...]   (default: mps2-an386 mps2-an385 microbit riscv-virt)
# Env: CARGO_TARGET_DIR and QEMU_TIMEOUT are passed on to run-qemu.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v arm-none-eabi-size >/dev/null 2>&1 || {
  echo "error: arm-none-eabi-size not found; install binutils-arm-none-eabi (firmware-demo/install-qemu.sh)" >&2
  exit 2
}

boards=("$@")
[ ${#boards[@]} -gt 0 ] || boards=(mps2-an386 mps2-an385 microbit riscv-virt)

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
FIRMWARE_DEMO_OUT="$out" firmware-demo/run-qemu.sh "${boards[@]}" >&2

# Column header: the core first, then board and target.
header() {
  case "$1" in
    mps2-an386) echo "Cortex-M4F (\`mps2-an386\`, thumbv7em-none-eabihf)" ;;
    mps2-an385) echo "Cortex-M3 (\`mps2-an385\`, thumbv7m-none-eabi)" ;;
    microbit) echo "Cortex-M0 (\`microbit\`, thumbv6m-none-eabi)" ;;
    riscv-virt) echo "RISC-V rv32imc (\`virt\`, riscv32imc-unknown-none-elf)" ;;
    *) echo "$1" ;;
  esac
}
# Per-core goals of issue 16 (instructions per digit, per MAC); empty where there is none.
digit_goal() {
  case "$1" in
    mps2-an386) echo 1890000 ;;
    mps2-an385) echo 4740000 ;;
    microbit) echo 6310000 ;;
  esac
}

ipm_goal() {
  case "$1" in
    mps2-an386) echo 1.2 ;;
    mps2-an385) echo 3.0 ;;
    microbit) echo 4.0 ;;
  esac
}

# One `key=value` per line for a board: sizes, report fields and averages.
facts() {
  local board=$1
  arm-none-eabi-size -A "$out/$board.elf" | awk '
    $1 == ".vector_table" || $1 ~ /^\.text/ || $1 ~ /^\.init/ || $1 == ".trap" || $1 == ".rodata" \
      || $1 == ".eh_frame" || $1 == ".gnu.sgstubs" { flash += $2 }
    $1 == ".data" { flash += $2; ram += $2 }
    $1 == ".bss" || $1 == ".uninit" { ram += $2 }
    END { print "flash=" flash; print "static_ram=" ram }'
  awk '
    /^model / { for (i = 2; i <= NF; i++) print $i }
    /^generator_new / { sub("instructions", "new_instructions", $2); print $2 }
    /^stack / { print $2 }
    /^digit / { split($4, kv, "="); sum += kv[2]; n++ }
    END { if (n) printf "instructions=%.0f\n", sum / n }' "$out/$board.log"
}
get() { sed -n "s/^$2=//p" <<<"$1"; }

kib() { awk -v b="$1" 'BEGIN { printf "%d B (%.1f KiB)", b, b / 1024 }'; }
mega() { awk -v n="$1" 'BEGIN { printf "%.2f M", n / 1e6 }'; }
check() { awk -v v="$1" -v limit="$2" 'BEGIN { print (v <= limit) ? "✅" : "❌" }'; }

declare -A f
for b in "${boards[@]}"; do
  f[$b]="$(facts "$b")"
  for v in flash static_ram blob_bytes weight_bytes macs_per_digit new_instructions peak_bytes instructions; do
    [ -n "$(get "${f[$b]}" $v)" ] || { echo "error: could not read $v for $b" >&2; exit 1; }
  done
done
first=${boards[0]}
blob=$(get "${f[$first]}" blob_bytes)
macs=$(get "${f[$first]}" macs_per_digit)

# A row: label, one cell per board (computed by the function named in $2), target text.
row() {
  local label=$1 cell=$2 target=$3 line="| $1 |"
  for b in "${boards[@]}"; do line+=" $($cell "$b") |"; done
  echo "$line $target |"
}
c_blob() { kib "$blob"; }
c_weights() { kib "$(get "${f[$1]}" weight_bytes)"; }
c_flash() { local v; v=$(get "${f[$1]}" flash); echo "$(kib "$v") $(check "$v" 204800)"; }
c_code() { kib $(($(get "${f[$1]}" flash) - blob)); }
c_static() { kib "$(get "${f[$1]}" static_ram)"; }
c_stack() { kib "$(get "${f[$1]}" peak_bytes)"; }
c_ram() { local v; v=$(($(get "${f[$1]}" static_ram) + $(get "${f[$1]}" peak_bytes))); echo "$(kib "$v") $(check "$v" 16384)"; }
c_digit() {
  local v goal; v=$(get "${f[$1]}" instructions); goal=$(digit_goal "$1")
  echo "$(mega "$v")${goal:+ $(check "$v" "$goal")}"
}
c_macs() { mega "$macs"; }
c_ipm() {
  local v goal ipm; v=$(get "${f[$1]}" instructions); goal=$(ipm_goal "$1")
  ipm=$(awk -v i="$v" -v m="$macs" 'BEGIN { printf "%.2f", i / m }')
  echo "$ipm${goal:+ $(check "$ipm" "$goal")}"
}
c_new() {
  local v; v=$(get "${f[$1]}" new_instructions)
  if [ "$1" = mps2-an386 ]; then echo "$(mega "$v") $(check "$v" 500000)"; else mega "$v"; fi
}

line="|  |"; sep="| --- |"
for b in "${boards[@]}"; do line+=" $(header "$b") |"; sep+=" ---: |"; done
echo "### firmware-core default model: firmware demo resources"
echo
echo "$line target |"
echo "$sep --- |"
row "weights blob (\`DEFAULT_BLOB\`)" c_blob ""
row "… of which int8 weights" c_weights ""
row "flash: code + weights" c_flash "≤ 200 KiB"
row "… code and constants besides the blob" c_code ""
row "RAM: static (.data + .bss)" c_static ""
row "RAM: peak stack" c_stack ""
row "RAM: total" c_ram "≤ 16 KiB"
row "instructions per digit" c_digit "≤ 1.89 M on M4, ≤ 4.74 M on M3, ≤ 6.31 M on M0"
row "MACs per digit" c_macs ""
row "instructions per MAC" c_ipm "≤ 1.2 on M4, ≤ 3.0 on M3, ≤ 4.0 on M0"
row "\`Generator::new\` (validation, CRC)" c_new "≤ 0.5 M on M4"
echo
echo "Instructions counted by QEMU with \`-icount shift=6\` (not cycles); RAM includes the"
echo "9.2 KiB \`Scratch\` and the 784-byte \`Digit\` (statics) and the stack used by the report's printing."
