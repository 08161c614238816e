#!/usr/bin/env bash
# Real-window test of the simulator: under Xvfb, open the window (minifb, X11) for each display kind,
# capture it with ImageMagick while it is up, and require it to equal, pixel for pixel, the
# headless `--png` rendering of the same frame (same seed, scale and theme).
#
# Usage: sim/tests/window.sh            (from anywhere; builds `sim` with default features)
#   KEEP=1 keeps the captures; WINDOW_MS sets how long each window stays up (default 5000).
# Needs: Xvfb (xvfb), /usr/bin/import + /usr/bin/compare + /usr/bin/convert (imagemagick),
#        xwininfo (x11-utils), xdotool, cargo. No -dev package: the window loads libX11 at run time.
# Without a real X server this test would prove nothing, so every missing piece is a failure.
set -euo pipefail
cd "$(dirname "$0")/../.."

fail() {
  echo "window.sh: FAIL: $*" >&2
  exit 1
}

for tool in Xvfb xwininfo xdotool /usr/bin/import /usr/bin/compare /usr/bin/convert; do
  command -v "$tool" >/dev/null || fail "$tool not found (apt-get install xvfb x11-utils xdotool imagemagick)"
done
# /usr/local/bin/convert on some machines is a stand-in: always use ImageMagick's own binaries.
IMPORT=/usr/bin/import COMPARE=/usr/bin/compare CONVERT=/usr/bin/convert

echo "== build sim (window feature)"
cargo build -p sim --bin sim
target_dir=$(cargo metadata --format-version 1 --no-deps | grep -o '"target_directory":"[^"]*"' | cut -d'"' -f4)
SIM="$target_dir/debug/sim"
[ -x "$SIM" ] || fail "built binary not found at $SIM"
# No SDL: the window loads libX11 at run time, so nothing beyond libc is linked for it.
if ldd "$SIM" | grep -i sdl; then fail "$SIM links SDL"; fi

