#!/usr/bin/env bash
# Boots the OLED firmware headless on QEMU's lm3s6965evb, presses gamepad buttons through the
# QEMU monitor, waits until the firmware reports (over semihosting) that every press is applied
# and drawn, and writes what the panel shows with the monitor's `screendump`: a P6 PPM of
# 512 × 256, each panel pixel a 4 × 4 block, grey level v shown as v·17.
#
# Usage: examples/oled-lm3s6965/oled.sh --screendump OUT.ppm [--keys up,up,select] [--blob FILE]
#                                        [--log FILE] [--hold MS]
#   --keys   buttons pressed in order, comma-separated: up down left right select. Any other
#            word is sent to QEMU as that key (`sendkey`, e.g. `a`); no button is wired to it, so
#            the board never sees it. Presses are sent together: the firmware queues those that
#            arrive while it draws.
#   --blob   embed FILE instead of the default generator blob (OLED_BLOB at build time); a blob
#            that fails validation makes the panel show the error screen.
#   --log    keep the firmware's report there.
#   --hold   milliseconds each button is held (default 100; QEMU's default is 10).
# Needs: qemu-system-arm (see firmware-demo/install-qemu.sh) and `rustup target add thumbv7m-none-eabi`.
# Env:   CARGO_TARGET_DIR honoured; QEMU_TIMEOUT seconds per wait (default 120).
# Exit:  0 screen written; 1 bad run (panic, controller error, reset, QEMU failure);
#        2 usage error or missing tool; 3 timeout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
screendump="" keys="" blob="" log="" hold=100
while [ $# -gt 0 ]; do
  case "$1" in
    --screendump) screendump="${2:?--screendump needs a file}"; shift 2 ;;
    --keys) keys="${2?--keys needs a list}"; shift 2 ;;
    --blob) blob="${2:?--blob needs a file}"; shift 2 ;;
    --log) log="${2:?--log needs a file}"; shift 2 ;;
    --hold) hold="${2:?--hold needs milliseconds}"; shift 2 ;;
    -h | --help) usage ;;
    *) echo "error: unknown argument '$1'" >&2; usage ;;
  esac
done
[ -n "$screendump" ] || { echo "error: --screendump OUT.ppm is required" >&2; usage; }
[[ "$hold" =~ ^[0-9]+$ ]] || { echo "error: --hold takes milliseconds, got '$hold'" >&2; exit 2; }
QEMU_TIMEOUT="${QEMU_TIMEOUT:-120}"

if ! command -v qemu-system-arm >/dev/null 2>&1; then
  echo "error: qemu-system-arm not found on PATH; install it with firmware-demo/install-qemu.sh" >&2
  exit 2
fi
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx thumbv7m-none-eabi; then
  echo "error: rust target thumbv7m-none-eabi missing; run: rustup target add thumbv7m-none-eabi" >&2
  exit 2
fi
# Absolute paths: the build runs in this folder, QEMU writes the screendump from its own cwd.
abs() { (cd "$(dirname "$1")" && echo "$(pwd)/$(basename "$1")"); }
if [ -n "$blob" ]; then
  [ -f "$blob" ] || { echo "error: blob file '$blob' not found" >&2; exit 2; }
  blob="$(abs "$blob")"
fi
[ -d "$(dirname "$screendump")" ] || { echo "error: no folder for '$screendump'" >&2; exit 2; }
screendump="$(abs "$screendump")"

# The board's five buttons, as QEMU names the keys wired to them (select is ctrl).
qemu_key() {
  case "$1" in
    up | down | left | right) echo "$1" ;;
    select) echo ctrl ;;
    *) return 1 ;;
  esac
}
sends=() presses=0
IFS=',' read -r -a names <<<"$keys"
for name in "${names[@]}"; do
  [ -n "$name" ] || continue
  if qkey="$(qemu_key "$name")"; then
    presses=$((presses + 1))
  elif [ "$name" = ctrl ]; then
    # QEMU's own name for select: the sim would not know it, so neither does this script.
    echo "note: 'ctrl' is QEMU's name for the select button; say 'select'. Ignored" >&2
    continue
  elif [[ "$name" =~ ^[a-z0-9_]+$ ]]; then
    echo "note: '$name' is no gamepad button; QEMU gets it as a key, the board does not" >&2
    qkey="$name"
  else
    echo "note: '$name' is no key name; ignored" >&2
    continue
  fi
  sends+=("sendkey $qkey $hold")
