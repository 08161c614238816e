#!/usr/bin/env bash
# The emulated board and the sim show the same pixels: for each key sequence, QEMU's screendump
# of the OLED (oled.sh) must equal `sim --display ssd0323 --scale 4 --png` with the same
# `--keys`, with zero differing pixels (ImageMagick `compare -metric AE`). The digit screens must
# differ from each other and each show digits; a sequence with a word that is no button must
# equal the one without it; a blob that fails validation must show the same error screen on both.
#
# Usage: examples/oled-lm3s6965/compare-sim.sh [OUT_DIR]   (OUT_DIR keeps screendumps, PNGs, logs)
# Needs: what oled.sh needs, and /usr/bin/compare + /usr/bin/convert (imagemagick).
# Exit:  0 all equal; 1 a difference or a bad run; 2 missing tool.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
oled="$root/examples/oled-lm3s6965/oled.sh"
COMPARE=/usr/bin/compare CONVERT=/usr/bin/convert
for tool in "$COMPARE" "$CONVERT"; do
  [ -x "$tool" ] || { echo "error: $tool not found (apt-get install imagemagick)" >&2; exit 2; }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
out="${1:-$work}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

echo "== build sim"
(cd "$root" && cargo build -p sim --bin sim)
sim="$(cd "$root" && cargo metadata --format-version 1 --no-deps |
  grep -o '"target_directory":"[^"]*"' | cut -d'"' -f4)/debug/sim"
[ -x "$sim" ] || { echo "error: sim not found at $sim" >&2; exit 1; }

failed=0
fail() { echo "FAIL: $*" >&2; failed=1; }
# Differing pixels between two images (compare prints the count on stderr).
ae() { "$COMPARE" -metric AE "$1" "$2" null: 2>&1 || true; }

# case NAME KEYS [--blob FILE]: both sides, then the pixel comparison.
case_() {
  local name="$1" keys="$2"
  shift 2
  echo "== $name: --keys '$keys' $*"
  "$oled" --screendump "$out/$name-qemu.ppm" --keys "$keys" --log "$out/$name-qemu.log" "$@" \
    >/dev/null || { fail "$name: oled.sh failed (status $?)"; return; }
  local sim_status=0
  "$sim" --display ssd0323 --scale 4 --png "$out/$name-sim.png" --keys "$keys" "$@" \
    2>"$out/$name-sim.log" || sim_status=$?
  if [ "$sim_status" -ne 0 ] && [ "$*" = "" ]; then
    fail "$name: sim failed: $(cat "$out/$name-sim.log")"
    return
  fi
  "$CONVERT" "$out/$name-qemu.ppm" "$out/$name-qemu.png"
  grep -Eq '^ready .*dropped=0( |$)' "$out/$name-qemu.log" || fail "$name: presses were dropped"
  local diff
  diff="$(ae "$out/$name-qemu.png" "$out/$name-sim.png")"
  if [ "$diff" = 0 ]; then
    echo "OK   $name: QEMU screendump == sim PNG (0 differing pixels); $(grep '^ready' "$out/$name-qemu.log" | tail -n 1)"
  else
    fail "$name: QEMU screendump and sim PNG differ in $diff pixels (see $out)"
  fi
}

case_ start ""
case_ up-up-select "up,up,select"
case_ right-right "right,right"
# `a` reaches QEMU as a key no button is wired to; the sim ignores the word with a warning.
case_ unknown-key "up,a,up,select"
# Twelve presses sent at once: most arrive while screens are drawn; all must be applied, in order.
case_ burst "select,select,down,select,select,left,select,select,down,down,select,right"
grep -q '^ready keys=12 dropped=0 seed=56 class=7 ' "$out/burst-qemu.log" ||
  fail "burst: the firmware did not end at seed 56, class 7 after 12 presses"

# The digit screens: pairwise different, each with digits (many lit pixels below the status line).
screens=(start up-up-select right-right)
for ((i = 0; i < ${#screens[@]}; i++)); do
  png="$out/${screens[i]}-sim.png"
  [ -f "$png" ] || continue
  lit="$("$CONVERT" "$png" -crop 512x224+0+32 +repage -threshold 50% -format '%[fx:int(mean*w*h)]' info:)"
  [ "$lit" -gt 4000 ] || fail "${screens[i]}: only $lit lit pixels under the status line: no digits?"
  for ((j = i + 1; j < ${#screens[@]}; j++)); do
    [ -f "$out/${screens[j]}-sim.png" ] || continue
    [ "$(ae "$png" "$out/${screens[j]}-sim.png")" != 0 ] ||
      fail "${screens[i]} and ${screens[j]} show the same screen"
  done
done
if [ -f "$out/unknown-key-sim.png" ] && [ -f "$out/up-up-select-sim.png" ]; then
  [ "$(ae "$out/unknown-key-sim.png" "$out/up-up-select-sim.png")" = 0 ] ||
    fail "the unknown key changed the screen"
  grep -q '^ready keys=3 dropped=0 ' "$out/unknown-key-qemu.log" ||
    fail "unknown-key: the firmware did not get exactly the three button presses"
fi
grep -q "is no gamepad button" "$out/unknown-key-sim.log" || fail "unknown-key: the sim did not warn"

# A damaged blob: one flipped byte in the weights, so the CRC check fails on the board.
bad="$out/damaged.postcard"
cp "$root/firmware-core/blobs/default.postcard" "$bad"
printf '\xff' | dd of="$bad" bs=1 seek=1000 conv=notrunc 2>/dev/null
cmp -s "$bad" "$root/firmware-core/blobs/default.postcard" && { fail "damaging the blob changed nothing"; }
case_ bad-blob "up,select" --blob "$bad"
grep -q '^error blob rejected: blob CRC mismatch' "$out/bad-blob-qemu.log" ||
  fail "bad-blob: the firmware did not report the CRC error"
grep -q '^ready keys=2 dropped=0 error' "$out/bad-blob-qemu.log" ||
  fail "bad-blob: the firmware stopped taking keys"
grep -q 'CRC mismatch' "$out/bad-blob-sim.log" || fail "bad-blob: the sim did not name the problem"

if [ "$failed" -ne 0 ]; then
  [ "$out" != "$work" ] || { out="$(mktemp -d)"; cp -r "$work"/. "$out"; }
  echo "compare-sim.sh: FAIL (files in $out)" >&2
  exit 1
fi
echo "compare-sim.sh: PASS"