work=$(mktemp -d)
xvfb_pid="" sim_pid=""
cleanup() {
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null || true
  [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ] || [ "${ok:-0}" != 1 ]; then
    echo "window.sh: captures kept in $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

echo "== start Xvfb"
# -displayfd: Xvfb picks a free display number and writes it once it accepts connections.
# -noreset: between two sims no client is connected, and a resetting server refuses the next one.
Xvfb -displayfd 3 -screen 0 1280x1024x24 -nolisten tcp -noreset 3>"$work/display" 2>"$work/xvfb.log" &
xvfb_pid=$!
for _ in $(seq 100); do
  [ -s "$work/display" ] && break
  kill -0 "$xvfb_pid" 2>/dev/null || fail "Xvfb exited: $(cat "$work/xvfb.log")"
  sleep 0.1
done
[ -s "$work/display" ] || fail "Xvfb did not start"
export DISPLAY=":$(head -n1 "$work/display")"
unset WAYLAND_DISPLAY
xwininfo -root >/dev/null || fail "cannot talk to Xvfb on $DISPLAY"
echo "Xvfb on $DISPLAY"

seed=4242
window_ms=${WINDOW_MS:-5000}

# Geometry (WxH+X+Y, absolute: without a window manager the window is a child of the root) of
# the sim window, once it is mapped.
window_geometry() {
  xwininfo -root -tree | grep '"sim: ' | grep -o '[0-9]\+x[0-9]\+[+-][0-9]\+[+-][0-9]\+' | head -n1 || true
}

check() {
  local name=$1
  shift
  echo "== $name: $*"
  "$SIM" --png "$work/$name-headless.png" --seed "$seed" "$@" 2>"$work/$name-headless.log" ||
    fail "$name: headless render failed: $(cat "$work/$name-headless.log")"

  "$SIM" --seed "$seed" --no-timing --exit-after-ms "$window_ms" "$@" >"$work/$name-window.log" 2>&1 &
  sim_pid=$!
  local geometry=""
  for _ in $(seq 150); do
    geometry=$(window_geometry)
    [ -n "$geometry" ] && break
    kill -0 "$sim_pid" 2>/dev/null || fail "$name: sim exited before its window appeared: $(cat "$work/$name-window.log")"
    sleep 0.1
  done
  [ -n "$geometry" ] || fail "$name: no sim window appeared on $DISPLAY"

  # The window redraws at up to 60 fps; give the first frame a moment, retry a few captures.
  local ae="" attempt
  for attempt in 1 2 3 4 5; do
    sleep 0.3
    kill -0 "$sim_pid" 2>/dev/null || fail "$name: window closed before a matching capture"
    "$IMPORT" -window root "$work/$name-root.png"
    "$CONVERT" "$work/$name-root.png" -crop "$geometry" +repage "$work/$name-window.png"
    # AE: the number of differing pixels (no fuzz); exit status 1 = different, 2 = error.
    ae=$("$COMPARE" -metric AE "$work/$name-headless.png" "$work/$name-window.png" "$work/$name-diff.png" 2>&1) || true
    [ "$ae" = 0 ] && break
  done
  [ "$ae" = 0 ] || fail "$name: window ($geometry) differs from headless PNG: AE=$ae (see $work)"

  # The window must close by itself, successfully.
  wait "$sim_pid" || fail "$name: windowed sim exited with status $?: $(cat "$work/$name-window.log")"
  sim_pid=""
  echo "$name: window $geometry == headless PNG (AE 0, attempt $attempt)"
}

check oled --display oled
check oled-threshold-x2 --display oled --shading threshold --scale 2
check tft --display tft
check gray --display gray
check ssd0323 --display ssd0323

# Keys in a live window (XTEST, as a keyboard would): after each key the window must equal the
# headless rendering of the state that key leads to. 0-9 choose the digit (each frame differs
# from the one before), right steps the seed, d switches to the next display (a new window of
# another size), the gamepad keys drive the ssd0323 screen, q quits.
echo "== keys in a live window"
"$SIM" --seed "$seed" --no-timing --exit-after-ms 40000 --display gray >"$work/keys-window.log" 2>&1 &
sim_pid=$!
geometry=""
for _ in $(seq 150); do
  geometry=$(window_geometry)
  [ -n "$geometry" ] && break
  kill -0 "$sim_pid" 2>/dev/null || fail "keys: sim exited before its window appeared: $(cat "$work/keys-window.log")"
  sleep 0.1
done
[ -n "$geometry" ] || fail "keys: no sim window appeared on $DISPLAY"

# press_and_match KEY NAME SIM-ARGS...: presses KEY, then requires the window to equal `--png`
# with SIM-ARGS.
press_and_match() {
  local key=$1 name=$2 attempt ae=""
  shift 2
  "$SIM" --png "$work/$name-headless.png" "$@" 2>/dev/null || fail "keys: headless $* failed"
  # Focus whichever sim window is up now (a key may have replaced it).
  xdotool windowfocus --sync "$(xdotool search --name '^sim: ' | head -n1)"
  xdotool key "$key"
  for attempt in 1 2 3 4 5 6 7 8; do
    sleep 0.3
    kill -0 "$sim_pid" 2>/dev/null || fail "keys: window closed after key $key: $(cat "$work/keys-window.log")"
    geometry=$(window_geometry)
    [ -n "$geometry" ] || continue
    "$IMPORT" -window root "$work/$name-root.png"
    "$CONVERT" "$work/$name-root.png" -crop "$geometry" +repage "$work/$name-window.png"
    ae=$("$COMPARE" -metric AE "$work/$name-headless.png" "$work/$name-window.png" null: 2>&1) || true
    [ "$ae" = 0 ] && break
  done
  [ "$ae" = 0 ] || fail "keys: after key $key the window ($geometry) differs from --png $*: AE=$ae (see $work)"
  echo "key $key: window $geometry == headless $* (attempt $attempt)"
}

previous=""
for key in 7 0 3 9; do
  press_and_match "$key" "class-$key" --seed "$seed" --display gray --class "$key"
  if [ -n "$previous" ]; then
    diff_ae=$("$COMPARE" -metric AE "$previous" "$work/class-$key-headless.png" null: 2>&1) || true
    [ "$diff_ae" != 0 ] || fail "keys: --class $key draws the same frame as the class before"
  fi
  previous="$work/class-$key-headless.png"
done
press_and_match Right step --seed $((seed + 1)) --display gray --class 9
press_and_match d next-display --seed $((seed + 1)) --display ssd0323 --class 9
# On the SSD0323 board's screen the arrows and ctrl are its gamepad: the window must equal the
# headless frame of the same presses (--keys); z is no button there and changes nothing.
board=(--seed $((seed + 1)) --display ssd0323 --class 9)
press_and_match Up pad-up "${board[@]}" --keys up
press_and_match Control_L pad-select "${board[@]}" --keys up,select
press_and_match Left pad-left "${board[@]}" --keys up,select,left
press_and_match z pad-unknown "${board[@]}" --keys up,select,left
press_and_match d back-to-oled --seed $((seed + 8)) --display oled
xdotool windowfocus --sync "$(xdotool search --name '^sim: ' | head -n1)"
xdotool key q
wait "$sim_pid" || fail "keys: q did not close the window cleanly: $(cat "$work/keys-window.log")"
sim_pid=""

# --clock handwrites the local time: the window equals the headless rendering of the same minute
# (started early in a minute, so the minute cannot change in between).
echo "== --clock"
while [ "$(date +%S)" -gt 45 ]; do sleep 1; done
check clock --display oled --clock

echo "== --frames closes the window by itself"
timeout 30 "$SIM" --seed "$seed" --frames 30 >"$work/frames.log" 2>&1 ||
  fail "--frames 30 run failed or hung: $(cat "$work/frames.log")"

ok=1
echo "window.sh: PASS"