done

echo "== building (thumbv7m-none-eabi${blob:+, OLED_BLOB=$blob})" >&2
elf="$(cd "$here" && OLED_BLOB="$blob" cargo build --release --target thumbv7m-none-eabi \
  --message-format=json-render-diagnostics | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)"
[ -n "$elf" ] || { echo "error: the build produced no executable" >&2; exit 1; }

work="$(mktemp -d)"
qemu_pid="" reader_pid=""
cleanup() {
  [ -z "$qemu_pid" ] || kill "$qemu_pid" 2>/dev/null || true
  [ -z "$reader_pid" ] || kill "$reader_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkfifo "$work/monitor.in" "$work/monitor.out"
# The monitor on a pair of pipes (no socket tool needed); semihosting output on stdout.
qemu-system-arm -machine lm3s6965evb -kernel "$elf" -display none -serial null \
  -semihosting-config enable=on,target=native -icount shift=6,align=off,sleep=off \
  -chardev pipe,id=monitor,path="$work/monitor" -mon chardev=monitor,mode=readline \
  </dev/null >"$work/report.log" 2>"$work/qemu.err" &
qemu_pid=$!
# Read-write opens never block on a FIFO, whichever side comes first.
exec 3<>"$work/monitor.in" 4<>"$work/monitor.out"
cat <&4 >"$work/monitor.log" &
reader_pid=$!

fail() {
  local status="$1"; shift
  echo "FAIL: $*" >&2
  echo "--- firmware report" >&2; cat "$work/report.log" >&2
  [ ! -s "$work/qemu.err" ] || { echo "--- QEMU stderr" >&2; cat "$work/qemu.err" >&2; }
  [ -z "$log" ] || cp "$work/report.log" "$log"
  exit "$status"
}
# Waits until the report has a line matching the extended regex $1.
wait_for() {
  local deadline=$((SECONDS + QEMU_TIMEOUT))
  until grep -Eq "$1" "$work/report.log"; do
    grep -q '^panic' "$work/report.log" && fail 1 "the firmware panicked"
    kill -0 "$qemu_pid" 2>/dev/null || fail 1 "QEMU exited before the firmware printed /$1/"
    [ "$SECONDS" -lt "$deadline" ] || fail 3 "no /$1/ from the firmware within ${QEMU_TIMEOUT}s"
    sleep 0.05
  done
}
# Sends a monitor command and waits for the prompt that follows it.
monitor() {
  local before deadline=$((SECONDS + QEMU_TIMEOUT))
  before="$(grep -o '(qemu)' "$work/monitor.log" | wc -l)"
  echo "$1" >&3
  until [ "$(grep -o '(qemu)' "$work/monitor.log" | wc -l)" -gt "$before" ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail 3 "no monitor prompt after '$1'"
    sleep 0.05
  done
}

wait_for '^ready keys=0 '
# The first prompt appears once the monitor is up.
deadline=$((SECONDS + QEMU_TIMEOUT))
until grep -q '(qemu)' "$work/monitor.log"; do
  [ "$SECONDS" -lt "$deadline" ] || fail 3 "QEMU monitor never prompted"
  sleep 0.05
done
for command in ${sends[@]+"${sends[@]}"}; do
  monitor "$command"
done
wait_for "^ready keys=$presses "
monitor "screendump $screendump"
echo quit >&3
deadline=$((SECONDS + QEMU_TIMEOUT))
while kill -0 "$qemu_pid" 2>/dev/null; do
  [ "$SECONDS" -lt "$deadline" ] || fail 3 "QEMU did not quit"
  sleep 0.05
done
wait "$qemu_pid" 2>/dev/null || true
qemu_pid=""

[ -z "$log" ] || cp "$work/report.log" "$log"
cat "$work/report.log"
# The controller model reports bytes it does not understand; the driver must send none.
if grep -q 'ssd0323' "$work/qemu.err"; then
  fail 1 "the OLED controller reported errors"
fi
boots="$(grep -c '^boot ' "$work/report.log" || true)"
[ "$boots" -eq 1 ] || fail 1 "the firmware started $boots times (reset?)"
size="$(wc -c <"$screendump" 2>/dev/null || echo 0)"
# "P6\n512 256\n255\n" + 512 · 256 RGB pixels.
[ "$size" -eq $((15 + 512 * 256 * 3)) ] || fail 1 "screendump '$screendump' has $size bytes"
echo "wrote $screendump" >&2
