#!/usr/bin/env bash
# Benchmark (not a test): resources of the default model in the firmware demo on Cortex-M4F and
# Cortex-M0, as a Markdown table on stdout (progress goes to stderr).
#
# Runs firmware-demo/run-qemu.sh (which also checks the pixels against the host, so a failed
# check fails this script too), then reads `arm-none-eabi-size -A` of the two ELFs and the QEMU
# reports. Instruction counts are QEMU `-icount` instructions, not cycles.
#   flash = .vector_table + .text + .rodata + .data (initialisers are stored in flash)
#   RAM   = .data + .bss + .uninit + peak stack (paint-and-scan, includes the report's printing)
# Needs what run-qemu.sh needs plus arm-none-eabi-size (firmware-demo/install-qemu.sh installs both).
# Env: CARGO_TARGET_DIR and QEMU_TIMEOUT are passed on to run-qemu.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v arm-none-eabi-size >/dev/null 2>&1 || {
  echo "error: arm-none-eabi-size not found; install binutils-arm-none-eabi (firmware-demo/install-qemu.sh)" >&2
  exit 2
}

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
FIRMWARE_DEMO_OUT="$out" firmware-demo/run-qemu.sh mps2-an386 microbit >&2

# One `key=value` per line for a board: sizes, report fields and averages.
facts() {
  local board=$1
  arm-none-eabi-size -A "$out/$board.elf" | awk '
    $1 == ".vector_table" || $1 == ".text" || $1 == ".rodata" || $1 == ".gnu.sgstubs" { flash += $2 }
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

m4="$(facts mps2-an386)"
m0="$(facts microbit)"
for v in flash static_ram blob_bytes weight_bytes macs_per_digit new_instructions peak_bytes instructions; do
  [ -n "$(get "$m4" $v)" ] && [ -n "$(get "$m0" $v)" ] || { echo "error: could not read $v" >&2; exit 1; }
done

kib() { awk -v b="$1" 'BEGIN { printf "%d B (%.1f KiB)", b, b / 1024 }'; }
mega() { awk -v n="$1" 'BEGIN { printf "%.2f M", n / 1e6 }'; }
check() { awk -v v="$1" -v limit="$2" 'BEGIN { print (v <= limit) ? "✅" : "❌" }'; }

blob=$(get "$m4" blob_bytes)
macs=$(get "$m4" macs_per_digit)
row() { printf '| %s | %s | %s | %s |\n' "$@"; }

declare -A flash ram ipm
for b in m4 m0; do
  f=${!b}
  flash[$b]=$(get "$f" flash)
  ram[$b]=$(($(get "$f" static_ram) + $(get "$f" peak_bytes)))
  ipm[$b]=$(awk -v i="$(get "$f" instructions)" -v m="$macs" 'BEGIN { printf "%.2f", i / m }')
done

echo "### firmware-core default model: firmware demo resources"
echo
row "" "Cortex-M4F (\`mps2-an386\`, thumbv7em-none-eabihf)" "Cortex-M0 (\`microbit\`, thumbv6m-none-eabi)" "target"
row "---" "---:" "---:" "---"
row "weights blob (\`DEFAULT_BLOB\`)" "$(kib "$blob")" "$(kib "$blob")" ""
row "… of which int8 weights" "$(kib "$(get "$m4" weight_bytes)")" "$(kib "$(get "$m0" weight_bytes)")" ""
row "flash: code + weights" "$(kib "${flash[m4]}") $(check "${flash[m4]}" 204800)" \
  "$(kib "${flash[m0]}") $(check "${flash[m0]}" 204800)" "≤ 200 KiB"
row "… code and constants besides the blob" "$(kib $((flash[m4] - blob)))" "$(kib $((flash[m0] - blob)))" ""
row "RAM: static (.data + .bss)" "$(kib "$(get "$m4" static_ram)")" "$(kib "$(get "$m0" static_ram)")" ""
row "RAM: peak stack" "$(kib "$(get "$m4" peak_bytes)")" "$(kib "$(get "$m0" peak_bytes)")" ""
row "RAM: total" "$(kib "${ram[m4]}") $(check "${ram[m4]}" 24576)" "$(kib "${ram[m0]}") $(check "${ram[m0]}" 24576)" "≤ 24 KiB"
row "instructions per digit" "$(mega "$(get "$m4" instructions)")" "$(mega "$(get "$m0" instructions)")" ""
row "MACs per digit" "$(mega "$macs")" "$(mega "$macs")" ""
row "instructions per MAC" "${ipm[m4]} $(check "${ipm[m4]}" 2.5)" "${ipm[m0]}" "≤ 2.5 on M4"
row "\`Generator::new\` (validation, CRC)" "$(mega "$(get "$m4" new_instructions)")" "$(mega "$(get "$m0" new_instructions)")" ""
echo
echo "Instructions counted by QEMU with \`-icount shift=6\` (not cycles); RAM includes the"
echo "9.2 KiB \`Scratch\` and the 784-byte \`Digit\` (statics) and the stack used by the report's printing."
