#!/usr/bin/env bash
# Builds the Pico example (CI runs this). Needs `rustup target add thumbv6m-none-eabi`.
# The ELF lands in ${CARGO_TARGET_DIR:-target}/thumbv6m-none-eabi/release/ssd1306-rp2040;
# flash it with `probe-rs run --chip RP2040 <elf>` or convert it with `elf2uf2-rs` for the
# USB bootloader (neither is needed to build).
set -euo pipefail
cd "$(dirname "$0")"
cargo build --release --target thumbv6m-none-eabi "$@"
