#!/usr/bin/env bash
# Installs what run-qemu.sh and bench/firmware.sh need on Debian bookworm (CI and developers):
# qemu-system-arm and qemu-system-misc (qemu-system-riscv32) from bookworm-backports, and
# binutils-arm-none-eabi for `arm-none-eabi-size`.
#
# Why backports: this image's qemu-utils (10.x, from backports) breaks the stock bookworm
# qemu-system-common 7.2, so a plain `apt-get install qemu-system-arm` fails.
#
# Idempotent: does nothing when the tools are already on PATH (pass --force to reinstall);
# rewrites the same source file and lets apt skip what is current otherwise.
# Usage: firmware-demo/install-qemu.sh [--force]     (root, or a user with sudo)
set -euo pipefail

if [ "${1:-}" != "--force" ] && command -v qemu-system-arm >/dev/null 2>&1 \
  && command -v qemu-system-riscv32 >/dev/null 2>&1 \
  && command -v arm-none-eabi-size >/dev/null 2>&1; then
  echo "already installed: $(qemu-system-arm --version | head -n 1); $(qemu-system-riscv32 --version | head -n 1); $(arm-none-eabi-size --version | head -n 1)"
  exit 0
fi

. /etc/os-release
if [ "${VERSION_CODENAME:-}" != bookworm ]; then
  echo "error: this script targets Debian bookworm (found '${PRETTY_NAME:-unknown}');" \
    "install qemu-system-arm, qemu-system-misc and binutils-arm-none-eabi with your package manager" >&2
  exit 2
fi

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)

src=/etc/apt/sources.list.d/debian.sources
dst=/etc/apt/sources.list.d/bookworm-backports.sources
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
if [ -f "$src" ]; then
  # A copy of the main archive's stanza(s) (same mirror, keyring, snapshot comments) with the
  # suite set to bookworm-backports; the security archive has no backports suite, so its stanza
  # is dropped.
  awk 'BEGIN { RS = ""; ORS = "\n\n" }
       /URIs:[^\n]*debian-security/ { next }
       { gsub(/Suites:[^\n]*/, "Suites: bookworm-backports"); print }' "$src" >"$tmp"
else
  # Older images list sources in one-line format only.
  echo "Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" >"$tmp"
fi
grep -q 'Suites: bookworm-backports' "$tmp" || { echo "error: no Debian archive stanza in $src" >&2; exit 1; }
"${sudo[@]}" install -m 0644 "$tmp" "$dst"

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends -t bookworm-backports qemu-system-arm qemu-system-misc
"${sudo[@]}" apt-get install -y -qq --no-install-recommends binutils-arm-none-eabi

qemu-system-arm --version | head -n 1
qemu-system-riscv32 --version | head -n 1
arm-none-eabi-size --version | head -n 1
